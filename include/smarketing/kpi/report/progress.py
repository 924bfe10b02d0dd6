"""SMART goals with their projection (kpi.goals_progress) and the quality gate's work
(kpi.data_quality_daily)."""

from __future__ import annotations

from typing import Any

import psycopg

from smarketing.config.goals import GOAL_METRICS
from smarketing.kpi.report import charts
from smarketing.kpi.report.model import Column, Months, Section, Table, display, query, records
from smarketing.kpi.report.observe import largest, sentences

# Each goal as it stood on the last day of the month that its progress has (its period may go on).
GOALS = """
    SELECT DISTINCT ON (goal_id) goal_id, metric, segment, period_start, period_end, day, target,
           actual_to_date, expected_to_date, projected, on_track,
           round(actual_to_date / NULLIF(target, 0), 4) AS actual_share,
           round(projected / NULLIF(target, 0), 4) AS projected_share
    FROM kpi.goals_progress WHERE day >= %(month)s AND day < %(next)s
    ORDER BY goal_id, day DESC"""
UNIT_KIND = {"count": "int", "amount": "money", "share": "share", "minutes": "minutes"}
GOAL_COLUMNS = (
    Column("goal_id", "Goal", "text"),
    Column("metric", "Metric", "text"),
    Column("segment", "Segment", "text"),
    Column("period_end", "Period ends", "text"),
    Column("day", "As of", "text"),
    Column("target", "Target", "row"),
    Column("actual_to_date", "Actual", "row"),
    Column("expected_to_date", "Expected by now", "row"),
    Column("projected", "Projected at end", "row"),
    Column("actual_share", "Actual / target", "share"),
    Column("projected_share", "Projected / target", "share"),
    Column("status", "Status", "text"),
)


def goals_section(conn: psycopg.Connection, months: Months) -> Section:
    """Each goal whose period reaches into the month: actual, expected by now and projected at the end."""
    rows = records(query(conn, GOALS, months.params()))
    for row in rows:
        metric = GOAL_METRICS.get(row["metric"])
        row["kind"] = UNIT_KIND[metric.unit] if metric else "num"
        row["status"] = {True: "on track", False: "off track", None: "not measurable yet"}[row["on_track"]]
    section = Section(
        id="goals",
        title="Goals and projection",
        about="The agreement's SMART goals as they stood on the month's last measured day; counts and amounts "
        "are expected pro rata of business days and projected at the same pace to the period's end.",
        tables=[Table("goals", "kpi.goals_progress", GOAL_COLUMNS, rows)],
        empty_note="No goal's period covers this month (kpi.goals_progress).",
    )
    if not rows:
        return section
    section.charts.append(
        charts.hbars(
            "goals",
            [row["goal_id"] for row in rows],
            {
                "Actual / target": [row["actual_share"] for row in rows],
                "Projected / target": [row["projected_share"] for row in rows],
            },
            title="Goals: actual and projected, as a share of the target",
            unit="share",
        )
    )
    section.observations = [_goal_sentence(row) for row in rows]
    return section


def _goal_sentence(row: dict[str, Any]) -> str:
    kind = row["kind"]
    head = (
        f"{row['goal_id']}: {display(row['actual_to_date'], kind)} against {display(row['target'], kind)} "
        f"by {row['day']:%d %b}"
    )
    if kind in ("int", "money"):
        head += f" (expected {display(row['expected_to_date'], kind)}); projected "
        head += f"{display(row['projected'], kind)} at {row['period_end']:%d %b %Y}"
    return f"{head}: {row['status']}."


_DQ_SUMS = (
    "batches",
    "batches_rejected",
    "rows_checked",
    "checks_failed",
    "rows_quarantined",
    "rows_released",
)
DATA_QUALITY = """
    SELECT source_system, table_name, {sums},
           round(sum(rows_quarantined)::numeric / NULLIF(sum(rows_checked), 0), 4) AS quarantine_rate
    FROM kpi.data_quality_daily WHERE day >= %(month)s AND day < %(next)s
    GROUP BY source_system, table_name ORDER BY source_system, table_name""".format(
    sums=", ".join(f"sum({key}) AS {key}" for key in _DQ_SUMS)
)
DQ_COLUMNS = (
    Column("source_system", "Source", "text"),
    Column("table_name", "Table", "text"),
    Column("batches", "Batches"),
    Column("batches_rejected", "Rejected"),
    Column("rows_checked", "Rows checked"),
    Column("checks_failed", "Checks failed"),
    Column("rows_quarantined", "Quarantined"),
    Column("rows_released", "Released"),
    Column("quarantine_rate", "Quarantined share", "share"),
)


def data_quality_section(conn: psycopg.Connection, months: Months) -> Section:
    """The quality gate's month: batches decided and rejected, rows checked, quarantined and released."""
    rows = records(query(conn, DATA_QUALITY, months.params()))
    section = Section(
        id="data-quality",
        title="Data quality",
        about="Raw batches the quality gate decided on in the month, by source and table; rows that failed a "
        "check wait in quarantine (docs/quality.md).",
        tables=[Table("data-quality", "kpi.data_quality_daily", DQ_COLUMNS, rows)],
        empty_note="The quality gate decided no batch in the month (kpi.data_quality_daily).",
    )
    if not rows:
        return section
    section.charts.append(
        charts.hbars(
            "data-quality",
            [f"{row['source_system']}.{row['table_name']}" for row in rows],
            {"Quarantined share": [row["quarantine_rate"] for row in rows]},
            title="Share of checked rows quarantined",
            unit="share",
        )
    )
    worst = largest(rows, "quarantine_rate")
    section.observations = sentences(
        f"{sum(r['batches'] for r in rows):,} batch(es) decided, {sum(r['batches_rejected'] for r in rows):,} "
        f"rejected; {sum(r['rows_quarantined'] for r in rows):,} row(s) quarantined.",
        f"Most quarantined: {worst['source_system']}.{worst['table_name']} ({worst['quarantine_rate']:.1%})."
        if worst and worst["quarantine_rate"]
        else "No row was quarantined.",
    )
    return section
