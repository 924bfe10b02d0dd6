"""Benchmark of persona matching (RE2 over distinct titles) against Python's `re`, in the same run.

    .venv/bin/python bench/personas.py --leads 1000000 --titles 20000

Builds `--leads` job titles drawn from `--titles` distinct ones (words of the sample agreement's
personas mixed with filler, some accented), then times with the sample agreement's personas:

* `ours`: `smarketing.warehouse.core_build.match_personas` (factorize, Arrow's RE2 kernel per persona
  over the distinct titles, spread back);
* `re_per_distinct`: the strongest honest baseline with Python's `re`: the same factorize and spread,
  a compiled pattern searched once per distinct title;
* `re_per_row`: the implementation this replaced (pandas `str.contains` with Python's `re` on every row).

Each is the best of `--repeat` runs. `agree` is the share of leads given the same persona by ours and
`re_per_distinct` (they may differ only where `\\b` or `\\w` meet an accented letter: Unicode for
Python's `re`, ASCII for the agreement's dialect). `runaway` times `^(a+)+$` on a title of n a's and a
'!': Python's `re` doubles with each added letter, RE2 stays flat. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from smarketing.config import load_config
from smarketing.config.patterns import compile_pattern
from smarketing.warehouse.core_build import match_personas

WORDS = [
    "CTO",
    "CIO",
    "COO",
    "CFO",
    "head",
    "of",
    "IT",
    "director",
    "operations",
    "finance",
    "manager",
    "senior",
    "junior",
    "developer",
    "engineer",
    "student",
    "intern",
    "VP",
    "sales",
    "marketing",
    "chief",
    "officer",
    "lead",
    "data",
    "analyst",
    "président",
    "directeur",
    "opérations",
    "ingénieur",
    "responsable",
    "informatique",
]


def titles(leads: int, distinct: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    words = rng.choice(np.array(WORDS, dtype=object), size=(distinct, 4))
    pool = pd.Series([" ".join(row) + f" {i}" for i, row in enumerate(words)], dtype=object)
    return pool.sample(leads, replace=True, random_state=seed).reset_index(drop=True)


def re_per_distinct(job_titles: pd.Series, personas: Any) -> pd.Series:
    codes, distinct = pd.factorize(job_titles, use_na_sentinel=True)
    chosen = np.full(len(distinct), None, dtype=object)
    for persona in personas:
        pattern = re.compile(persona.match.job_title_regex)
        hit = np.fromiter((pattern.search(t) is not None for t in distinct), bool, len(distinct))
        chosen[hit & pd.isna(chosen)] = persona.id
    return pd.Series(np.where(codes >= 0, chosen[codes], None), index=job_titles.index, dtype=object)


def re_per_row(job_titles: pd.Series, personas: Any) -> pd.Series:
    chosen = pd.Series([None] * len(job_titles), index=job_titles.index, dtype=object)
    for persona in personas:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            found = job_titles.str.contains(persona.match.job_title_regex, regex=True, na=False).astype(bool)
        chosen[found & chosen.isna()] = persona.id
    return chosen


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def runaway(lengths: list[int]) -> dict[str, dict[int, float]]:
    python_re, re2 = re.compile(r"^(a+)+$"), compile_pattern(r"^(a+)+$")
    timing: dict[str, dict[int, float]] = {"python_re": {}, "re2": {}}
    for n in lengths:
        text = "a" * n + "!"
        timing["python_re"][n] = round(best_of(1, lambda t=text: python_re.search(t))[0], 4)
        timing["re2"][n] = round(best_of(3, lambda t=text: re2.search(t))[0], 6)
    timing["re2"][33] = round(best_of(3, lambda: re2.search("a" * 33 + "!"))[0], 6)
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--titles", type=int, default=20_000, help="distinct job titles")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    personas = load_config().personas
    job_titles = titles(args.leads, args.titles, args.seed)
    ours, chosen = best_of(args.repeat, lambda: match_personas(job_titles, personas))
    distinct, baseline = best_of(args.repeat, lambda: re_per_distinct(job_titles, personas))
    per_row, _ = best_of(1, lambda: re_per_row(job_titles, personas))
    agree = float((chosen.fillna("-") == baseline.fillna("-")).mean())
    result = {
        "leads": args.leads,
        "distinct_titles": args.titles,
        "personas": len(personas),
        "seconds": {
            "ours": round(ours, 3),
            "re_per_distinct": round(distinct, 3),
            "re_per_row": round(per_row, 3),
        },
        "ratio_re_per_distinct_over_ours": round(distinct / ours, 2),
        "ratio_re_per_row_over_ours": round(per_row / ours, 2),
        "agree": round(agree, 4),
        "runaway_seconds": runaway([16, 18, 20, 22]),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
