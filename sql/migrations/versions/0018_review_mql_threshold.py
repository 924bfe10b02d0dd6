"""The monthly review's proposal carries its MQL threshold: scoring.model_reviews.proposal holds the
proposal document (`scoring:` and `vocabulary.mql`), so an approved patch sets the threshold the new points
were matched on. Proposals stored before keep their section under `scoring` and propose no threshold.

Revision ID: 0018
Revises: 0014
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0018"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
