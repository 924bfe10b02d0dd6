"""Scoring: models, current scores, contributions, history, MQL crossings, account rollup, engine state,
change log of late events (triggers on core.marketing_events), CRM write-back ledger.

Revision ID: 0003
Revises: 0001
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
