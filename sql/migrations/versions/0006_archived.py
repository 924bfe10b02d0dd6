"""Deleted and merged source records: archive times on source records, deletion times on leads,
companies and deals, and the merge aliases of CRM contacts.

Revision ID: 0006
Revises: 0001
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
