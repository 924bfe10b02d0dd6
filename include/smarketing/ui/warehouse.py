"""What the Smarketing page reads from the warehouse: latest KPIs, goals, the SLA board, the scoring model.

Every query is set-based and small (the page is read by people, a handful of rows per block); all of
them run in one read-only REPEATABLE READ transaction, so a KPI build committing meanwhile never shows
half its tables. Only ids reach the page: lead ids and owner ids, never a name or an e-mail address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

Row = dict[str, Any]

# The latest month to date, and the same days of the month before (a month in progress is compared
# with as much of the previous one, not with all of it): from kpi.funnel_daily.
FUNNEL = """
    WITH last AS (SELECT max(day) AS d FROM kpi.funnel_daily),
    periods AS (
        SELECT 'current' AS period, date_trunc('month', d)::date AS start, d AS stop FROM last
        UNION ALL
        SELECT 'previous', (date_trunc('month', d) - interval '1 month')::date,
               least((d - interval '1 month')::date, (date_trunc('month', d) - interval '1 day')::date) FROM last)
    SELECT p.period, p.start, p.stop, sum(f.new_leads) AS new_leads, sum(f.mqls) AS mqls, sum(f.sqls) AS sqls,
           sum(f.opportunities) AS opportunities, sum(f.won_deals) AS won_deals,
           sum(f.won_revenue) AS won_revenue, sum(f.pipeline_created) AS pipeline_created
    FROM periods p LEFT JOIN kpi.funnel_daily f ON f.day BETWEEN p.start AND p.stop
    WHERE p.start IS NOT NULL
    GROUP BY p.period, p.start, p.stop ORDER BY p.start DESC"""

SLA_MONTH = """
    SELECT month, sum(handed_over) AS handed_over, sum(due) AS due, sum(touched_on_time) AS touched_on_time,
           round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 4) AS on_time_share,
           sum(first_touch_breaches) AS first_touch_breaches, sum(accept_breaches) AS accept_breaches
    FROM kpi.sla_compliance_monthly WHERE month = (SELECT max(month) FROM kpi.sla_compliance_monthly)
    GROUP BY month"""

DELIVERY = """
    SELECT month, target, delivered, attainment, expected_to_date, status
    FROM kpi.marketing_delivery_monthly WHERE segment = 'all' ORDER BY month DESC LIMIT 1"""

# The latest day of each goal: where it stands now.
GOALS = """
    SELECT DISTINCT ON (goal_id) goal_id, day, metric, segment, target, period_start, period_end,
           business_days_elapsed, business_days_total, actual_to_date, expected_to_date, projected, on_track
    FROM kpi.goals_progress ORDER BY goal_id, day DESC"""

# Open breaches by owner (unassigned leads under "(unassigned)"); the team from core.owners, no name.
SLA_BOARD = """
    SELECT coalesce(b.owner_id, '(unassigned)') AS owner_id, max(o.team) AS team,
           count(*) AS open_breaches,
           count(*) FILTER (WHERE b.kind = 'first_touch') AS first_touch,
           count(*) FILTER (WHERE b.kind = 'accept') AS accept,
           count(*) FILTER (WHERE b.escalated_at IS NOT NULL) AS escalated,
           min(b.due_at) AS oldest_due_at,
           round(extract(epoch FROM now() - min(b.due_at))::numeric / 86400, 1) AS oldest_days_overdue
    FROM sla.breaches b LEFT JOIN core.owners o ON o.owner_id = b.owner_id
    WHERE b.resolved_at IS NULL
    GROUP BY coalesce(b.owner_id, '(unassigned)')
    ORDER BY open_breaches DESC, oldest_due_at"""

OVERDUE = """
    SELECT lead_id, coalesce(owner_id, '(unassigned)') AS owner_id, kind, due_at,
           round(extract(epoch FROM now() - due_at)::numeric / 86400, 1) AS days_overdue,
           escalated_at IS NOT NULL AS escalated
    FROM sla.breaches WHERE resolved_at IS NULL ORDER BY due_at, lead_id LIMIT %(limit)s"""

MODEL = """
    SELECT r.run_id, r.model_version, r.config_hash, r.mode, r.as_of, r.finished_at, m.activated_at,
           (SELECT count(*) FROM scoring.rules u
             WHERE u.config_hash = r.config_hash AND u.kind = 'fit') AS fit_rules,
           (SELECT count(*) FROM scoring.rules u
             WHERE u.config_hash = r.config_hash AND u.kind = 'engagement') AS engagement_rules,
           (SELECT count(*) FROM scoring.lead_scores) AS leads_scored
    FROM scoring.runs r
    JOIN scoring.models m USING (model_version, config_hash)
    WHERE r.finished_at IS NOT NULL ORDER BY r.finished_at DESC LIMIT 1"""

DATA_QUALITY = """
    SELECT max(day) AS last_day, sum(batches) AS batches, sum(batches_rejected) AS batches_rejected,
           sum(rows_checked) AS rows_checked, sum(rows_quarantined) AS rows_quarantined
    FROM kpi.data_quality_daily WHERE day > (SELECT max(day) FROM kpi.data_quality_daily) - 7"""

KPI_BUILT = "SELECT max(as_of) AS as_of, max(built_at) AS built_at FROM ops.kpi_state"

# The last monthly scoring proposals and their decisions; the thresholds are those each model's MQLs were
# backtested at (none on a proposal stored before proposals carried one).
REVIEWS = """
    SELECT to_char(month, 'YYYY-MM') AS month, dag_run_id, proposed_version, active_version, decision,
           decided_by, decided_at, timed_out, patch_path,
           (backtest -> 'mql_min_score' ->> 'active')::numeric AS active_min_score,
           (proposal -> 'vocabulary' -> 'mql' ->> 'min_score')::numeric AS proposed_min_score
    FROM scoring.model_reviews ORDER BY month DESC LIMIT %(limit)s"""


@dataclass(frozen=True)
class Snapshot:
    """Everything the page shows from the warehouse, read in one transaction.

    `funnel`: the latest month to date (kpi.funnel_daily) and the same days of the month before; `sla_month` and
    `delivery`: the latest month of the sales and marketing sides; `goals`: each goal's latest day;
    `board`: open breaches by owner; `overdue`: the longest-overdue open breaches (lead ids);
    `model`: the last finished scoring run and its model; `quality`: the last 7 days of data quality;
    `kpi_built`: when the KPI tables were last built; `reviews`: the last monthly scoring proposals, newest
    first, with their MQL thresholds and decisions. A block without data is empty or None.
    """

    funnel: list[Row] = field(default_factory=list)
    sla_month: Row | None = None
    delivery: Row | None = None
    goals: list[Row] = field(default_factory=list)
    board: list[Row] = field(default_factory=list)
    overdue: list[Row] = field(default_factory=list)
    model: Row | None = None
    quality: Row | None = None
    kpi_built: Row | None = None
    reviews: list[Row] = field(default_factory=list)

    @property
    def open_breaches(self) -> int:
        return sum(int(row["open_breaches"]) for row in self.board)


def read_snapshot(dsn: str, overdue_limit: int = 10, review_limit: int = 6) -> Snapshot:
    """Read the page's warehouse blocks from the warehouse at `dsn`.

    Args:
        dsn: libpq URI of the warehouse.
        overdue_limit: how many of the longest-overdue open breaches to list.
        review_limit: how many monthly scoring proposals to list.

    Returns:
        A `Snapshot`; tables a fresh warehouse lacks rows in give empty blocks, not errors.
    """
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            one = _one_reader(conn)
            return Snapshot(
                funnel=conn.execute(FUNNEL).fetchall(),
                sla_month=one(SLA_MONTH),
                delivery=one(DELIVERY),
                goals=conn.execute(GOALS).fetchall(),
                board=conn.execute(SLA_BOARD).fetchall(),
                overdue=conn.execute(OVERDUE, {"limit": overdue_limit}).fetchall(),
                model=one(MODEL),
                quality=one(DATA_QUALITY),
                kpi_built=one(KPI_BUILT),
                reviews=conn.execute(REVIEWS, {"limit": review_limit}).fetchall(),
            )


def _one_reader(conn: psycopg.Connection):
    def one(query: str) -> Row | None:
        row = conn.execute(query).fetchone()
        # An aggregate over no rows still answers one row of NULLs: that is "no data" too.
        return row if row and any(value is not None for value in row.values()) else None

    return one


def change(current: Any, previous: Any) -> float | None:
    """Relative change from `previous` to `current` (0.12 = +12 %); None when it is undefined."""
    if current is None or previous in (None, 0, Decimal(0)):
        return None
    return float(current) / float(previous) - 1.0


def as_date(value: date | datetime | None) -> str:
    """A date for people: `2026-11-30`; "-" for none."""
    return "-" if value is None else f"{value:%Y-%m-%d}"
