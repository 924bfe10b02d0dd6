"""KPI refresh: each deal's attribution credits kept (ops.kpi_deal_credits), so an incremental build credits
again only the deals whose touches, milestones or amount changed and sums the months it rewrites from the
kept credits instead of crediting every deal of those months again.

Revision ID: 0021
Revises: 0019
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
