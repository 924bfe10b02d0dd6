"""Monthly review of the scoring: scoring.model_reviews (each month's recalibrated proposal, its backtest
and the teams' decision) and ops.review_mailings (the review report mailed once per month and address).

Revision ID: 0010
Revises: 0003
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
