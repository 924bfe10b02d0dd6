"""`smarketing backtest` for people: per month, each model's MQLs, how many reached a sales stage
(MQL→SQL) and how many won (MQL→won), as counts and rates."""

from __future__ import annotations

import pandas as pd
from rich.console import Console

from smarketing.scoring.cli import backtest_table


def test_the_table_shows_mql_to_sql_and_mql_to_won_for_both_models() -> None:
    report = pd.DataFrame(
        {
            "model": ["candidate", "candidate", "active", "active"],
            "month": ["2026-09", "2026-10", "2026-09", "2026-10"],
            "mqls": [40, 0, 1250, 30],
            "converted": [10, 0, 3, 3],
            "to_sql": [20, 0, 625, 9],
            "conversion_rate": [0.25, float("nan"), 0.0024, 0.1],
            "sql_rate": [0.5, float("nan"), 0.5, 0.3],
            "model_version": ["cand-1", "cand-1", "2026.11", "2026.11"],
        }
    )
    console = Console(record=True, width=200)
    console.print(backtest_table(report))
    text = console.export_text()
    assert "candidate cand-1 against active 2026.11" in text
    header = next(line for line in text.splitlines() if "month" in line)
    assert header.count("MQL→SQL") == 2 and header.count("MQL→won") == 2
    september = next(line for line in text.splitlines() if line.strip().startswith("2026-09")).split()
    # candidate: 40 MQLs, 20 to SQL (50.0%), 10 won (25.0%); active: 1,250 MQLs, 625 (50.0%), 3 (0.2%)
    assert september == ["2026-09", "40", "20", "50.0%", "10", "25.0%", "1,250", "625", "50.0%", "3", "0.2%"]
    october = next(line for line in text.splitlines() if line.strip().startswith("2026-10")).split()
    assert october == ["2026-10", "0", "0", "0", "30", "9", "30.0%", "3", "10.0%"]  # no MQL: no rate
