"""Incremental nurturing plans: the plan's watermark (nurture.plan_state), the leads whose planning inputs
changed since (nurture.lead_changes, fed by statement triggers) and each lead's planning memory
(nurture.lead_state).

Revision ID: 0013
Revises: 0007
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0013"
down_revision = "0007"
branch_labels = None
# The triggers sit on tables of the SLA (0002), scoring (0003) and archive (0006) revisions.
depends_on = ("0002", "0003", "0006")


def upgrade() -> None:
    run_sql_file(__file__)
