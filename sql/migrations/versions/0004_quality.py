"""Data quality: validation runs and expectation results, quarantined raw records, batch verdicts, the
views the core build uses to skip held records, and the scratch schema Great Expectations validates.

Revision ID: 0004
Revises: 0001
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
