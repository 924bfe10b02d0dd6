"""Engagement calibrated on outcomes: points per event type, their caps and the half-life.

Each lead with a known outcome is seen as of its **cut-off** — the moment sales took it over (its first
deal opened or its first sales stage), or its outcome if that came first — and only the events before
that moment count: what a lead did after a deal was won or lost says nothing a score could have used.

The engine adds, per event type, `points` for every event faded by `0.5 ** (age / half_life_days)`
(nothing beyond `window_days`), bounded by `cap`. So a type's engagement is `points * min(x, c)` where
`x` is its faded count at the cut-off and `c = cap / points` a count. On the training split:

1. the half-life is the one (of `half_lives`) whose faded counts, next to the fit score, give the best
   3-fold cross-validated AUC of a logistic regression;
2. each type's cap, one type after another, is the count (of `cap_counts`, or none) that does best;
3. the final regression's coefficients, divided by the fit score's, are the points (fit points per
   event), so fit and engagement add up on one scale; rounded to one decimal (`POINT_DECIMALS`).

Types done before the cut-off by fewer than `min_leads` training leads get no points and are named.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from smarketing.scoring.calibrate.uncertainty import auc_differences, auc_se, difference_lines

US_PER_DAY = 86_400 * 1_000_000
# Engagement points are proposed to one decimal: on the fit points' scale (where the strongest fit rule
# is worth 10 to 100 points) a whole point is a coarse step for a weak event type, and the agreement takes
# fractional engagement points as they are (fit points stay whole). Measured in docs/scoring.md.
POINT_DECIMALS = 1


@dataclass(frozen=True)
class EngagementOptions:
    """half_lives / cap_counts: the choices tried (None: no fading / no cap). window_days: events older
    than this at the cut-off count for nothing (the agreement's window). min_leads: a type needs this
    many training leads who did it before their cut-off. strength: inverse L2 regularisation."""

    half_lives: tuple[float | None, ...] = (7, 14, 30, 60, 90, 180, None)
    cap_counts: tuple[float | None, ...] = (None, 1, 2, 3, 5, 8, 13)
    window_days: int | None = 180
    min_leads: int = 20
    strength: float = 1.0


@dataclass(frozen=True)
class History:
    """Leads with a known outcome and what they did before their cut-off.

    leads: lead_id, won (0/1), cutoff_us (microseconds since the epoch, UTC).
    events: lead_id, event_type, t_us — only events strictly before the lead's cut-off.
    """

    leads: pd.DataFrame
    events: pd.DataFrame


@dataclass
class EngagementProposal:
    """The `engagement:` proposal and the report that measured it (held-out AUCs, per-type table)."""

    half_life_days: float | None
    window_days: int | None
    events: dict[str, dict[str, float]]
    report: dict[str, Any] = field(default_factory=dict)

    def section(self, floor: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"half_life_days": self.half_life_days, "window_days": self.window_days}
        if floor is not None:
            out["floor"] = floor
        out["events"] = {name: dict(rule) for name, rule in self.events.items()}
        return out


def faded_counts(
    history: History, types: Sequence[str], half_life: float | None, window_days: int | None
) -> np.ndarray:
    """(leads, types): each type's events faded to the lead's cut-off, as the engine fades them."""
    leads, events = history.leads, history.events
    row = pd.Index(leads["lead_id"]).get_indexer(events["lead_id"])
    column = pd.Index(types).get_indexer(events["event_type"])
    keep = (row >= 0) & (column >= 0)
    cutoff = leads["cutoff_us"].to_numpy(np.int64)[row[keep]]
    age = (cutoff - events["t_us"].to_numpy(np.int64)[keep]) / US_PER_DAY
    weight = np.ones(len(age)) if half_life is None else np.exp2(-age / half_life)
    if window_days is not None:
        weight[age > window_days] = 0.0
    flat = row[keep] * len(types) + column[keep]
    counts = np.bincount(flat, weights=weight, minlength=len(leads) * len(types))
    return counts.reshape(len(leads), len(types))


def _capped(x: np.ndarray, caps: Sequence[float | None]) -> np.ndarray:
    limits = np.array([np.inf if c is None else c for c in caps])
    return np.minimum(x, limits)


@dataclass(frozen=True)
class _Linear:
    """A fitted logistic regression in the design's own units."""

    coef: np.ndarray
    intercept: float

    def decision_function(self, design: np.ndarray) -> np.ndarray:
        return design @ self.coef + self.intercept


def _fit(design: np.ndarray, y: np.ndarray, strength: float) -> _Linear:
    # Fit points and faded counts differ in scale by orders of magnitude: standardised columns converge
    # in a few solver steps instead of hundreds (and the penalty treats every column alike).
    spread = design.std(axis=0)
    spread[spread == 0] = 1.0
    model = LogisticRegression(C=strength, max_iter=2000).fit(design / spread, y)
    return _Linear(model.coef_[0] / spread, float(model.intercept_[0]))


def _cv_auc(design: np.ndarray, y: np.ndarray, folds: list, strength: float) -> float:
    aucs = [
        roc_auc_score(y[check], _fit(design[fit], y[fit], strength).decision_function(design[check]))
        for fit, check in folds
    ]
    return float(np.mean(aucs))


def _design(fit_score: np.ndarray, x: np.ndarray, caps: Sequence[float | None]) -> np.ndarray:
    return np.column_stack([fit_score, _capped(x, caps)])


def _usable_types(history: History, train_ids: np.ndarray, min_leads: int) -> tuple[list[str], dict]:
    events = history.events[history.events["lead_id"].isin(train_ids)]
    doers = events.groupby("event_type")["lead_id"].nunique()
    everything = sorted(set(history.events["event_type"]))
    usable = sorted(doers[doers >= min_leads].index)
    skipped = {
        name: f"done before the cut-off by {int(doers.get(name, 0))} training leads (< {min_leads}): no points"
        for name in everything
        if name not in usable
    }
    return usable, skipped


def calibrate_engagement(
    history: History,
    fit_score: pd.Series,
    holdout: Collection[Any],
    *,
    seed: int = 7,
    options: EngagementOptions = EngagementOptions(),
) -> EngagementProposal:
    """Propose engagement points, caps and the half-life.

    history: leads with an outcome and their events before the cut-off (`outcome_history`).
    fit_score: integer fit points per lead id (the fit calibration's), the scale engagement is put on.
    holdout: lead ids kept out of every fit and used only to measure (the fit calibration's held-out).
    Returns the proposal; its report has the held-out AUC of fit alone, fit + proposed engagement, the
    unrounded model and a gradient-boosting reference on the same features.
    """
    from threadpoolctl import threadpool_limits

    # Hundreds of small regressions: BLAS threads cost more than they bring (15x slower on a busy 2-core box).
    with threadpool_limits(1):
        return _calibrate(history, fit_score, holdout, seed=seed, options=options)


def _calibrate(
    history: History, fit_score: pd.Series, holdout: Collection[Any], *, seed: int, options: EngagementOptions
) -> EngagementProposal:
    leads = history.leads[history.leads["lead_id"].isin(fit_score.index)].reset_index(drop=True)
    history = History(leads, history.events)
    y = leads["won"].to_numpy(int)
    score = fit_score.reindex(leads["lead_id"]).to_numpy(float)
    test = leads["lead_id"].isin(set(holdout)).to_numpy()
    train = ~test
    if len(np.unique(y[train])) < 2 or len(np.unique(y[test])) < 2:
        raise ValueError("engagement calibration needs won and lost leads in both splits")
    types, skipped = _usable_types(history, leads.loc[train, "lead_id"].to_numpy(), options.min_leads)
    if not types:
        return EngagementProposal(None, options.window_days, {}, {"skipped_event_types": skipped})
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(score[train], y[train]))
    half_life, x, tried = _best_half_life(history, types, score, y, train, folds, options)
    caps = _best_caps(x, score, y, train, folds, options)
    model = _fit(_design(score[train], x[train], caps), y[train], options.strength)
    per_fit_point = float(model.coef[0])
    if per_fit_point <= 1e-6:
        raise ValueError("the fit score does not rank the leads with an outcome: no scale for engagement")
    exact = model.coef[1:] / per_fit_point
    points = np.round(exact, POINT_DECIMALS)
    events = _event_rules(types, points, caps)
    report = _report(history, types, score, y, (train, test), x, caps, points, model, seed)
    report.update(half_life_cv=tried, half_life_days=half_life, skipped_event_types=skipped)
    report["event_types"] = _type_rows(types, x, train, points, caps, model.coef[1:] / per_fit_point)
    return EngagementProposal(half_life, options.window_days, events, report)


def _best_half_life(history, types, score, y, train, folds, options) -> tuple:
    tried, best = [], None
    for half_life in options.half_lives:
        x = faded_counts(history, types, half_life, options.window_days)
        auc = _cv_auc(_design(score[train], x[train], [None] * len(types)), y[train], folds, options.strength)
        tried.append({"half_life_days": half_life, "cv_auc": round(auc, 4)})
        if best is None or auc > best[0] + 1e-4:
            best = (auc, half_life, x)
    assert best is not None
    return best[1], best[2], tried


def _best_caps(x, score, y, train, folds, options) -> list[float | None]:
    """One type after another, the cap (as a count) with the best cross-validated AUC; ties keep none."""
    caps: list[float | None] = [None] * x.shape[1]
    for j in range(x.shape[1]):
        best_auc, best_cap = -1.0, None
        for cap in options.cap_counts:
            trial = [*caps[:j], cap, *caps[j + 1 :]]
            auc = _cv_auc(_design(score[train], x[train], trial), y[train], folds, options.strength)
            if auc > best_auc + 1e-4:
                best_auc, best_cap = auc, cap
        caps[j] = best_cap
    return caps


def _event_rules(types: Sequence[str], points: np.ndarray, caps: Sequence[float | None]) -> dict:
    rules: dict[str, dict[str, float]] = {}
    for name, value, cap in zip(types, points, caps, strict=True):
        if value == 0:
            continue
        rule: dict[str, float] = {"points": _readable(value)}
        if cap is not None:
            rule["cap"] = _readable(round(abs(value) * cap, POINT_DECIMALS))
        rules[name] = rule
    return rules


def _readable(value: float) -> float | int:
    """9.0 -> 9 (the agreement reads whole points as they are written), 4.7 stays 4.7."""
    value = round(float(value), POINT_DECIMALS)
    return int(value) if value.is_integer() else value


def engagement_points(x: np.ndarray, points: np.ndarray, caps: Sequence[float | None]) -> np.ndarray:
    """Per lead: the engine's engagement total for faded counts `x` under the points and caps."""
    return (_capped(x, caps) * points).sum(axis=1)


def _report(history, types, score, y, split, x, caps, points, model, seed) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    train, test = split
    total = score + engagement_points(x, points, caps)
    # What whole engagement points would have cost (the evidence for proposing one decimal).
    whole = score + engagement_points(x, np.round(model.coef[1:] / model.coef[0]), caps)
    unrounded = model.decision_function(_design(score, x, caps))
    reference = HistGradientBoostingClassifier(random_state=seed).fit(
        np.column_stack([score, x])[train], y[train]
    )
    both = np.column_stack([score, x])[test]
    held_out = {
        "proposal": total[test],
        "unrounded": unrounded[test],
        "reference": reference.predict_proba(both)[:, 1],
        "fit only": score[test],
        "whole points": whole[test],
    }
    pairs = [
        ("reference", "proposal"),
        ("unrounded", "proposal"),
        ("proposal", "fit only"),
        ("unrounded", "whole points"),
    ]
    return {
        "leads": len(y),
        "won": int(y.sum()),
        "holdout_leads": int(test.sum()),
        "events_before_cutoff": len(history.events),
        "auc_fit_only": round(float(roc_auc_score(y[test], score[test])), 4),
        "auc_fit_and_engagement": round(float(roc_auc_score(y[test], total[test])), 4),
        "auc_unrounded": round(float(roc_auc_score(y[test], unrounded[test])), 4),
        "auc_reference": round(float(roc_auc_score(y[test], held_out["reference"])), 4),
        "auc_se": auc_se(y[test], held_out["proposal"]),
        "reference_model": "HistGradientBoostingClassifier (defaults) on the fit score and faded counts",
        # Gap to the reference, cost of rounding and what engagement adds, with DeLong's standard errors.
        "differences": auc_differences(y[test], held_out, pairs),
    }


def _type_rows(types, x, train, points, caps, exact) -> list[dict[str, Any]]:
    return [
        {
            "event_type": name,
            "training_leads_with_it": int((x[train, j] > 0).sum()),
            "points_exact": round(float(exact[j]), 3),
            "points": _readable(points[j]),
            "cap_count": caps[j],
        }
        for j, name in enumerate(types)
    ]


def markdown(report: dict[str, Any]) -> list[str]:
    """The engagement part of report.md."""
    half_life = report.get("half_life_days")
    fading = "no fading" if half_life is None else f"half-life {half_life:g} days"
    lines = [
        "## Engagement (events before each lead's cut-off: its first deal or sales stage)",
        "",
        f"{report.get('leads', 0)} leads with an outcome, {report.get('events_before_cutoff', 0)} events "
        f"before their cut-off; {fading}.",
        "",
    ]
    if "auc_fit_only" in report:
        lines += [
            "| held-out model | AUC |",
            "|---|---|",
            f"| fit points alone | {report['auc_fit_only']:.4f} |",
            f"| fit + engagement, proposed points | {report['auc_fit_and_engagement']:.4f} |",
            f"| fit + engagement, unrounded | {report['auc_unrounded']:.4f} |",
            f"| reference: {report['reference_model']} | {report['auc_reference']:.4f} |",
            "",
            *difference_lines(report["differences"]),
            "",
            "| half-life (days) | cross-validated AUC |",
            "|---|---|",
            *(f"| {h['half_life_days']} | {h['cv_auc']:.4f} |" for h in report["half_life_cv"]),
            "",
            "| event type | training leads | points (exact) | points | cap (events) |",
            "|---|---|---|---|---|",
            *(
                f"| {t['event_type']} | {t['training_leads_with_it']} | {t['points_exact']} | {t['points']} "
                f"| {t['cap_count'] if t['cap_count'] is not None else 'none'} |"
                for t in report["event_types"]
            ),
            "",
        ]
    lines += [f"- {name}: {why}" for name, why in report.get("skipped_event_types", {}).items()]
    return lines
