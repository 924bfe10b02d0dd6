"""Scores in closed form: scoring.lead_scores becomes a view over stored rows (scoring.score_rows) and the
warehouse's reference time (scoring.score_clock). Between two changes of its inputs a lead's engagement is
max(floor, C + A x fading), so a night rewrites only the rows whose inputs changed or whose closed form no
longer gives their exact score, instead of every engaged lead's row.

Revision ID: 0035
Revises: 0032
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0035"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
