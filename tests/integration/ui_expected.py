"""What the Smarketing page must show, read here from the warehouse independently of `smarketing.ui`."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

CARDS = ("new_leads", "mqls", "sqls", "won_deals", "won_revenue", "pipeline_created")


def rows(dsn: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(query).fetchall()


def month_to_date(dsn: str) -> dict[str, Any]:
    """The latest month of kpi.funnel_daily summed (the headline cards), with its first and last day."""
    (found,) = rows(
        dsn,
        """SELECT min(day) AS first, max(day) AS last, sum(new_leads) AS new_leads, sum(mqls) AS mqls,
                  sum(sqls) AS sqls, sum(won_deals) AS won_deals, sum(won_revenue) AS won_revenue,
                  sum(pipeline_created) AS pipeline_created
           FROM kpi.funnel_daily
           WHERE date_trunc('month', day) = (SELECT date_trunc('month', max(day)) FROM kpi.funnel_daily)""",
    )
    return found


def latest_goals(dsn: str) -> list[dict[str, Any]]:
    """Each goal's latest day in kpi.goals_progress, by goal id."""
    return rows(dsn, "SELECT DISTINCT ON (goal_id) * FROM kpi.goals_progress ORDER BY goal_id, day DESC")


def open_breaches_by_owner(dsn: str) -> list[dict[str, Any]]:
    """Open breaches per owner ("(unassigned)" for none), most first, then the oldest due first."""
    return rows(
        dsn,
        """SELECT coalesce(owner_id, '(unassigned)') AS owner_id, count(*) AS n FROM sla.breaches
           WHERE resolved_at IS NULL GROUP BY 1 ORDER BY n DESC, min(due_at)""",
    )
