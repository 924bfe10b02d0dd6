"""Versioned schema migrations (Alembic), with the DDL itself kept as plain SQL files.

Each revision in `sql/migrations/versions/NNNN_name.py` runs the `.sql` file of the same name.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from smarketing.paths import MIGRATIONS_DIR
from smarketing.tasklog import quiet_third_party, summary
from smarketing.warehouse.connection import ensure_database, warehouse_dsn

# Arbitrary constant shared by every process that migrates this warehouse.
MIGRATION_LOCK_KEY = 4_242_001


def sqlalchemy_url(dsn: str) -> str:
    scheme, _, rest = dsn.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in {"postgresql", "postgres"} else dsn


def run_sql_file(revision_file: str) -> None:
    """Execute the SQL file that sits next to an Alembic revision file."""
    from alembic import op

    op.execute(Path(revision_file).with_suffix(".sql").read_text(encoding="utf-8"))


def _config(dsn: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in passwords.
    cfg.set_main_option("sqlalchemy.url", dsn.replace("%", "%%"))
    return cfg


def upgrade(dsn: str | None = None, revision: str = "heads") -> None:
    """Create the database if missing and apply the migrations up to `revision` (default: every head);
    the task log's summary line says which were applied."""
    dsn = dsn or warehouse_dsn()
    ensure_database(dsn)
    quiet_third_party()  # Alembic logs two INFO lines per connection and one per revision
    before = current_revision(dsn)
    command.upgrade(_config(dsn), revision)
    after = current_revision(dsn)
    news = "up to date" if after == before else f"migrated from {before or 'an empty database'}"
    summary(f"warehouse schema at revision {after}: {news}")


def current_revision(dsn: str | None = None) -> str:
    """Applied revisions, comma-separated (feature migrations branch from the foundation: several heads)."""
    dsn = dsn or warehouse_dsn()
    engine = create_engine(sqlalchemy_url(dsn))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"version_table_schema": "ops"})
            return ",".join(sorted(context.get_current_heads()))
    finally:
        engine.dispose()


def head_revision() -> str:
    """What `current_revision` reads once every migration is applied. A revision another one `depends_on`
    leaves the version table when that one is applied, although the script directory still counts it a head."""
    script = ScriptDirectory.from_config(_config("postgresql://unused/"))
    depended_on = {
        dependency
        for revision in script.walk_revisions()
        for dependency in (
            (revision.dependencies,)
            if isinstance(revision.dependencies, str)
            else revision.dependencies or ()
        )
    }
    return ",".join(sorted(set(script.get_heads()) - depended_on))
