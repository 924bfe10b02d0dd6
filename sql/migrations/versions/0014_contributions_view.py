"""Engagement contributions read from the engine state: scoring.contributions becomes a view over the
stored fit contributions and the faded, capped rule state, so a night writes only what changed.

Revision ID: 0014
Revises: 0010
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
