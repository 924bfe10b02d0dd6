"""Segments: the raw landing table for marketing-tool segment memberships, core.segment_memberships
(who is in which segment now, and since when), and the `points_changed` event type.

Revision ID: 0005
Revises: 0001
"""

from smarketing.warehouse.migrate import run_sql_file

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(__file__)
