"""The calibration itself: split, learn the terms, weigh them, round, measure."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from smarketing.errors import SmarketingError
from smarketing.scoring.calibrate import points as pts
from smarketing.scoring.calibrate.clean import Column, leaks, parse_outcome, prepare_columns
from smarketing.scoring.calibrate.report import build_report
from smarketing.scoring.calibrate.terms import Leaf, Term, distil, fit_boosting
from smarketing.scoring.calibrate.uncertainty import difference as auc_difference


class CalibrationError(SmarketingError):
    """The input cannot be calibrated (no outcome, one class only, no usable column)."""


@dataclass(frozen=True)
class Options:
    """How a calibration runs; the defaults are the ones measured in docs/scoring.md.

    holdout: share of leads kept out of every fit and used only to measure.
    interactions: at most this many pairwise (compound) interactions are proposed.
    main_leaves / pair_leaves: at most this many rules per column / per interaction.
    min_leaf_share: the smallest share of training leads a rule may cover (and at least 20 leads).
    min_pair_gain: twice the cross-validated AUC a weak column must add to be kept.
    pair_z: an interaction must raise the cross-validated log-likelihood by this many standard errors
        (one-sided 5% over the default 5 pairs) and not lower the cross-validated AUC.
    strength: inverse L2 regularisation of the logistic regression over the rules.
    tolerance: the largest held-out AUC the rounding to integers may cost.
    leak_auc: a column that alone reaches this AUC is a leak and is left out.
    reference: also fit the gradient-boosting reference (the report's yardstick).
    """

    holdout: float = 0.3
    interactions: int = 5
    main_leaves: int = 8
    pair_leaves: int = 6
    min_leaf_share: float = 0.005
    min_pair_gain: float = 0.001
    pair_z: float = 2.33
    strength: float = 0.1
    tolerance: float = 0.003
    leak_auc: float = 0.97
    max_levels: int = 50
    reference: bool = True


@dataclass
class Calibration:
    """The proposal: agreement rules with integer points, grades, and the report that measured them."""

    rules: list[dict[str, Any]]
    grades: dict[str, int]
    report: dict[str, Any]
    field_of: dict[str, str] = field(default_factory=dict)
    # Integer fit points of every lead with an outcome (by id when the input has one), and the ids of the
    # held-out leads: engagement is calibrated on the same split and scale.
    fit_scores: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    holdout: frozenset = frozenset()
    engagement: dict[str, Any] | None = None
    # vocabulary.mql on the proposal's own scale (min_score, min_grade), when the calibration set one.
    mql: dict[str, Any] | None = None
    # The SLA tiers' `when.min_score` on the proposal's scale, by tier id (the hot tier's "very engaged").
    sla_tiers: dict[str, float] | None = None

    def scoring_section(self, version: str) -> dict[str, Any]:
        section: dict[str, Any] = {"version": version, "fit": self.rules}
        if self.engagement is not None:
            section["engagement"] = self.engagement
        section["grades"] = dict(self.grades)
        return section

    def candidate_document(self, version: str) -> dict[str, Any]:
        """What scoring.yaml holds: the `scoring:` section, and `vocabulary.mql` and the SLA tiers' score
        conditions (`sla.sales.tiers[].when.min_score`, by tier id) when set."""
        document: dict[str, Any] = {"scoring": self.scoring_section(version)}
        if self.mql is not None:
            document["vocabulary"] = {"mql": {k: v for k, v in self.mql.items() if v is not None}}
        if self.sla_tiers:
            tiers = [{"id": tier, "when": {"min_score": score}} for tier, score in self.sla_tiers.items()]
            document["sla"] = {"sales": {"tiers": tiers}}
        return document


def default_field(column: str) -> str:
    """The rule field for a column: itself when the agreement knows it, else `attributes.<column>`."""
    from smarketing.config import resolve_field

    try:
        resolve_field(column)
    except ValueError:
        return f"attributes.{column}"
    return column


def calibrate(
    frame: pd.DataFrame,
    *,
    id_column: str | None,
    outcome: str,
    exclude: Sequence[str] = (),
    seed: int = 7,
    field_of: Mapping[str, str] | None = None,
    options: Options = Options(),
) -> Calibration:
    """Propose integer fit points for the leads of `frame`.

    frame: one row per lead, text or number columns; `outcome` is 1/0 (yes/no, won/lost...), rows whose
        outcome is neither are left out. id_column and exclude: columns never used as signals.
    seed: the split and every randomised step; the same seed gives the same proposal.
    field_of: the agreement field of each column (default: the column, else `attributes.<column>`).
    """
    started = time.perf_counter()
    data, y = _known_outcomes(frame, outcome)
    candidates = [c for c in data.columns if c not in {outcome, id_column, *exclude}]
    min_count = max(20, int(0.01 * len(data)))
    columns, skipped = prepare_columns(data, candidates, min_count=min_count, max_levels=options.max_levels)
    leaked = leaks(columns, y, leak_auc=options.leak_auc)
    for name, auc in leaked.items():
        skipped[name] = f"predicts the outcome almost perfectly on its own (AUC {auc}): a leak, left out"
    columns = [c for c in columns if c.name not in leaked]
    if not columns:
        raise CalibrationError(f"no usable column to calibrate on (skipped: {skipped})")
    fields = {c: (field_of or {}).get(c) or default_field(c) for c in candidates}
    train, test = train_test_split(
        np.arange(len(data)), test_size=options.holdout, random_state=seed, stratify=y
    )
    model = _learn(columns, data, y, train, fields, seed=seed, options=options)
    x_train = model.x[train]
    coefficients, intercept = pts.fit_leaves(x_train, y[train], strength=options.strength)
    reference = pts.references(x_train, model.terms, model.leaves)
    shifted = pts.shift_to_references(coefficients, model.leaves, reference)
    # The shift moves every lead by the same amount; the intercept takes it back for probabilities.
    intercept += float(np.mean(x_train @ (coefficients - shifted)))
    # The scale is chosen on the training leads: the held-out ones only measure.
    integers, scale = pts.integer_points(shifted, x_train, y[train], tolerance=options.tolerance)
    rules = [
        shape.agreement_entry(int(integers[shape.leaf]))
        for shape in model.shapes
        if integers[shape.leaf] != 0
    ]
    report = build_report(
        columns=columns,
        y=y,
        split=(train, test),
        model=model,
        unrounded=shifted,
        intercept=intercept,
        integers=integers,
        scale=scale,
        seed=seed,
        options=options,
        skipped=skipped,
        rows=len(frame),
    )
    report["seconds"] = round(time.perf_counter() - started, 1)
    grades = pts.grade_thresholds(x_train @ integers)
    ids = data[id_column] if id_column else pd.Series(np.arange(len(data)))
    scores = pd.Series(model.x @ integers, index=ids.to_numpy())
    return Calibration(rules, grades, report, fields, scores, frozenset(ids.iloc[test]))


def _known_outcomes(frame: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, np.ndarray]:
    if outcome not in frame.columns:
        raise CalibrationError(
            f"no outcome column {outcome!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    y_all = parse_outcome(frame[outcome])
    known = y_all.notna()
    y = y_all[known].to_numpy(dtype=int)
    if len(np.unique(y)) < 2:
        raise CalibrationError(f"outcome {outcome!r} has a single value among rows with a known outcome")
    return frame[known].reset_index(drop=True), y


@dataclass
class LearntTerms:
    """The kept terms, their leaves, the rules rendering them and the leaf indicators of every lead."""

    terms: list[Term]
    leaves: list[Leaf]
    shapes: list[pts.RuleShape]
    x: np.ndarray
    interactions: list[dict[str, Any]]
    boosting_auc: float
    boosting_seconds: float


def _learn(
    columns: Sequence[Column],
    data: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
    fields: Mapping[str, str],
    *,
    seed: int,
    options: Options,
) -> LearntTerms:
    started = time.perf_counter()
    ebm = fit_boosting(columns, train, y[train], interactions=options.interactions, seed=seed)
    boosting_seconds = time.perf_counter() - started
    min_leaf = max(20, int(options.min_leaf_share * len(train)))
    terms = distil(
        ebm,
        columns,
        train,
        main_leaves=options.main_leaves,
        pair_leaves=options.pair_leaves,
        min_leaf=min_leaf,
        seed=seed,
    )
    by_name = {c.name: c for c in columns}
    leaves = [leaf for term in terms for leaf in term.leaves]
    shapes = pts.rule_shapes(leaves, by_name, fields)
    x = pts.leaf_matrix(shapes, len(leaves), data)
    kept, interactions = _paying_terms(terms, leaves, x[train], y[train], seed=seed, options=options)
    terms = [t for i, t in enumerate(terms) if i in kept]
    renumber = {old: new for new, old in enumerate(sorted(kept))}
    keep_leaves = [i for i, leaf in enumerate(leaves) if leaf.term in kept]
    leaves = [Leaf(renumber[leaves[i].term], leaves[i].tests) for i in keep_leaves]
    shapes = pts.rule_shapes(leaves, by_name, fields)
    boosting_auc = _boosting_auc(ebm, columns, data, y, train)
    return LearntTerms(terms, leaves, shapes, x[:, keep_leaves], interactions, boosting_auc, boosting_seconds)


@dataclass(frozen=True)
class _Gain:
    """What a term adds out of fold: AUC (mean over the folds, DeLong's standard error pooled) and
    log-likelihood per lead (mean over every training lead, standard error of the paired differences)."""

    auc: float
    auc_se: float
    log_likelihood: float
    log_likelihood_se: float

    def report(self) -> dict[str, float]:
        return {
            "cv_auc_gain": round(self.auc, 4),
            "cv_auc_gain_se": round(self.auc_se, 4),
            "cv_log_likelihood_gain": round(self.log_likelihood, 5),
            "cv_log_likelihood_gain_se": round(self.log_likelihood_se, 5),
        }


def _log_likelihood(y: np.ndarray, logit: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, np.where(y == 1, -logit, logit))


def _paying_terms(
    terms: Sequence[Term],
    leaves: Sequence[Leaf],
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    options: Options,
) -> tuple[set[int], list[dict[str, Any]]]:
    """Terms worth their rules, judged by 3-fold cross-validation on the training rows: the model with
    every term against the one refitted without the term tested. Strong columns (importance at least
    30% of the strongest) are kept untested; a weak column must raise the AUC by half `min_pair_gain`.

    A pair must raise the out-of-fold log-likelihood by `pair_z` standard errors of the per-lead
    differences, and not lower the AUC. The AUC alone cannot tell: a planted interaction (a corner
    where two good values together convert far more) is mostly ranked right by the two columns' own
    rules already, and gains ~0.002 of AUC — while a pure-noise column paired with a strong one breaks
    the strong column's ties at random and moves the AUC by as much either way (a fixed 0.001 kept such
    pairs about half the time). In likelihood the planted corner gains many standard errors; noise loses.

    The indicators are sparse (one rule per term and lead) and each refit starts from the fold's full
    model, so a term costs a few solver iterations rather than a fit from scratch."""
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(x, y))
    matrix = sparse.csr_matrix(x)
    full = [pts.fit_leaves(matrix[fit], y[fit], strength=options.strength) for fit, _ in folds]
    everything = [matrix[check] @ c + b for (_, check), (c, b) in zip(folds, full, strict=True)]

    def gain_of(term: int) -> _Gain:
        use = np.array([i for i, leaf in enumerate(leaves) if leaf.term != term])
        aucs, variances, likelihood = [], [], []
        for (fit, check), (coefficients, intercept), with_it in zip(folds, full, everything, strict=True):
            refit, refit_intercept = pts.fit_leaves(
                matrix[fit][:, use], y[fit], strength=options.strength, start=(coefficients[use], intercept)
            )
            without = matrix[check][:, use] @ refit + refit_intercept
            gain, se = auc_difference(y[check], with_it, without)
            aucs.append(gain)
            variances.append(se**2)
            likelihood.append(_log_likelihood(y[check], with_it) - _log_likelihood(y[check], without))
        per_lead = np.concatenate(likelihood)
        return _Gain(
            float(np.mean(aucs)),
            float(np.sqrt(np.sum(variances))) / len(folds),
            float(per_lead.mean()),
            float(per_lead.std(ddof=1) / np.sqrt(len(per_lead))),
        )

    strongest = max((t.importance for t in terms if not t.is_pair), default=0.0)
    kept, report = set(), []
    for i, term in enumerate(terms):
        if not term.is_pair and term.importance >= 0.3 * strongest:
            kept.add(i)
            continue
        gain = gain_of(i)
        if term.is_pair:
            if gain.auc >= 0 and gain.log_likelihood >= options.pair_z * gain.log_likelihood_se:
                kept.add(i)
            report.append({"columns": list(term.columns), **gain.report(), "kept": i in kept})
        elif gain.auc >= 0.5 * options.min_pair_gain:
            kept.add(i)
    return kept, report


def _boosting_auc(
    ebm: Any, columns: Sequence[Column], data: pd.DataFrame, y: np.ndarray, train: np.ndarray
) -> float:
    from smarketing.scoring.calibrate.terms import boosting_frame

    test = np.setdiff1d(np.arange(len(y)), train)
    return float(roc_auc_score(y[test], ebm.decision_function(boosting_frame(columns, test))))
