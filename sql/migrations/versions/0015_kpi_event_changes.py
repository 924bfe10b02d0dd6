"""KPI engagement by difference: a log of the changes to marketing events (statement triggers), so a
refresh adds the day's events to their months instead of recounting the months.

Revision ID: 0015
Revises: 0009
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0015"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
