"""The review report's month arithmetic and how each kind of number is written (pure, no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from smarketing.kpi.report.model import MISSING, Months, display, raw
from smarketing.kpi.report.observe import moved
from smarketing.paths import report_dir, report_file_name


def test_months_of_a_day_cross_the_year_boundary() -> None:
    months = Months.of(date(2026, 1, 17))
    assert months == Months(date(2026, 1, 1), date(2025, 12, 1), date(2025, 8, 1), date(2026, 2, 1))
    assert Months.of(date(2026, 12, 31)).next == date(2027, 1, 1)


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (1234, "int", "1,234"),
        (Decimal("21300.49"), "money", "21,300"),
        (Decimal("0.5273"), "share", "52.7%"),
        (Decimal("-0.1151"), "points", "-11.5 pts"),
        (Decimal("0.8333"), "change", "+83.3%"),
        (-5, "delta", "-5"),
        (Decimal("4.75"), "days", "4.8"),
        (Decimal("0.7100"), "auc", "0.710"),
        (Decimal("12.3456"), "num", "12.35"),
        (date(2026, 10, 1), "month", "Oct 2026"),
        (True, "flag", "open"),
        (False, "flag", "closed"),
        ("paid_search", "text", "paid_search"),
        (None, "share", MISSING),
    ],
)
def test_each_kind_is_written_for_people(value: object, kind: str, text: str) -> None:
    assert display(value, kind) == text


def test_an_unknown_kind_is_an_error_not_a_guess() -> None:
    with pytest.raises(ValueError, match="unknown column kind"):
        display(1, "percent")


def test_raw_values_keep_every_digit() -> None:
    assert raw(Decimal("0.1273")) == "0.1273"
    assert raw(None) == "" and raw(True) == "true" and raw(date(2026, 3, 1)) == "2026-03-01"


def test_observations_say_which_way_a_figure_moved() -> None:
    assert moved("MQL→SQL", Decimal("0.31"), Decimal("0.38"), "share") == "MQL→SQL fell from 38.0% to 31.0%."
    assert moved("MQLs", 55, 30, "int") == "MQLs rose from 30 to 55."
    assert moved("MQLs", 5, 5, "int") == "MQLs held at 5."
    assert moved("MQLs", 5, None, "int") == "MQLs: 5 (no figure for the period before)."
    assert moved("MQLs", None, 5, "int") is None


def test_reports_go_to_the_configured_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("SMARKETING_REPORT_DIR", str(tmp_path))
    assert str(report_dir()) == str(tmp_path)
    monkeypatch.delenv("SMARKETING_REPORT_DIR")
    assert report_dir().parts[-2:] == (".local", "reports")
    assert report_file_name(date(2026, 10, 1)) == "review-2026-10.html"
