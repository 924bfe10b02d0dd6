"""From leaves to integer points: rules rendered for the agreement, a logistic regression over them, and
the rounding that keeps the held-out AUC.

The design matrix is computed by the scoring engine itself (`smarketing.scoring.fit.fit_points`) from
the rules as they will be written, so `smarketing score-file` with the proposed `scoring:` section gives
exactly the scores the report measures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from smarketing.scoring.calibrate.clean import Column
from smarketing.scoring.calibrate.terms import Leaf, Term, Test
from smarketing.scoring.fit import fit_points
from smarketing.scoring.model import FieldTest, FitRule, slug


@dataclass(frozen=True)
class RuleShape:
    """One rule of the proposal without its points: the leaf it renders and its tests as fields."""

    rule_id: str
    leaf: int  # index into the flat list of leaves
    tests: tuple[dict[str, Any], ...]  # {"field": ..., "<operator>": operand}

    def engine_rule(self, points: int) -> FitRule:
        first, *rest = (_field_test(t) for t in self.tests)
        return FitRule(self.rule_id, first.field, first.operator, first.operand, points, tuple(rest))

    def agreement_entry(self, points: int) -> dict[str, Any]:
        if len(self.tests) == 1:
            return {"id": self.rule_id, **self.tests[0], "points": points}
        return {"id": self.rule_id, "all": [dict(t) for t in self.tests], "points": points}


def _field_test(test: Mapping[str, Any]) -> FieldTest:
    ((operator, operand),) = ((k, v) for k, v in test.items() if k != "field")
    if operator in ("in", "not_in"):
        operand = tuple(operand)
    elif operator == "range":
        operand = tuple(None if v is None else float(v) for v in operand)
    return FieldTest(test["field"], operator, operand)


def rule_shapes(
    leaves: Sequence[Leaf], columns: Mapping[str, Column], field_of: Mapping[str, str]
) -> list[RuleShape]:
    """Each leaf as one rule (a leaf of missing values as one rule per way of being missing: blank, and
    the placeholder spellings such as "Select")."""
    shapes: list[RuleShape] = []
    used: set[str] = set()
    for index, leaf in enumerate(leaves):
        for variant in _variants(leaf.tests, columns):
            base = slug("_and_".join(_words(t) for t in leaf.tests))[:60] or "rule"
            rule_id, n = base, 2
            while rule_id in used:
                rule_id, n = f"{base}_{n}", n + 1
            used.add(rule_id)
            shapes.append(RuleShape(rule_id, index, tuple(_entry(t, field_of) for t in variant)))
    return shapes


def _variants(tests: Sequence[Test], columns: Mapping[str, Column]) -> list[tuple[Test, ...]]:
    out: list[tuple[Test, ...]] = [()]
    for test in tests:
        options = [test]
        if test.operator == "missing" and test.operand:
            column = columns[test.column]
            options = [Test(test.column, "missing", True)] if column.has_blanks else []
            if column.missing_spellings:
                options.append(Test(test.column, "in", column.missing_spellings))
        out = [(*prefix, option) for prefix in out for option in options]
    return out


def _words(test: Test) -> str:
    if test.operator == "range":
        low, high = test.operand
        return f"{test.column}_{'' if low is None else f'{low:g}'}_to_{'' if high is None else f'{high:g}'}"
    if test.operator == "missing":
        return f"{test.column}_{'missing' if test.operand else 'filled'}"
    return f"{test.column}_{'' if test.operator == 'in' else 'not_'}{'_'.join(test.operand[:2])}"


def _entry(test: Test, field_of: Mapping[str, str]) -> dict[str, Any]:
    operand: Any = test.operand
    if test.operator == "range":
        operand = [None if v is None else _number(v) for v in operand]
    elif test.operator in ("in", "not_in"):
        operand = list(operand)
    return {"field": field_of[test.column], test.operator: operand}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def leaf_matrix(shapes: Sequence[RuleShape], leaf_count: int, frame: pd.DataFrame) -> np.ndarray:
    """(rows, leaves) 0/1: which leaf of each term a lead falls in, as the engine evaluates the rules."""
    matched = fit_points(frame, [s.engine_rule(1) for s in shapes], {})
    out = np.zeros((len(frame), leaf_count))
    for j, shape in enumerate(shapes):
        out[:, shape.leaf] = np.maximum(out[:, shape.leaf], matched[:, j])
    return out


def fit_leaves(
    x: np.ndarray | sparse.csr_matrix,
    outcome: np.ndarray,
    *,
    strength: float,
    start: tuple[np.ndarray, float] | None = None,
) -> tuple[np.ndarray, float]:
    """Coefficients and intercept of an L2-regularised logistic regression over the leaf indicators.

    `start` (coefficients, intercept) warm-starts the solver: refitting without a few columns from the
    full model's solution takes a fraction of the iterations of a cold fit.
    """
    model = LogisticRegression(C=strength, max_iter=5000, warm_start=start is not None)
    if start is not None:
        model.coef_, model.intercept_ = start[0][None, :].copy(), np.array([start[1]])
    model.fit(x, outcome)
    return model.coef_[0], float(model.intercept_[0])


def shift_to_references(
    coefficients: np.ndarray, leaves: Sequence[Leaf], reference: Mapping[int, int]
) -> np.ndarray:
    """A column's term covers every lead once: moving all its leaves by the same amount changes no
    ranking, so its reference leaf is set to 0 points and needs no rule. Pair terms stay as fitted."""
    shifted = coefficients.copy()
    for term_index, ref in reference.items():
        members = [i for i, leaf in enumerate(leaves) if leaf.term == term_index]
        shifted[members] -= coefficients[ref]
    return shifted


def references(x_train: np.ndarray, terms: Sequence[Term], leaves: Sequence[Leaf]) -> dict[int, int]:
    """Column term -> its most common leaf among the training rows (the leaf worth 0 points)."""
    counts = x_train.sum(axis=0)
    out = {}
    for term_index, term in enumerate(terms):
        if term.is_pair:
            continue
        members = [i for i, leaf in enumerate(leaves) if leaf.term == term_index]
        out[term_index] = max(members, key=lambda i: counts[i])
    return out


def integer_points(
    coefficients: np.ndarray, x: np.ndarray, outcome: np.ndarray, *, tolerance: float
) -> tuple[np.ndarray, float]:
    """The smallest scale whose rounded points keep the AUC on `x` (the training leads) within
    `tolerance` of the unrounded model's."""
    exact = roc_auc_score(outcome, x @ coefficients)
    spread = float(np.max(np.abs(coefficients))) or 1.0
    best: tuple[np.ndarray, float] | None = None
    # Start where the strongest leaf is worth ~10 points; go finer until rounding costs (almost) nothing.
    for top in (10, 15, 20, 25, 30, 40, 50, 75, 100):
        scale = top / spread
        rounded = np.round(coefficients * scale)
        best = (rounded.astype(np.int64), scale)
        if exact - roc_auc_score(outcome, x @ rounded) <= tolerance:
            break
    assert best is not None
    return best


def grade_thresholds(scores: np.ndarray) -> dict[str, int]:
    """A: top 10%, B: next 20%, C: next 30%, D: everyone else (thresholds strictly decreasing)."""
    cuts = [math.ceil(np.quantile(scores, q)) for q in (0.9, 0.7, 0.4)]
    grades, last = {}, None
    for letter, cut in zip("ABC", cuts, strict=True):
        if last is not None and cut >= last:
            cut = last - 1
        grades[letter] = cut
        last = cut
    grades["D"] = min(int(np.floor(scores.min())), last - 1)
    return grades
