"""Alembic environment of the PostgreSQL results store: runs on the connection store_sql.upgrade() passes in."""
from alembic import context

from pockettorch.device.farm.store_sql import meta

context.configure(connection=context.config.attributes["connection"], target_metadata=meta)
with context.begin_transaction():
    context.run_migrations()
