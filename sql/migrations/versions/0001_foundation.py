"""Foundation: schemas, raw landing tables, core model, ops tables, kpi_reader role.

Revision ID: 0001
Revises:
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
