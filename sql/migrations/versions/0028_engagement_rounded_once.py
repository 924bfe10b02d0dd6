"""Engagement rounded once: a lead's engagement is the sum of its rules' capped values rounded to cents
once (it was the sum of each rule's value rounded to cents), and the engagement rows of
scoring.contributions apportion the cents (largest remainder) so they still add up to it exactly.

Revision ID: 0028
Revises: 0029
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0028"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
