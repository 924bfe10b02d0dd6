"""How sure a held-out AUC difference is: DeLong's standard error for two scores on the same leads.

Two models measured on the same held-out leads differ by sampling noise as much as by merit: at a few
hundred leads the AUC of either has a standard error of ~0.03, so a "gap" of 0.01 says nothing alone.
The difference of two AUCs on the same leads is much less noisy than either AUC (the leads that are hard
for one are hard for the other); DeLong, DeLong & Clarke-Pearson (1988) give its variance from each
lead's share of the (won, lost) pairs it orders right under each score — midranks, one sort per score,
no resampling (the fast form of Sun & Xu, 2014).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

Z95 = 1.959964


def _components(y: np.ndarray, score: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC, and each won lead's share of lost leads it outscores (ties one half), and each lost lead's
    share of won leads that outscore it."""
    won, lost = score[y == 1], score[y == 0]
    m, n = len(won), len(lost)
    everyone = rankdata(score)
    within_won, within_lost = rankdata(won), rankdata(lost)
    per_won = (everyone[y == 1] - within_won) / n
    per_lost = 1.0 - (everyone[y == 0] - within_lost) / m
    return float(per_won.mean()), per_won, per_lost


def difference(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """AUC of score a minus AUC of score b on the same leads (0/1 outcome y), and its standard error."""
    y = np.asarray(y).astype(int)
    auc_a, won_a, lost_a = _components(y, np.asarray(a, float))
    auc_b, won_b, lost_b = _components(y, np.asarray(b, float))
    won_diff, lost_diff = won_a - won_b, lost_a - lost_b
    variance = won_diff.var(ddof=1) / len(won_diff) + lost_diff.var(ddof=1) / len(lost_diff)
    return auc_a - auc_b, float(np.sqrt(variance))


def auc_differences(
    y: np.ndarray, scores: Mapping[str, np.ndarray], pairs: Sequence[tuple[str, str]]
) -> dict[str, dict[str, Any]]:
    """For each (a, b) of `pairs`, keyed "a - b": the held-out AUC of score a minus that of score b, its
    standard error and 95% interval (normal approximation), rounded for a report.

    y: 0/1 outcome of the held-out leads; scores: name -> score of each of those leads.
    """
    out = {}
    for a, b in pairs:
        value, se = difference(y, scores[a], scores[b])
        out[f"{a} - {b}"] = {
            "difference": round(value, 4),
            "se": round(se, 4),
            "ci95": [round(value - Z95 * se, 4), round(value + Z95 * se, 4)],
        }
    return out


def auc_se(y: np.ndarray, score: np.ndarray) -> float:
    """DeLong's standard error of one AUC."""
    _, per_won, per_lost = _components(np.asarray(y).astype(int), np.asarray(score, float))
    return round(float(np.sqrt(per_won.var(ddof=1) / len(per_won) + per_lost.var(ddof=1) / len(per_lost))), 4)


def difference_lines(differences: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """AUC differences with their standard error and 95% interval, as a markdown table."""
    return [
        "| held-out AUC difference | value | standard error | 95% interval |",
        "|---|---|---|---|",
        *(
            f"| {name} | {d['difference']:+.4f} | {d['se']:.4f} | {d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f} |"
            for name, d in differences.items()
        ),
    ]
