"""Cohort conversion (kpi.conversion_cohorts) and velocity (kpi.velocity_monthly) over the trend window."""

from __future__ import annotations

import psycopg

from smarketing.kpi.report import charts
from smarketing.kpi.report.model import Column, Months, Section, Table, query, records
from smarketing.kpi.report.observe import month_name, moved, sentences

# Rates of a cohort are ratios of its sums over every dimension (the table's own rates are per slice).
COHORTS = """
    SELECT cohort_month, sum(mqls) AS mqls, sum(sqls) AS sqls, sum(won) AS won,
           sum(won_revenue) AS won_revenue,
           round(sum(sqls)::numeric / NULLIF(sum(mqls), 0), 4) AS mql_to_sql_rate,
           round(sum(won)::numeric / NULLIF(sum(mqls), 0), 4) AS mql_to_won_rate,
           bool_or(is_open) AS is_open, max(open_until) AS open_until
    FROM kpi.conversion_cohorts
    WHERE cohort_kind = 'mql_month' AND cohort_month >= %(trend_start)s AND cohort_month <= %(month)s
    GROUP BY cohort_month ORDER BY cohort_month"""

COHORT_COLUMNS = (
    Column("cohort_month", "MQL cohort", "month"),
    Column("mqls", "MQLs"),
    Column("sqls", "Reached SQL"),
    Column("won", "Won"),
    Column("won_revenue", "Won revenue", "money"),
    Column("mql_to_sql_rate", "MQL→SQL", "share"),
    Column("mql_to_won_rate", "MQL→won", "share"),
    Column("is_open", "Cohort", "flag"),
)


def cohort_section(conn: psycopg.Connection, months: Months) -> Section:
    """MQL cohorts of the trend window: what their leads went on to do, whenever it happened."""
    rows = records(query(conn, COHORTS, months.params()))
    section = Section(
        id="cohorts",
        title="Cohort conversion",
        about="Leads grouped by the month they became MQLs; a later SQL or win counts for the cohort. "
        "An open cohort can still convert (its rates may rise).",
        tables=[Table("cohort-conversion", "kpi.conversion_cohorts", COHORT_COLUMNS, rows)],
        empty_note="No MQL cohort in kpi.conversion_cohorts for this month or the five before.",
    )
    if not any(row["cohort_month"] == months.month for row in rows):
        section.tables[0].rows = []  # the month itself has no MQL: nothing of its own to review
        return section
    labels = [f"{row['cohort_month']:%b %Y}" for row in rows]
    section.charts.append(
        charts.lines(
            "cohorts",
            labels,
            {
                "MQL→SQL": [row["mql_to_sql_rate"] for row in rows],
                "MQL→won": [row["mql_to_won_rate"] for row in rows],
            },
            title="Conversion of each MQL cohort (hollow: still open)",
            unit="share",
            hollow=[bool(row["is_open"]) for row in rows],
        )
    )
    section.observations = _cohort_observations(rows, months)
    return section


def _cohort_observations(rows: list[dict], months: Months) -> list[str]:
    by_month = {row["cohort_month"]: row for row in rows}
    now, before = by_month[months.month], by_month.get(months.previous, {})
    still_open = [row["cohort_month"] for row in rows if row["is_open"]]
    return sentences(
        moved(
            f"MQL→SQL of the {month_name(months.month)} cohort",
            now["mql_to_sql_rate"],
            before.get("mql_to_sql_rate"),
            "share",
            since=f" ({month_name(months.previous)} cohort)",
        ),
        moved(
            f"MQL→won of the {month_name(months.month)} cohort",
            now["mql_to_won_rate"],
            before.get("mql_to_won_rate"),
            "share",
            since=f" ({month_name(months.previous)} cohort)",
        ),
        f"The {', '.join(month_name(m) for m in still_open)} cohort(s) are still open: their rates may rise."
        if still_open
        else "Every cohort shown is closed: their rates are final.",
    )


VELOCITY = """
    SELECT month, new_leads, mqls, prior_month_mqls, lead_velocity_rate, median_days_lead_to_mql, median_days_mql_to_sql,
           median_days_sql_to_opportunity, median_days_opportunity_to_customer
    FROM kpi.velocity_monthly
    WHERE channel = 'all' AND month >= %(trend_start)s AND month <= %(month)s ORDER BY month"""

STAGE_GAPS = (
    ("median_days_lead_to_mql", "Lead→MQL"),
    ("median_days_mql_to_sql", "MQL→SQL"),
    ("median_days_sql_to_opportunity", "SQL→opportunity"),
    ("median_days_opportunity_to_customer", "Opportunity→customer"),
)
VELOCITY_COLUMNS = (
    Column("month", "Month", "month"),
    Column("new_leads", "New leads"),
    Column("mqls", "MQLs"),
    Column("lead_velocity_rate", "Lead velocity rate", "change"),
    *(Column(key, f"Median days {label}", "days") for key, label in STAGE_GAPS),
)


def velocity_section(conn: psycopg.Connection, months: Months) -> Section:
    """Median days between consecutive stages and the growth of MQLs (lead velocity rate), by month."""
    rows = records(query(conn, VELOCITY, months.params()))
    section = Section(
        id="velocity",
        title="Velocity",
        about="Median days between consecutive lifecycle stages, counted in the month the later stage was "
        "reached; lead velocity rate is the growth of MQLs on the month before.",
        tables=[Table("velocity", "kpi.velocity_monthly", VELOCITY_COLUMNS, rows)],
        empty_note="No row in kpi.velocity_monthly for this month.",
    )
    by_month = {row["month"]: row for row in rows}
    if months.month not in by_month:
        section.tables[0].rows = []
        return section
    section.charts.append(
        charts.lines(
            "velocity",
            [f"{row['month']:%b %Y}" for row in rows],
            {label: [row[key] for row in rows] for key, label in STAGE_GAPS},
            title="Median days between stages",
        )
    )
    now, before = by_month[months.month], by_month.get(months.previous, {})
    rate = now["lead_velocity_rate"]
    section.observations = sentences(
        f"MQLs {'grew' if rate >= 0 else 'shrank'} {abs(rate):.1%} on the month before "
        f"({now['mqls']:,} against {now['prior_month_mqls']:,})."
        if rate is not None
        else f"{now['mqls']:,} MQLs; no lead velocity rate (no MQL the month before).",
        *(moved(f"Median days {label}", now[key], before.get(key), "days") for key, label in STAGE_GAPS[:2]),
    )
    return section
