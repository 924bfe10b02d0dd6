"""KPI refresh: each kept staged lead (ops.kpi_lead_stages) also holds its last MQL crossing and the last
opening or close of its deals, so the staging window of an incremental build is found from the kept rows
alone instead of a scan of every crossing and deal on each build.

Revision ID: 0029
Revises: 0027
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0029"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
