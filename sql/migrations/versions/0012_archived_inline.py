"""Archived-at inlined: the core build tests the archive flag of every record version inline and calls
the landing-time lookup only for archived versions.

Revision ID: 0012
Revises: 0006
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0012"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
