"""Scores read through a view: scoring.lead_scores and scoring.profile_scores are computed when read from
what a score is computed from (stored fit points per profile, the engine state, the model's thresholds)
at the time each lead-id range was last scored, so a night writes score rows only for leads whose inputs
changed other than by fading.

Revision ID: 0020
Revises: 0016
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0020"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
