"""Privacy: the erasure audit (which is also the suppression list) and the erased source records.

Revision ID: 0011
Revises: 0009
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
