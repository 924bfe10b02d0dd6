"""KPI refresh: an index on core.leads (created_at), so an incremental build finds the leads created since
the first period it rewrites by the index instead of reading every lead.

Revision ID: 0019
Revises: 0015
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0019"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
