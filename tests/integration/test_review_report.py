"""The monthly review report on the sandbox world: every number it shows equals the kpi tables (each table
of the report read back cell by cell and compared with a query of its own here), an empty month renders
with "no data" sections, and no address or name of a person reaches the file."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smarketing.kpi.report import render_report
from tests.integration.kpi_world import rows, sandbox_kpi_warehouse
from tests.integration.report_reader import Cell, ReportPage, shows_its_value
from tests.integration.test_kpi_idempotency import personal_values

pytestmark = pytest.mark.integration

MONTH = date(2026, 10, 1)  # the sandbox world's last full month
PREVIOUS = date(2026, 9, 1)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sandbox_kpi_warehouse(tmp_path_factory.mktemp("world")) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def report(world: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportPage]:
    result = render_report(world, date(2026, 10, 17), tmp_path_factory.mktemp("reports") / "oct.html")
    assert result.month == MONTH
    return result.path, ReportPage(result.path.read_text(encoding="utf-8"))


# -- what each table of the report must hold, read here from kpi.* independently -----------------------
Expected = list[dict[str, Any]]


def _funnel_totals(dsn: str) -> dict[date, tuple]:
    found = rows(
        dsn,
        "SELECT month, sum(new_leads), sum(mqls), sum(sqls), sum(opportunities), sum(won_deals), "
        "sum(won_revenue), sum(pipeline_created) FROM kpi.funnel_monthly WHERE month IN (%s, %s) GROUP BY month",
        (MONTH, PREVIOUS),
    )
    return {row[0]: row[1:] for row in found}


def headline_counts(dsn: str) -> Expected:
    totals = _funnel_totals(dsn)
    now, before = totals[MONTH], totals[PREVIOUS]
    return [
        {
            "month": a,
            "previous": b,
            "change": a - b,
            "relative": round(Decimal(a - b) / Decimal(b), 4) if b else None,
        }
        for a, b in zip(now, before, strict=True)
    ]


def headline_rates(dsn: str) -> Expected:
    def pair(query: str) -> list[Any]:
        found = dict(rows(dsn, query))
        return [found.get(MONTH), found.get(PREVIOUS)]

    candidates = [
        pair(
            "SELECT cohort_month, round(sum(sqls)::numeric / NULLIF(sum(mqls), 0), 4) FROM kpi.conversion_cohorts "
            "WHERE cohort_kind = 'mql_month' GROUP BY 1"
        ),
        pair(
            "SELECT cohort_month, round(sum(won)::numeric / NULLIF(sum(mqls), 0), 4) FROM kpi.conversion_cohorts "
            "WHERE cohort_kind = 'mql_month' GROUP BY 1"
        ),
        pair(
            "SELECT month, round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 4) "
            "FROM kpi.sla_compliance_monthly GROUP BY 1"
        ),
        pair("SELECT month, attainment FROM kpi.marketing_delivery_monthly WHERE segment = 'all'"),
    ]
    return [
        {"month": now, "previous": before, "change": None if before is None else now - before}
        for now, before in candidates
        if now is not None
    ]


def funnel_by_channel(dsn: str) -> Expected:
    keys = (
        "channel",
        "new_leads",
        "mqls",
        "sqls",
        "opportunities",
        "won_deals",
        "won_revenue",
        "pipeline_created",
    )
    found = rows(
        dsn,
        "SELECT channel, sum(new_leads), sum(mqls), sum(sqls), sum(opportunities), sum(won_deals), "
        "sum(won_revenue), sum(pipeline_created) FROM kpi.funnel_monthly WHERE month = %s "
        "GROUP BY channel ORDER BY 2 DESC, 3 DESC, 1",
        (MONTH,),
    )
    return [dict(zip(keys, row, strict=True)) for row in found]


EXPECTED: dict[str, Callable[[str], Expected]] = {
    "headline-counts": headline_counts,
    "headline-rates": headline_rates,
    "funnel-by-channel": funnel_by_channel,
}


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
    assert set(page.tables) == set(EXPECTED), "a table of the report without its check here (or the reverse)"
    for table_id, expected_rows in ((t, EXPECTED[t](world)) for t in EXPECTED):
        shown = page.tables[table_id]
        assert shown, f"{table_id}: no rows for a month with data"
        assert len(shown) == len(expected_rows), table_id
        for i, (row, expected) in enumerate(zip(shown, expected_rows, strict=True)):
            wrong = {
                key: (row[key].value, value) for key, value in expected.items() if not _same(row[key], value)
            }
            assert not wrong, f"{table_id} row {i}: shown vs kpi tables {wrong}"


def test_every_number_shown_is_its_value_at_the_columns_precision(report: tuple[Path, ReportPage]) -> None:
    _, page = report
    cells = [cell for table in page.tables.values() for row in table for cell in row.values()]
    assert len(cells) > 50
    wrong = [(cell.kind, cell.value, cell.text) for cell in cells if not shows_its_value(cell)]
    assert wrong == []


def test_every_section_of_a_month_with_data_has_observations(report: tuple[Path, ReportPage]) -> None:
    _, page = report
    for section_id, section in page.sections.items():
        assert not section.empty, section_id
        assert section.observations and all(section.observations), section_id


def test_the_report_names_no_person(world: str, report: tuple[Path, ReportPage]) -> None:
    path, _ = report
    html = path.read_text(encoding="utf-8").lower()
    people = personal_values(world)
    assert len(people) > 1000
    assert EMAIL.search(html) is None
    assert sorted(v for v in people if v.lower() in html) == []


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
