"""The monthly review report on the sandbox world: every number it shows equals the kpi tables (each table
of the report read back cell by cell and compared with a query of its own here), an empty month renders
with "no data" sections, and no address or name of a person reaches the file."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from smarketing.kpi.report import render_report
from tests.integration.kpi_world import rows, sandbox_kpi_warehouse
from tests.integration.report_reader import Cell, ReportPage, shows_its_value
from tests.integration.test_kpi_idempotency import personal_values

pytestmark = pytest.mark.integration

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sandbox_kpi_warehouse(tmp_path_factory.mktemp("world")) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def report(world: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportPage]:
    result = render_report(world, date(2026, 10, 17), tmp_path_factory.mktemp("reports") / "oct.html")
    assert result.month == OCTOBER.month
    return result.path, ReportPage(result.path.read_text(encoding="utf-8"))


# -- what each table of the report must hold, read here from kpi.* independently -----------------------
Expected = list[dict[str, Any]]


@dataclass(frozen=True)
class Window:
    """The reviewed month, the one before, the first month of the six-month trend, the month after."""

    month: date
    previous: date
    start: date
    after: date


MARCH = Window(date(2026, 3, 1), date(2026, 2, 1), date(2025, 10, 1), date(2026, 4, 1))
OCTOBER = Window(date(2026, 10, 1), date(2026, 9, 1), date(2026, 5, 1), date(2026, 11, 1))
NOVEMBER = Window(date(2026, 11, 1), date(2026, 10, 1), date(2026, 6, 1), date(2026, 12, 1))


def _dicts(dsn: str, query: str, params: Sequence[Any]) -> Expected:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def headline_counts(dsn: str, w: Window) -> Expected:
    found = rows(
        dsn,
        "SELECT month, sum(new_leads), sum(mqls), sum(sqls), sum(opportunities), sum(won_deals), "
        "sum(won_revenue), sum(pipeline_created) FROM kpi.funnel_monthly WHERE month IN (%s, %s) GROUP BY month",
        (w.month, w.previous),
    )
    totals = {row[0]: row[1:] for row in found}
    if w.month not in totals:
        return []
    before = totals.get(w.previous, (None,) * 7)
    return [
        {
            "month": a,
            "previous": b,
            "change": None if b is None else a - b,
            "relative": round(Decimal(a - b) / Decimal(b), 4) if b else None,
        }
        for a, b in zip(totals[w.month], before, strict=True)
    ]


def headline_rates(dsn: str, w: Window) -> Expected:
    queries = [
        "SELECT cohort_month, round(sum(sqls)::numeric / NULLIF(sum(mqls), 0), 4) FROM kpi.conversion_cohorts "
        "WHERE cohort_kind = 'mql_month' GROUP BY 1",
        "SELECT cohort_month, round(sum(won)::numeric / NULLIF(sum(mqls), 0), 4) FROM kpi.conversion_cohorts "
        "WHERE cohort_kind = 'mql_month' GROUP BY 1",
        "SELECT month, round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 4) "
        "FROM kpi.sla_compliance_monthly GROUP BY 1",
        "SELECT month, attainment FROM kpi.marketing_delivery_monthly WHERE segment = 'all'",
    ]
    out = []
    for query in queries:
        found = dict(rows(dsn, query))
        now, before = found.get(w.month), found.get(w.previous)
        if now is not None:
            out.append({"month": now, "previous": before, "change": None if before is None else now - before})
    return out


def funnel_by_channel(dsn: str, w: Window) -> Expected:
    return _dicts(
        dsn,
        "SELECT channel, sum(new_leads) AS new_leads, sum(mqls) AS mqls, sum(sqls) AS sqls, "
        "sum(opportunities) AS opportunities, sum(won_deals) AS won_deals, sum(won_revenue) AS won_revenue, "
        "sum(pipeline_created) AS pipeline_created FROM kpi.funnel_monthly WHERE month = %s "
        "GROUP BY channel ORDER BY 2 DESC, 3 DESC, 1",
        (w.month,),
    )


def cohort_conversion(dsn: str, w: Window) -> Expected:
    found = _dicts(
        dsn,
        "SELECT cohort_month, sum(mqls) AS mqls, sum(sqls) AS sqls, sum(won) AS won, sum(won_revenue) AS won_revenue, "
        "round(sum(sqls)::numeric / sum(mqls), 4) AS mql_to_sql_rate, "
        "round(sum(won)::numeric / sum(mqls), 4) AS mql_to_won_rate, bool_or(is_open) AS is_open "
        "FROM kpi.conversion_cohorts WHERE cohort_kind = 'mql_month' AND cohort_month BETWEEN %s AND %s "
        "GROUP BY 1 ORDER BY 1",
        (w.start, w.month),
    )
    return found if any(r["cohort_month"] == w.month for r in found) else []


def velocity(dsn: str, w: Window) -> Expected:
    found = _dicts(
        dsn,
        "SELECT month, new_leads, mqls, lead_velocity_rate, median_days_lead_to_mql, median_days_mql_to_sql, "
        "median_days_sql_to_opportunity, median_days_opportunity_to_customer FROM kpi.velocity_monthly "
        "WHERE channel = 'all' AND month BETWEEN %s AND %s ORDER BY month",
        (w.start, w.month),
    )
    return found if any(r["month"] == w.month for r in found) else []


def attribution_by_channel(dsn: str, w: Window) -> Expected:
    found = _dicts(
        dsn,
        "SELECT channel, model, sum(pipeline_amount) AS pipeline, sum(won_amount) AS won "
        "FROM kpi.attribution_monthly WHERE month = %s GROUP BY 1, 2",
        (w.month,),
    )
    models = ("first_touch", "last_touch", "linear", "w_shaped")
    by_channel: dict[str, dict[str, Any]] = {}
    for r in found:
        empty = {f"{measure}_{model}": None for measure in ("pipeline", "won") for model in models}
        line = by_channel.setdefault(r["channel"], {"channel": r["channel"], **empty})
        line[f"pipeline_{r['model']}"], line[f"won_{r['model']}"] = r["pipeline"], r["won"]

    def order(line: dict[str, Any]) -> tuple:
        won, pipeline = line["won_w_shaped"], line["pipeline_w_shaped"]
        return (won is None, -(won or 0), pipeline is None, -(pipeline or 0), line["channel"])

    return sorted(by_channel.values(), key=order)


_ON_TIME = "round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 4)"


def sla_by_team(dsn: str, w: Window) -> Expected:
    return _dicts(
        dsn,
        "SELECT team, sum(handed_over) AS handed_over, sum(due) AS due, sum(touched_on_time) AS touched_on_time, "
        "sum(touched_late) AS touched_late, sum(untouched_past_due) AS untouched_past_due, "
        f"{_ON_TIME} AS on_time_share, sum(first_touch_breaches) AS first_touch_breaches, "
        "sum(accept_breaches) AS accept_breaches, sum(escalations) AS escalations, "
        "round(sum(decided_on_time)::numeric / NULLIF(sum(accept_due), 0), 4) AS decided_on_time_share "
        "FROM kpi.sla_compliance_monthly WHERE month = %s GROUP BY team ORDER BY team",
        (w.month,),
    )


def sla_trend(dsn: str, w: Window) -> Expected:
    if not sla_by_team(dsn, w):
        return []
    per_team = _dicts(
        dsn,
        f"SELECT month, team, sum(due) AS due, {_ON_TIME} AS on_time_share FROM kpi.sla_compliance_monthly "
        "WHERE month BETWEEN %s AND %s GROUP BY 1, 2",
        (w.start, w.month),
    )
    overall = _dicts(
        dsn,
        f"SELECT month, 'all teams' AS team, sum(due) AS due, {_ON_TIME} AS on_time_share "
        "FROM kpi.sla_compliance_monthly WHERE month BETWEEN %s AND %s GROUP BY 1",
        (w.start, w.month),
    )
    return sorted(per_team + overall, key=lambda r: (r["month"], r["team"] == "all teams", r["team"]))


def delivery_by_segment(dsn: str, w: Window) -> Expected:
    found = _dicts(
        dsn,
        "SELECT segment, target, delivered, accepted, attainment, acceptance_rate, status "
        "FROM kpi.marketing_delivery_monthly WHERE month = %s",
        (w.month,),
    )
    return sorted(found, key=lambda r: (r["segment"] != "all", r["segment"]))


def delivery_trend(dsn: str, w: Window) -> Expected:
    if not delivery_by_segment(dsn, w):
        return []
    return _dicts(
        dsn,
        "SELECT month, target, delivered, attainment FROM kpi.marketing_delivery_monthly "
        "WHERE segment = 'all' AND month BETWEEN %s AND %s ORDER BY month",
        (w.start, w.month),
    )


_ACTIONS = [
    "sends",
    "opens",
    "clicks",
    "form_submissions",
    "demo_requests",
    "downloads",
    "webinar_registrations",
    "webinar_attendance",
    "unsubscribes",
    "bounces",
]


def engagement_by_campaign(dsn: str, w: Window) -> Expected:
    sums = ", ".join(f"sum({a}) AS {a}" for a in _ACTIONS)
    found = _dicts(
        dsn,
        f"SELECT campaign_id, {sums}, round(sum(opens)::numeric / NULLIF(sum(sends), 0), 4) AS open_rate, "
        "round(sum(clicks)::numeric / NULLIF(sum(sends), 0), 4) AS click_rate, "
        "round(sum(unsubscribes)::numeric / NULLIF(sum(sends), 0), 4) AS unsubscribe_rate "
        "FROM kpi.engagement_monthly WHERE month = %s GROUP BY campaign_id",
        (w.month,),
    )
    return sorted(found, key=lambda r: (-sum(r[a] for a in _ACTIONS), r["campaign_id"]))


def nurture_arms(dsn: str, w: Window) -> Expected:
    return _dicts(
        dsn,
        "SELECT scenario_id, arm, leads, exited, reached_mql, reached_sql, "
        "round(reached_mql::numeric / leads, 4) AS mql_rate, round(reached_sql::numeric / leads, 4) AS sql_rate "
        "FROM kpi.nurture_monthly WHERE month = %s ORDER BY scenario_id, arm",
        (w.month,),
    )


def nurture_uplift(dsn: str, w: Window) -> Expected:
    def rate(kind: str, arm: str) -> str:
        return (
            f"round(sum(reached_{kind}) FILTER (WHERE arm = '{arm}')::numeric "
            f"/ sum(leads) FILTER (WHERE arm = '{arm}'), 4)"
        )

    found = _dicts(
        dsn,
        f"SELECT scenario_id, {rate('mql', 'enrolled')} AS enrolled_mql_rate, {rate('mql', 'held_out')} AS "
        f"held_out_mql_rate, {rate('sql', 'enrolled')} AS enrolled_sql_rate, {rate('sql', 'held_out')} AS "
        "held_out_sql_rate FROM kpi.nurture_monthly WHERE month = %s GROUP BY 1 ORDER BY 1",
        (w.month,),
    )
    for r in found:
        for kind in ("mql", "sql"):
            a, b = r[f"enrolled_{kind}_rate"], r[f"held_out_{kind}_rate"]
            r[f"{kind}_difference"] = None if a is None or b is None else a - b
    return found


def score_quality(dsn: str, w: Window) -> Expected:
    found = _dicts(
        dsn,
        "SELECT model_version, cohort_month, handed_over, reached_sql, won, sql_rate, won_rate, auc_sql, auc_won "
        "FROM kpi.score_quality_monthly WHERE slice_kind = 'all' AND cohort_month BETWEEN %s AND %s "
        "ORDER BY 1, 2",
        (w.start, w.month),
    )
    return found if any(r["cohort_month"] == w.month for r in found) else []


def score_bands(dsn: str, w: Window) -> Expected:
    if not score_quality(dsn, w):
        return []
    return _dicts(
        dsn,
        "SELECT model_version, slice AS band, handed_over, reached_sql, sql_rate, won_rate "
        "FROM kpi.score_quality_monthly WHERE slice_kind = 'score_band' AND cohort_month = %s ORDER BY 1, 2",
        (w.month,),
    )


def goals(dsn: str, w: Window) -> Expected:
    found = _dicts(
        dsn,
        "SELECT goal_id, metric, segment, period_end, day, target, actual_to_date, expected_to_date, projected, "
        "round(actual_to_date / target, 4) AS actual_share, round(projected / target, 4) AS projected_share, "
        "CASE on_track WHEN true THEN 'on track' WHEN false THEN 'off track' ELSE 'not measurable yet' END AS status "
        "FROM kpi.goals_progress g WHERE day = (SELECT max(day) FROM kpi.goals_progress h "
        "WHERE h.goal_id = g.goal_id AND day >= %s AND day < %s) ORDER BY goal_id",
        (w.month, w.after),
    )
    return found


def data_quality(dsn: str, w: Window) -> Expected:
    sums = ", ".join(
        f"sum({c}) AS {c}"
        for c in (
            "batches",
            "batches_rejected",
            "rows_checked",
            "checks_failed",
            "rows_quarantined",
            "rows_released",
        )
    )
    return _dicts(
        dsn,
        f"SELECT source_system, table_name, {sums}, "
        "round(sum(rows_quarantined)::numeric / NULLIF(sum(rows_checked), 0), 4) AS quarantine_rate "
        "FROM kpi.data_quality_daily WHERE day >= %s AND day < %s GROUP BY 1, 2 ORDER BY 1, 2",
        (w.month, w.after),
    )


EXPECTED: dict[str, Callable[[str, Window], Expected]] = {
    "headline-counts": headline_counts,
    "headline-rates": headline_rates,
    "funnel-by-channel": funnel_by_channel,
    "cohort-conversion": cohort_conversion,
    "velocity": velocity,
    "attribution-by-channel": attribution_by_channel,
    "sla-by-team": sla_by_team,
    "sla-trend": sla_trend,
    "delivery-by-segment": delivery_by_segment,
    "delivery-trend": delivery_trend,
    "engagement-email": engagement_by_campaign,
    "engagement-actions": engagement_by_campaign,
    "nurture-arms": nurture_arms,
    "nurture-uplift": nurture_uplift,
    "score-quality": score_quality,
    "score-bands": score_bands,
    "goals": goals,
    "data-quality": data_quality,
}


def assert_tables_equal_kpi(page: ReportPage, dsn: str, w: Window) -> int:
    """Every table of the report holds exactly the rows its own query here finds; returns the rows compared."""
    assert set(page.tables) <= set(EXPECTED), "a table of the report without its check here"
    compared = 0
    for table_id, expect in EXPECTED.items():
        # an empty section shows "no data" instead of its tables
        shown, expected_rows = page.tables.get(table_id, []), expect(dsn, w)
        assert len(shown) == len(expected_rows), (
            f"{table_id}: {len(shown)} rows shown, {len(expected_rows)} in kpi"
        )
        for i, (row, expected) in enumerate(zip(shown, expected_rows, strict=True)):
            # a table may show part of a query's columns (engagement: e-mail, and the other actions)
            assert set(row) - set(expected) <= {"metric"}, f"{table_id}: a column not checked here"
            wrong = {key: (row[key].value, expected[key]) for key in row if key in expected}
            wrong = {key: pair for key, pair in wrong.items() if not _same(row[key], pair[1])}
            assert not wrong, f"{table_id} row {i}: shown vs kpi tables {wrong}"
            compared += 1
    return compared


def _same(cell: Cell, value: Any) -> bool:
    if value is None:
        return cell.value == ""
    if isinstance(value, bool):
        return cell.value == str(value).lower()
    if isinstance(value, int | Decimal | float):
        return cell.value != "" and Decimal(cell.value) == Decimal(value)
    if isinstance(value, date):
        return cell.value == value.isoformat()
    return cell.value == str(value)


def test_every_table_of_the_report_equals_the_kpi_tables(world: str, report: tuple[Path, ReportPage]) -> None:
    _, page = report
    assert assert_tables_equal_kpi(page, world, OCTOBER) > 60


def test_the_month_in_progress_equals_the_kpi_tables_too(world: str, tmp_path: Path) -> None:
    """November: the scoring run's MQL crossings (score quality) land in the month the world ends in."""
    page = ReportPage(render_report(world, NOVEMBER.month, tmp_path / "nov.html").path.read_text("utf-8"))
    assert page.tables["score-quality"] and page.tables["score-bands"]
    assert_tables_equal_kpi(page, world, NOVEMBER)


def test_every_number_shown_is_its_value_at_the_columns_precision(report: tuple[Path, ReportPage]) -> None:
    _, page = report
    cells = [cell for table in page.tables.values() for row in table for cell in row.values()]
    assert len(cells) > 50
    wrong = [(cell.kind, cell.value, cell.text) for cell in cells if not shows_its_value(cell)]
    assert wrong == []


def test_every_section_with_data_has_computed_observations(report: tuple[Path, ReportPage]) -> None:
    _, page = report
    filled = {section_id for section_id, section in page.sections.items() if not section.empty}
    # the sandbox world has no nurture ledger and no quality-gate runs; its scoring run crossed in November
    assert set(page.sections) - filled == {"nurturing", "score-quality", "data-quality"}
    for section_id in filled:
        observations = page.sections[section_id].observations
        assert observations and all(line.strip() for line in observations), section_id


def test_the_report_names_no_person(world: str, report: tuple[Path, ReportPage]) -> None:
    path, page = report
    html = path.read_text(encoding="utf-8")
    people = personal_values(world)
    assert len(people) > 1000
    assert EMAIL.search(html) is None
    # what a reader can see or copy (text, chart labels, cell values), not the page's own CSS words
    shown = page.shown.lower()
    assert "cmp-0035" in shown and "enterprise" in shown
    assert sorted(v for v in people if re.search(rf"\b{re.escape(v.lower())}\b", shown)) == []


def test_a_month_without_data_renders_no_data_sections(world: str, tmp_path: Path) -> None:
    result = render_report(world, date(2025, 3, 1), tmp_path / "empty.html")
    page = ReportPage(result.path.read_text(encoding="utf-8"))
    assert set(result.empty_sections) == set(result.sections) == set(page.sections)
    for section_id, section in page.sections.items():
        assert section.empty, section_id
        assert "No data." in section.text, section_id
    assert page.tables == {}


def test_the_cli_writes_the_report_and_prints_its_path(
    world: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smarketing.cli import app

    monkeypatch.setenv("SMARKETING_REPORT_DIR", str(tmp_path / "reports"))
    result = CliRunner().invoke(app, ["report", "--month", "2026-10", "--dsn", world])
    assert result.exit_code == 0, result.output
    path = tmp_path / "reports" / "review-2026-10.html"
    assert result.stdout.strip().splitlines()[-1] == str(path)
    assert ReportPage(path.read_text(encoding="utf-8")).tables["funnel-by-channel"]
    bad = CliRunner().invoke(app, ["report", "--month", "October", "--dsn", world])
    assert bad.exit_code == 2 and "--month" in bad.output


# -- a month written straight into the kpi tables the sandbox world leaves empty, counted by hand --------
CRAFTED = [
    "INSERT INTO kpi.nurture_monthly VALUES "
    "('2026-03-01', 'pricing-interest', 'enrolled', 50, 5, '{\"became_mql\": 5}', 10, 4), "
    "('2026-03-01', 'pricing-interest', 'held_out', 10, 0, '{}', 1, 0), "
    "('2026-03-01', 'webinar-followup', 'enrolled', 20, 0, '{}', 2, 1), "
    "('2026-04-01', 'pricing-interest', 'enrolled', 99, 0, '{}', 99, 99)",
    "INSERT INTO kpi.score_quality_monthly VALUES "
    "('2026.11', '2026-02-01', 'all', 'all', 40, 16, 4, 0.4, 0.1, 0.71, 0.65), "
    "('2026.11', '2026-03-01', 'all', 'all', 50, 10, 2, 0.2, 0.04, 0.55, 0.52), "
    "('2026.11', '2026-03-01', 'score_band', '60-69', 30, 4, 1, 0.1333, 0.0333, NULL, NULL), "
    "('2026.11', '2026-03-01', 'score_band', '70-79', 20, 6, 1, 0.3, 0.05, NULL, NULL)",
    "INSERT INTO kpi.data_quality_daily VALUES "
    "('2026-03-02', 'hubspot', 'contacts', 2, 0, 1000, 1, 10, 2), "
    "('2026-03-03', 'hubspot', 'contacts', 1, 1, 500, 3, 40, 0), "
    "('2026-03-02', 'mautic', 'events', 1, 0, 2000, 0, 0, 0), "
    "('2026-04-01', 'mautic', 'events', 7, 7, 7000, 7, 7, 7)",
    # a campaign name as a source may spell it: markup and dollar signs are text, never code or math
    "INSERT INTO kpi.engagement_monthly (month, campaign_id, content_topic, sends, opens, clicks, form_submissions, "
    "demo_requests, downloads, webinar_registrations, webinar_attendance, unsubscribes, bounces) VALUES "
    "('2026-03-01', '<script>alert(1)</script> save $5 or $10', 'pricing', 10, 4, 1, 0, 0, 0, 0, 0, 0, 0)",
    "INSERT INTO kpi.goals_progress VALUES "
    "('q1-mqls', '2026-03-30', 'mql_count', 'all', 300, '2026-01-01', '2026-03-31', 61, 62, 270, 295.1613, 274.4262, false), "
    "('q1-mqls', '2026-03-31', 'mql_count', 'all', 300, '2026-01-01', '2026-03-31', 62, 62, 280, 300, 280, false), "
    "('q1-sla', '2026-03-31', 'sla_compliance', 'all', 0.9, '2026-01-01', '2026-03-31', 62, 62, 0.9312, 0.9, 0.9312, true), "
    "('q2-mqls', '2026-04-01', 'mql_count', 'all', 400, '2026-04-01', '2026-06-30', 1, 62, 5, 6.4516, 310, false)",
]


@pytest.fixture()
def crafted(clean_warehouse: str) -> str:
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        for statement in CRAFTED:
            conn.execute(statement)
    return clean_warehouse


def test_nurturing_score_quality_goals_and_data_quality_of_a_month(crafted: str, tmp_path: Path) -> None:
    result = render_report(crafted, MARCH.month, tmp_path / "march.html")
    page = ReportPage(result.path.read_text(encoding="utf-8"))
    filled = {"engagement", "nurturing", "score-quality", "goals", "data-quality"}
    assert set(result.sections) - set(result.empty_sections) == filled
    assert assert_tables_equal_kpi(page, crafted, MARCH) == 2 + 3 + 2 + 2 + 2 + 2 + 2
    html = result.path.read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert (
        page.tables["engagement-email"][0]["campaign_id"].text == "<script>alert(1)</script> save $5 or $10"
    )
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    # drawn as written (the SVG text node; unescaped, "$5 or $" would be set as math)
    assert any("save $5 or $10</text>" in chart for chart in charts)
    said = {section: page.sections[section].observations for section in page.sections}
    assert said["nurturing"] == [
        "pricing-interest: 20.0% of enrolled leads reached MQL against 10.0% held out (+10.0 pts).",
        "webinar-followup: no control group to compare with (one arm only).",
    ]
    assert said["score-quality"][:2] == [
        "AUC (SQL) of model 2026.11 fell from 0.710 to 0.550.",
        "Model 2026.11 barely predicts SQL (AUC below 0.6): time to recalibrate (smarketing calibrate).",
    ]
    assert said["goals"] == [
        "q1-mqls: 280 against 300 by 31 Mar (expected 300); projected 280 at 31 Mar 2026: off track.",
        "q1-sla: 93.1% against 90.0% by 31 Mar: on track.",
    ]
    assert said["data-quality"] == [
        "4 batch(es) decided, 1 rejected; 50 row(s) quarantined.",
        "Most quarantined: hubspot.contacts (3.3%).",
    ]


def test_a_warehouse_without_kpi_tables_is_a_clear_error(tmp_path: Path) -> None:
    from smarketing.kpi.report.render import ReportUnavailable
    from smarketing.warehouse.connection import drop_database, ensure_database, with_database
    from tests.conftest import SERVER_DSN

    bare = with_database(SERVER_DSN, f"smk_test_bare_{uuid.uuid4().hex[:8]}")
    ensure_database(bare)
    try:
        with pytest.raises(ReportUnavailable, match="smarketing db upgrade"):
            render_report(bare, MARCH.month, tmp_path / "none.html")
    finally:
        drop_database(bare)
    assert not (tmp_path / "none.html").exists()
