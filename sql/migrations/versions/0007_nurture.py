"""Nurturing: the enrollment ledger (nurture.enrollments), every API call it made (nurture.calls), runs, and
the control-group outcome comparison (nurture.scenario_outcomes).

Revision ID: 0007
Revises: 0001
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0007"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
