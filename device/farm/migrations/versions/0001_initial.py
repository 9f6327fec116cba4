"""The store's tables as of SQLite schema 2 (runs, jobs, samples, leases) and the distributed farm's
(artifacts, dispatch, workers).

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("runs", sa.Column("id", sa.Text, primary_key=True), sa.Column("created", sa.Float, nullable=False),
                    sa.Column("finished", sa.Float), sa.Column("status", sa.Text, nullable=False),
                    sa.Column("config", sa.Text, nullable=False))
    op.create_table("jobs",
                    sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id"), primary_key=True),
                    sa.Column("key", sa.Text, primary_key=True), sa.Column("seq", sa.Integer, nullable=False),
                    sa.Column("model", sa.Text, nullable=False), sa.Column("device", sa.Text, nullable=False),
                    sa.Column("config", sa.Text, nullable=False), sa.Column("status", sa.Text, nullable=False),
                    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
                    sa.Column("result", sa.Text), sa.Column("error", sa.Text), sa.Column("trace", sa.Text),
                    sa.Column("extra", sa.Text), sa.Column("median_ms", sa.Float), sa.Column("p90_ms", sa.Float),
                    sa.Column("peak_rss_kb", sa.Float), sa.Column("energy_mj", sa.Float),
                    sa.Column("model_bytes", sa.BigInteger), sa.Column("updated", sa.Float, nullable=False),
                    sa.CheckConstraint("status IN ('passed', 'failed', 'lost', 'not_run')", name="jobs_status"))
    op.create_table("samples", sa.Column("run_id", sa.Text, primary_key=True), sa.Column("key", sa.Text, primary_key=True),
                    sa.Column("i", sa.Integer, primary_key=True), sa.Column("ms", sa.Float, nullable=False))
    op.create_table("leases", sa.Column("run_id", sa.Text, primary_key=True), sa.Column("owner", sa.Text, nullable=False),
                    sa.Column("expires", sa.Float, nullable=False))
    op.create_table("artifacts", sa.Column("sha256", sa.Text, primary_key=True),
                    sa.Column("data", sa.LargeBinary, nullable=False))
    op.create_table("dispatch", sa.Column("run_id", sa.Text, primary_key=True), sa.Column("key", sa.Text, primary_key=True),
                    sa.Column("queue", sa.Text, nullable=False), sa.Column("artifact", sa.Text),
                    sa.Column("policy", sa.Text, nullable=False), sa.Column("state", sa.Text, nullable=False),
                    sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
                    sa.Column("worker", sa.Text), sa.Column("token", sa.Text),
                    sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
                    sa.Column("updated", sa.Float, nullable=False))
    op.create_index("dispatch_state", "dispatch", ["state", "queue"])
    op.create_table("workers", sa.Column("name", sa.Text, primary_key=True),
                    sa.Column("heartbeat", sa.Float, nullable=False), sa.Column("devices", sa.Text, nullable=False))


def downgrade() -> None:
    for table in ("workers", "dispatch", "artifacts", "leases", "samples", "jobs", "runs"):
        op.drop_table(table)
