"""Alembic environment: one transaction per upgrade, serialised by an advisory lock.

The lock makes `smarketing db upgrade` safe to run from several processes at once (scheduler,
workers, tests): the second one waits, then finds nothing left to apply.
"""

from alembic import context
from sqlalchemy import create_engine, text

from smarketing.warehouse.migrate import MIGRATION_LOCK_KEY, sqlalchemy_url

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""


def run_migrations_online() -> None:
    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            connection.execute(text("CREATE SCHEMA IF NOT EXISTS ops"))
            connection.commit()
            context.configure(
                connection=connection,
                version_table="alembic_version",
                version_table_schema="ops",
                transaction_per_migration=False,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
    engine.dispose()


run_migrations_online()
