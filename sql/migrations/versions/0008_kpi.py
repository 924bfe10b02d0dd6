"""KPI tables for the monthly review (funnel, cohorts, velocity, attribution, SLA, delivery, engagement,
score quality, nurturing, data quality, SMART goals), their build watermarks, and kpi_reader's grants.

Revision ID: 0008
Revises: 0001
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
