"""Each queued job carries its run's priority (`farm submit --priority`), so a job the reaper sends again keeps it.

Revision ID: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("dispatch", sa.Column("priority", sa.SmallInteger, nullable=False, server_default="5"))


def downgrade() -> None:
    op.drop_column("dispatch", "priority")
