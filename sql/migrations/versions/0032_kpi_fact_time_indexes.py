"""KPI refresh: the change finding's scans by time through indexes. An incremental build looks for the
SLA clocks written since its watermark (sla.followups.updated_at) and for the stage entries and deals dated
between the last build's moment and its own (core.lifecycle_history.entered_at; core.deals.created_at,
closed_at, deleted_at): a day's worth of rows, found by a sequential scan of each table on every build.

Revision ID: 0032
Revises: 0031
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
