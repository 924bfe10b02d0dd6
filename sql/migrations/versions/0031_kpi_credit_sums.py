"""KPI refresh: attribution's kept credits summed per month, side, model, channel and campaign
(ops.kpi_credit_sums), with a count of the credits in each sum, kept up to date by difference as deals are
credited again, so a rewrite of attribution_monthly reads its months' sums instead of every kept deal of them.

Revision ID: 0031
Revises: 0028
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0031"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
