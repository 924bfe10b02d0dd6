"""KPI months at a clock change: ops.kpi_day_start, the first instant of a local day, so the months of
kpi.engagement_monthly begin where the local date does also where the clock goes back after midnight.

Revision ID: 0024
Revises: 0008
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0024"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
