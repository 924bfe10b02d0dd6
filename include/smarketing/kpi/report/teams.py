"""The two sides of the agreement: sales' SLA compliance by team (kpi.sla_compliance_monthly) and
marketing's MQL delivery against target (kpi.marketing_delivery_monthly)."""

from __future__ import annotations

import psycopg

from smarketing.kpi.report import charts
from smarketing.kpi.report.model import Column, Months, Section, Table, query, records
from smarketing.kpi.report.observe import month_name, moved, sentences, smallest

ALL_TEAMS = "all teams"
_ON_TIME = "round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 4)"
SLA_BY_TEAM = f"""
    SELECT team, sum(handed_over) AS handed_over, sum(due) AS due, sum(touched_on_time) AS touched_on_time,
           sum(touched_late) AS touched_late, sum(untouched_past_due) AS untouched_past_due,
           {_ON_TIME} AS on_time_share, sum(first_touch_breaches) AS first_touch_breaches,
           sum(accept_breaches) AS accept_breaches, sum(escalations) AS escalations,
           round(sum(decided_on_time)::numeric / NULLIF(sum(accept_due), 0), 4) AS decided_on_time_share
    FROM kpi.sla_compliance_monthly WHERE month = %(month)s GROUP BY team ORDER BY team"""
# Each team's on-time share by month, and every team together.
SLA_TREND = f"""
    SELECT month, COALESCE(team, '{ALL_TEAMS}') AS team, sum(due) AS due, {_ON_TIME} AS on_time_share
    FROM kpi.sla_compliance_monthly WHERE month >= %(trend_start)s AND month <= %(month)s
    GROUP BY GROUPING SETS ((month, team), (month)) ORDER BY month, team IS NULL, team"""

SLA_COLUMNS = (
    Column("team", "Team", "text"),
    Column("handed_over", "Handed over"),
    Column("due", "Due"),
    Column("touched_on_time", "On time"),
    Column("touched_late", "Late"),
    Column("untouched_past_due", "Untouched past due"),
    Column("on_time_share", "On-time share", "share"),
    Column("first_touch_breaches", "First-touch breaches"),
    Column("accept_breaches", "Accept breaches"),
    Column("escalations", "Escalations"),
    Column("decided_on_time_share", "Accept/reject on time", "share"),
)
SLA_TREND_COLUMNS = (
    Column("month", "Month", "month"),
    Column("team", "Team", "text"),
    Column("due", "Due"),
    Column("on_time_share", "On-time share", "share"),
)


def sla_section(conn: psycopg.Connection, months: Months) -> Section:
    """Sales' follow-up of the MQLs handed over in the month, by team, and the on-time trend."""
    rows = records(query(conn, SLA_BY_TEAM, months.params()))
    trend = records(query(conn, SLA_TREND, months.params())) if rows else []
    section = Section(
        id="sla",
        title="SLA compliance by team",
        about="MQLs handed over in the month: first touched within the agreed business-hours deadline or not; "
        "breaches, escalations, and the accept/reject promise.",
        tables=[
            Table("sla-by-team", "kpi.sla_compliance_monthly", SLA_COLUMNS, rows),
            Table(
                "sla-trend", "kpi.sla_compliance_monthly", SLA_TREND_COLUMNS, trend, "On-time share by month"
            ),
        ],
        empty_note="No MQL was handed over in the month (kpi.sla_compliance_monthly).",
    )
    if not rows:
        return section
    section.charts.append(
        charts.trend(
            "sla",
            trend,
            x="month",
            series="team",
            value="on_time_share",
            title="First touch on time, by team",
            unit="share",
        )
    )
    shares = {(row["month"], row["team"]): row["on_time_share"] for row in trend}
    section.observations = _sla_observations(rows, shares, months)
    return section


def _sla_observations(rows: list[dict], shares: dict, months: Months) -> list[str]:
    lowest = smallest(rows, "on_time_share")
    breaches = sum(row["first_touch_breaches"] + row["accept_breaches"] for row in rows)
    escalations = sum(row["escalations"] for row in rows)
    return sentences(
        moved(
            "First touch on time (all teams)",
            shares.get((months.month, ALL_TEAMS)),
            shares.get((months.previous, ALL_TEAMS)),
            "share",
        ),
        f"Lowest on-time share: {lowest['team']} ({lowest['on_time_share']:.1%} of {lowest['due']:,} due)."
        if lowest and len(rows) > 1
        else None,
        f"{breaches:,} breach(es), {escalations:,} escalated to a manager.",
    )


DELIVERY = """
    SELECT segment, target, delivered, accepted, attainment, acceptance_rate, status
    FROM kpi.marketing_delivery_monthly WHERE month = %(month)s ORDER BY segment <> 'all', segment"""
DELIVERY_TREND = """
    SELECT month, target, delivered, attainment FROM kpi.marketing_delivery_monthly
    WHERE segment = 'all' AND month >= %(trend_start)s AND month <= %(month)s ORDER BY month"""
DELIVERY_COLUMNS = (
    Column("segment", "Segment", "text"),
    Column("target", "Target"),
    Column("delivered", "Delivered"),
    Column("accepted", "Accepted by sales"),
    Column("attainment", "Attainment", "share"),
    Column("acceptance_rate", "Acceptance", "share"),
    Column("status", "Status", "text"),
)
DELIVERY_TREND_COLUMNS = (
    Column("month", "Month", "month"),
    Column("target", "Target"),
    Column("delivered", "Delivered"),
    Column("attainment", "Attainment", "share"),
)


def delivery_section(conn: psycopg.Connection, months: Months) -> Section:
    """Marketing's side: MQLs delivered against the agreed monthly target, by segment, and the trend."""
    rows = records(query(conn, DELIVERY, months.params()))
    trend = records(query(conn, DELIVERY_TREND, months.params())) if rows else []
    section = Section(
        id="delivery",
        title="Marketing delivery against target",
        about="MQLs handed over in the month against the agreement's target (sla.marketing.mql_target), "
        "and how many of them sales accepted.",
        tables=[
            Table("delivery-by-segment", "kpi.marketing_delivery_monthly", DELIVERY_COLUMNS, rows),
            Table(
                "delivery-trend",
                "kpi.marketing_delivery_monthly",
                DELIVERY_TREND_COLUMNS,
                trend,
                "All segments",
            ),
        ],
        empty_note="No delivery measured for the month (kpi.marketing_delivery_monthly).",
    )
    if not rows:
        return section
    section.charts.append(
        charts.bars(
            "delivery",
            [f"{row['month']:%b %Y}" for row in trend],
            {"Target": [row["target"] for row in trend], "Delivered": [row["delivered"] for row in trend]},
            title="MQLs delivered against target (all segments)",
        )
    )
    section.observations = _delivery_observations(rows, months)
    return section


def _delivery_observations(rows: list[dict], months: Months) -> list[str]:
    total = rows[0] if rows[0]["segment"] == "all" else None
    weakest = smallest(rows[1:] if total else rows, "attainment")
    return sentences(
        f"Marketing delivered {total['delivered']:,} MQLs against a target of {total['target']:,} "
        f"({total['attainment']:.1%}) in {month_name(months.month)}: {total['status'].replace('_', ' ')}."
        if total
        else None,
        f"Sales accepted {total['acceptance_rate']:.1%} of them."
        if total and total["acceptance_rate"] is not None
        else None,
        f"Weakest segment: {weakest['segment']} ({weakest['attainment']:.1%} of its target)."
        if weakest
        else None,
    )
