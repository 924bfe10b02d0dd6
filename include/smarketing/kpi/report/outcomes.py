"""Whether the work pays: nurturing against its control group (kpi.nurture_monthly) and whether the score
still predicts (kpi.score_quality_monthly)."""

from __future__ import annotations

from typing import Any

import psycopg

from smarketing.kpi.report import charts
from smarketing.kpi.report.model import Column, Months, Section, Table, query, records
from smarketing.kpi.report.observe import month_name, moved, sentences

NURTURE = """
    SELECT scenario_id, arm, leads, exited, reached_mql, reached_sql,
           round(reached_mql::numeric / NULLIF(leads, 0), 4) AS mql_rate,
           round(reached_sql::numeric / NULLIF(leads, 0), 4) AS sql_rate
    FROM kpi.nurture_monthly WHERE month = %(month)s ORDER BY scenario_id, arm"""
NURTURE_COLUMNS = (
    Column("scenario_id", "Scenario", "text"),
    Column("arm", "Arm", "text"),
    Column("leads", "Leads"),
    Column("exited", "Exited"),
    Column("reached_mql", "Reached MQL"),
    Column("reached_sql", "Reached SQL"),
    Column("mql_rate", "MQL rate", "share"),
    Column("sql_rate", "SQL rate", "share"),
)
UPLIFT_COLUMNS = (
    Column("scenario_id", "Scenario", "text"),
    Column("enrolled_mql_rate", "Enrolled: MQL rate", "share"),
    Column("held_out_mql_rate", "Held out: MQL rate", "share"),
    Column("mql_difference", "Difference", "points"),
    Column("enrolled_sql_rate", "Enrolled: SQL rate", "share"),
    Column("held_out_sql_rate", "Held out: SQL rate", "share"),
    Column("sql_difference", "Difference", "points"),
)


def uplift(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scenario: each arm's rates and enrolled minus held out (None without a control group)."""
    arms: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        arms.setdefault(row["scenario_id"], {})[row["arm"]] = row
    out = []
    for scenario, by_arm in arms.items():
        enrolled, held = by_arm.get("enrolled", {}), by_arm.get("held_out", {})
        line: dict[str, Any] = {"scenario_id": scenario}
        for rate in ("mql", "sql"):
            a, b = enrolled.get(f"{rate}_rate"), held.get(f"{rate}_rate")
            line |= {f"enrolled_{rate}_rate": a, f"held_out_{rate}_rate": b}
            line[f"{rate}_difference"] = None if a is None or b is None else a - b
        out.append(line)
    return out


def nurture_section(conn: psycopg.Connection, months: Months) -> Section:
    """Leads enrolled in each nurturing scenario in the month against the control group held out."""
    rows = records(query(conn, NURTURE, months.params()))
    diffs = uplift(rows)
    section = Section(
        id="nurturing",
        title="Nurturing and its control group",
        about="Leads planned into each scenario in the month: the enrolled arm was pushed to the marketing "
        "system, the held-out arm left alone. The difference is what nurturing added (so far: leads "
        "enrolled late in the month have had little time).",
        tables=[
            Table("nurture-arms", "kpi.nurture_monthly", NURTURE_COLUMNS, rows),
            Table(
                "nurture-uplift", "kpi.nurture_monthly", UPLIFT_COLUMNS, diffs, "Enrolled against held out"
            ),
        ],
        empty_note="No lead entered a nurturing scenario in the month (kpi.nurture_monthly).",
    )
    if not rows:
        return section
    section.charts.append(
        charts.bars(
            "nurture",
            [d["scenario_id"] for d in diffs],
            {
                "Enrolled": [d["enrolled_mql_rate"] for d in diffs],
                "Held out": [d["held_out_mql_rate"] for d in diffs],
            },
            title="Share of leads that reached MQL, by scenario and arm",
            unit="share",
        )
    )
    section.observations = [_uplift_sentence(d) for d in diffs]
    return section


def _uplift_sentence(d: dict[str, Any]) -> str:
    if d["mql_difference"] is None:
        return f"{d['scenario_id']}: no control group to compare with (one arm only)."
    return (
        f"{d['scenario_id']}: {d['enrolled_mql_rate']:.1%} of enrolled leads reached MQL against "
        f"{d['held_out_mql_rate']:.1%} held out ({d['mql_difference'] * 100:+.1f} pts)."
    )


SCORE_TREND = """
    SELECT model_version, cohort_month, handed_over, reached_sql, won, sql_rate, won_rate, auc_sql, auc_won
    FROM kpi.score_quality_monthly
    WHERE slice_kind = 'all' AND cohort_month >= %(trend_start)s AND cohort_month <= %(month)s
    ORDER BY model_version, cohort_month"""
SCORE_BANDS = """
    SELECT model_version, slice AS band, handed_over, reached_sql, sql_rate, won_rate
    FROM kpi.score_quality_monthly WHERE slice_kind = 'score_band' AND cohort_month = %(month)s
    ORDER BY model_version, slice"""
SCORE_COLUMNS = (
    Column("model_version", "Model", "text"),
    Column("cohort_month", "Handed over in", "month"),
    Column("handed_over", "Handed over"),
    Column("reached_sql", "Reached SQL"),
    Column("won", "Won"),
    Column("sql_rate", "SQL rate", "share"),
    Column("won_rate", "Won rate", "share"),
    Column("auc_sql", "AUC (SQL)", "auc"),
    Column("auc_won", "AUC (won)", "auc"),
)
BAND_COLUMNS = (
    Column("model_version", "Model", "text"),
    Column("band", "Score at hand-over", "text"),
    Column("handed_over", "Handed over"),
    Column("reached_sql", "Reached SQL"),
    Column("sql_rate", "SQL rate", "share"),
    Column("won_rate", "Won rate", "share"),
)
# Below this AUC the score barely orders leads better than chance: time to recalibrate.
WEAK_AUC = 0.6


def score_quality_section(conn: psycopg.Connection, months: Months) -> Section:
    """Does the score still predict: conversion of the leads each model handed over, AUC by month."""
    trend = records(query(conn, SCORE_TREND, months.params()))
    if not any(row["cohort_month"] == months.month for row in trend):
        trend = []
    bands = records(query(conn, SCORE_BANDS, months.params())) if trend else []
    section = Section(
        id="score-quality",
        title="Score quality",
        about="Leads each scoring model version handed over as MQL, by month of the crossing: how many went "
        "on to SQL and won, and the AUC of the score at hand-over (0.5 is chance).",
        tables=[
            Table("score-quality", "kpi.score_quality_monthly", SCORE_COLUMNS, trend),
            Table(
                "score-bands", "kpi.score_quality_monthly", BAND_COLUMNS, bands, "By score band, this month"
            ),
        ],
        empty_note="No lead crossed the MQL threshold in a scoring run this month (kpi.score_quality_monthly).",
    )
    if not trend:
        return section
    section.charts.append(
        charts.trend(
            "score-quality",
            trend,
            x="cohort_month",
            series="model_version",
            value="auc_sql",
            title="AUC of the score at hand-over against reaching SQL",
            name=lambda version: f"AUC (SQL), {version}",
        )
    )
    if bands:
        section.charts.append(_bands_chart(bands, months))
    section.observations = _score_observations(trend, months)
    return section


def _bands_chart(bands: list[dict[str, Any]], months: Months) -> str:
    return charts.bars(
        "score-bands",
        [f"{b['model_version']} {b['band']}" for b in bands],
        {"SQL rate": [b["sql_rate"] for b in bands], "Won rate": [b["won_rate"] for b in bands]},
        title=f"Conversion by score band at hand-over, {month_name(months.month)}",
        unit="share",
    )


def _score_observations(trend: list[dict[str, Any]], months: Months) -> list[str]:
    out: list[str | None] = []
    for row in (r for r in trend if r["cohort_month"] == months.month):
        before = next(
            (
                r
                for r in trend
                if r["model_version"] == row["model_version"] and r["cohort_month"] == months.previous
            ),
            {},
        )
        out.append(
            moved(f"AUC (SQL) of model {row['model_version']}", row["auc_sql"], before.get("auc_sql"), "auc")
        )
        if row["auc_sql"] is not None and row["auc_sql"] < WEAK_AUC:
            out.append(
                f"Model {row['model_version']} barely predicts SQL (AUC below {WEAK_AUC}): "
                "time to recalibrate (smarketing calibrate)."
            )
        out.append(
            f"Model {row['model_version']} handed over {row['handed_over']:,} leads; "
            f"{row['sql_rate']:.1%} reached SQL, {row['won_rate']:.1%} won."
        )
    return sentences(*out)
