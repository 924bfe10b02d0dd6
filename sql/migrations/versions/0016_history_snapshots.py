"""Score history as dated snapshots of the scoring inputs: a row only when a lead's score moved other than
by fading, holding what the score at any later time is computed from.

Revision ID: 0016
Revises: 0014
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
