"""KPI refresh: each live lead's staged row kept (ops.kpi_lead_stages), so an incremental build stages
again only the leads that moved since (their record, stages, deals or crossings changed, or a fact of
theirs passed between the two builds' moments) and copies the others it needs from here.

Revision ID: 0027
Revises: 0021
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0027"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
