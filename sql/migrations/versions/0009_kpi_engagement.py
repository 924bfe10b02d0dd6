"""KPI engagement: drop engaged_leads (distinct leads per campaign and topic cost more than every other
engagement figure together: a hash of every lead of every month).

Revision ID: 0009
Revises: 0008
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
