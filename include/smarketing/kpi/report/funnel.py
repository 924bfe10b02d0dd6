"""Headline numbers (the month against the one before) and the funnel by channel (kpi.funnel_monthly)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from smarketing.kpi.report import charts
from smarketing.kpi.report.model import Column, Months, Section, Table, query, records
from smarketing.kpi.report.observe import largest, month_name, moved, sentences

STEPS = (
    ("new_leads", "New leads"),
    ("mqls", "MQLs"),
    ("sqls", "SQLs"),
    ("opportunities", "Opportunities"),
    ("won_deals", "Won deals"),
    ("won_revenue", "Won revenue"),
    ("pipeline_created", "Pipeline created"),
)
_SUMS = ", ".join(f"sum({key}) AS {key}" for key, _ in STEPS)

FUNNEL_TOTALS = f"""
    SELECT month, {_SUMS} FROM kpi.funnel_monthly
    WHERE month IN (%(previous)s, %(month)s) GROUP BY month"""

# Shares of the month and the one before, each from its own table (a share is a ratio of sums).
RATES = """
    WITH months(month) AS (VALUES (%(previous)s::date), (%(month)s::date)),
    cohort AS (
        SELECT cohort_month AS month,
               round(sum(sqls)::numeric / NULLIF(sum(mqls), 0), 4) AS mql_to_sql,
               round(sum(won)::numeric / NULLIF(sum(mqls), 0), 4) AS mql_to_won
        FROM kpi.conversion_cohorts WHERE cohort_kind = 'mql_month' GROUP BY cohort_month),
    sla AS (
        SELECT month, round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 4) AS on_time
        FROM kpi.sla_compliance_monthly GROUP BY month),
    delivery AS (SELECT month, attainment FROM kpi.marketing_delivery_monthly WHERE segment = 'all')
    SELECT m.month, c.mql_to_sql, c.mql_to_won, s.on_time, d.attainment
    FROM months m LEFT JOIN cohort c USING (month) LEFT JOIN sla s USING (month)
    LEFT JOIN delivery d USING (month)"""
RATE_ROWS = (
    ("mql_to_sql", "MQL→SQL (the month's MQL cohort)"),
    ("mql_to_won", "MQL→won (the month's MQL cohort)"),
    ("on_time", "First touch on time (SLA)"),
    ("attainment", "MQLs delivered / target"),
)

BY_CHANNEL = f"""
    SELECT channel, {_SUMS} FROM kpi.funnel_monthly WHERE month = %(month)s
    GROUP BY channel ORDER BY sum(new_leads) DESC, sum(mqls) DESC, channel"""


def _by_month(frame: Any, months: Months) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = {row["month"]: row for row in records(frame)}
    return rows.get(months.month, {}), rows.get(months.previous, {})


def headline_section(conn: psycopg.Connection, months: Months) -> Section:
    """The month's funnel totals and key shares, each with the month before and the change."""
    now, before = _by_month(query(conn, FUNNEL_TOTALS, months.params()), months)
    counts = [_count_row(key, label, now, before) for key, label in STEPS] if now else []
    rates_now, rates_before = _by_month(query(conn, RATES, months.params()), months)
    rates = [
        {"metric": label, "month": rates_now.get(key), "previous": rates_before.get(key)}
        for key, label in RATE_ROWS
        if rates_now.get(key) is not None
    ]
    for row in rates:
        row["change"] = None if row["previous"] is None else row["month"] - row["previous"]
    return Section(
        id="headlines",
        title="Headline numbers",
        about=f"{month_name(months.month)} against {month_name(months.previous)}.",
        tables=[
            Table("headline-counts", "kpi.funnel_monthly", COUNT_COLUMNS, counts),
            Table(
                "headline-rates",
                "kpi.conversion_cohorts, kpi.sla_compliance_monthly, kpi.marketing_delivery_monthly",
                RATE_COLUMNS,
                rates,
            ),
        ],
        observations=sentences(
            # MQLs and won revenue: what each team is held to first
            *(moved(r["metric"], r["month"], r["previous"], "int") for r in counts[1:2] + counts[5:6]),
            *(moved(r["metric"], r["month"], r["previous"], "share") for r in rates[:1]),
        ),
        empty_note="No lead, MQL, SQL or deal in kpi.funnel_monthly for this month.",
    )


COUNT_COLUMNS = (
    Column("metric", "", "text"),
    Column("month", "This month"),
    Column("previous", "Month before"),
    Column("change", "Change", "delta"),
    Column("relative", "Change %", "change"),
)
RATE_COLUMNS = (
    Column("metric", "", "text"),
    Column("month", "This month", "share"),
    Column("previous", "Month before", "share"),
    Column("change", "Change", "points"),
)


def _count_row(key: str, label: str, now: dict, before: dict) -> dict[str, Any]:
    value, earlier = now.get(key), before.get(key)
    change = None if earlier is None else value - earlier
    relative = round(Decimal(change) / Decimal(earlier), 4) if earlier else None
    return {"metric": label, "month": value, "previous": earlier, "change": change, "relative": relative}


def funnel_section(conn: psycopg.Connection, months: Months) -> Section:
    """The month's funnel by channel, and its steps against the month before."""
    rows = records(query(conn, BY_CHANNEL, months.params()))
    now, before = _by_month(query(conn, FUNNEL_TOTALS, months.params()), months)
    section = Section(
        id="funnel",
        title="Funnel",
        about="Leads created, MQLs, SQLs, opportunities and won deals in the month, by channel.",
        tables=[Table("funnel-by-channel", "kpi.funnel_monthly", FUNNEL_COLUMNS, rows)],
    )
    if not rows:
        return section
    steps = STEPS[:5]
    section.charts.append(
        charts.bars(
            "funnel",
            [label for _, label in steps],
            {
                month_name(months.month): [now.get(key) for key, _ in steps],
                month_name(months.previous): [before.get(key) for key, _ in steps],
            },
            title="Funnel steps, this month and the month before",
        )
    )
    top = largest(rows, "mqls")
    share = round(top["mqls"] / now["mqls"], 4) if top and now.get("mqls") else None
    section.observations = sentences(
        f"{top['channel']} brought the most MQLs: {top['mqls']:,} ({share:.1%} of the month's)."
        if top and share is not None
        else None,
        f"{len(rows)} channel(s) brought leads or deals this month.",
    )
    return section


MONEY = ("won_revenue", "pipeline_created")
FUNNEL_COLUMNS = (
    Column("channel", "Channel", "text"),
    *(Column(key, label, "money" if key in MONEY else "int") for key, label in STEPS),
)
