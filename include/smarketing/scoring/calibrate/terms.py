"""What the outcome depends on, as terms a person can read.

1. An explainable boosting machine (interpret's EBM) is fitted on the training split: a sum of one
   shape function per column plus a few pairwise terms, the pairs chosen by FAST (the strongest
   interactions between two columns).
2. Each term is distilled into a handful of rectangles by a small regression tree fitted to the term's
   own contribution on the training rows. A column's term becomes ranges of a number or groups of
   values; a pairwise term becomes compound rules, one test per column ("PageValues from 2.5 and Month in
   [Nov]"). Rows without a value form a leaf of their own (`missing`).

The leaves are only the rules' shapes: their points come from a logistic regression over the leaves
(`smarketing.scoring.calibrate.points`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeRegressor

from smarketing.scoring.calibrate.clean import OTHER, Column


@dataclass(frozen=True)
class Test:
    """One condition on one column: `range` (low <= x < high, None = open), `in`, `not_in` or `missing`."""

    column: str
    operator: str
    operand: Any

    def describe(self) -> str:
        if self.operator == "range":
            low, high = self.operand
            if low is None:
                return f"{self.column} below {high:g}"
            if high is None:
                return f"{self.column} from {low:g}"
            return f"{self.column} from {low:g} to below {high:g}"
        if self.operator == "missing":
            return f"{self.column} {'missing' if self.operand else 'filled'}"
        word = "in" if self.operator == "in" else "not in"
        return f"{self.column} {word} [{', '.join(self.operand)}]"


@dataclass(frozen=True)
class Leaf:
    """A rectangle of one term: the leads passing every test."""

    term: int
    tests: tuple[Test, ...]

    def describe(self) -> str:
        return " and ".join(test.describe() for test in self.tests)


@dataclass
class Term:
    """A column (or a pair of columns) and its leaves; main terms cover every lead exactly once."""

    columns: tuple[str, ...]
    importance: float  # the boosting model's mean absolute contribution of the term
    leaves: list[Leaf]

    @property
    def is_pair(self) -> bool:
        return len(self.columns) == 2


def fit_boosting(
    columns: Sequence[Column], rows: np.ndarray, outcome: np.ndarray, *, interactions: int, seed: int
) -> Any:
    """The explainable boosting machine on `rows` (indices into the columns' values)."""
    from interpret.glassbox import ExplainableBoostingClassifier

    ebm = ExplainableBoostingClassifier(
        feature_names=[c.name for c in columns],
        feature_types=["continuous" if c.kind == "numeric" else "nominal" for c in columns],
        interactions=interactions,
        outer_bags=4,  # 14 by default: four keep the terms' shapes and cost a third of the time
        random_state=seed,
        n_jobs=1,
    )
    with warnings.catch_warnings():
        # interpret warns that its plots do not show missing values; we read the terms, not the plots.
        warnings.filterwarnings("ignore", message="Missing values detected", category=UserWarning)
        ebm.fit(boosting_frame(columns, rows), outcome)
    return ebm


def boosting_frame(columns: Sequence[Column], rows: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({c.name: c.model_values().iloc[rows].reset_index(drop=True) for c in columns})


def distil(
    ebm: Any,
    columns: Sequence[Column],
    rows: np.ndarray,
    *,
    main_leaves: int,
    pair_leaves: int,
    min_leaf: int,
    seed: int,
) -> list[Term]:
    """Every term of `ebm` as leaves (terms the tree cannot split are left out: they rank nobody)."""
    contributions = ebm.eval_terms(boosting_frame(columns, rows))
    terms = []
    for j, features in enumerate(ebm.term_features_):
        members = [columns[f] for f in features]
        score = contributions[:, j]
        leaves = _term_leaves(
            len(terms),
            members,
            rows,
            score,
            max_leaves=pair_leaves if len(members) == 2 else main_leaves,
            min_leaf=min_leaf,
            seed=seed,
        )
        if len(leaves) > 1 or (leaves and len(members) == 2):
            importance = float(np.mean(np.abs(score)))
            terms.append(Term(tuple(c.name for c in members), importance, leaves))
    return terms


def _term_leaves(
    term: int,
    members: Sequence[Column],
    rows: np.ndarray,
    score: np.ndarray,
    *,
    max_leaves: int,
    min_leaf: int,
    seed: int,
) -> list[Leaf]:
    present = ~np.any([c.missing[rows] for c in members], axis=0)
    encoders = [_Encoder(c, rows[present], score[present]) for c in members]
    x = np.column_stack([e.encoded(c, rows[present]) for e, c in zip(encoders, members, strict=True)])
    tree = DecisionTreeRegressor(max_leaf_nodes=max_leaves, min_samples_leaf=min_leaf, random_state=seed)
    tree.fit(x, score[present])
    leaves = [
        Leaf(
            term,
            tuple(e.test(c, low, high) for e, c, (low, high) in zip(encoders, members, box, strict=True)),
        )
        for box in _boxes(tree, len(members))
    ]
    if len(members) == 1 and not present.all():
        leaves.append(Leaf(term, (Test(members[0].name, "missing", True),)))
    return leaves


def _boxes(tree: DecisionTreeRegressor, width: int) -> list[list[tuple[float, float]]]:
    """Each leaf's bounds per feature: (low, high] in the tree's own thresholds (-inf, inf when open)."""
    t = tree.tree_
    out: list[list[tuple[float, float]]] = []
    stack: list[tuple[int, list[tuple[float, float]]]] = [(0, [(-math.inf, math.inf)] * width)]
    while stack:
        node, box = stack.pop()
        if t.children_left[node] < 0:
            out.append(box)
            continue
        f, threshold = int(t.feature[node]), float(t.threshold[node])
        left, right = list(box), list(box)
        left[f] = (box[f][0], min(box[f][1], threshold))
        right[f] = (max(box[f][0], threshold), box[f][1])
        stack += [(int(t.children_right[node]), right), (int(t.children_left[node]), left)]
    return out[::-1]


class _Encoder:
    """A column as the tree sees it: numbers as they are, labels as their rank by mean contribution
    (so that a split groups labels that score alike). Turns a leaf's bounds back into a test."""

    def __init__(self, column: Column, rows: np.ndarray, score: np.ndarray) -> None:
        if column.kind == "numeric":
            assert column.numbers is not None
            self.observed = np.unique(column.numbers[rows])
            self.order: list[str] = []
        else:
            assert column.labels is not None
            means = pd.Series(score).groupby(column.labels[rows]).mean().sort_values(kind="stable")
            self.order = [str(label) for label in means.index]

    def encoded(self, column: Column, rows: np.ndarray) -> np.ndarray:
        if column.kind == "numeric":
            assert column.numbers is not None
            return column.numbers[rows]
        assert column.labels is not None
        rank = {label: i for i, label in enumerate(self.order)}
        return np.array([rank[label] for label in column.labels[rows]], dtype="float64")

    def test(self, column: Column, low: float, high: float) -> Test:
        if column.kind == "numeric":
            if low == -math.inf and high == math.inf:
                return Test(column.name, "missing", False)
            # The tree splits `x <= t` with t between two observed values: a short number in between
            # reads better and splits the observed values the same way (`x < nice`).
            bounds = [None if math.isinf(b) else _nice_cut(self.observed, b) for b in (low, high)]
            return Test(column.name, "range", tuple(bounds))
        chosen = [label for i, label in enumerate(self.order) if low < i <= high]
        if len(chosen) == len(self.order):
            return Test(column.name, "missing", False)
        if OTHER in chosen:
            known = [s for label in self.order if label not in chosen for s in column.spellings[label]]
            return Test(column.name, "not_in", tuple(known))
        return Test(column.name, "in", tuple(s for label in chosen for s in column.spellings[label]))


def _nice_cut(observed: np.ndarray, threshold: float) -> float:
    """The shortest decimal c with below < c <= above, where below/above are the observed values on
    either side of the tree's threshold."""
    i = int(np.searchsorted(observed, threshold, side="right"))
    below, above = float(observed[i - 1]), float(observed[min(i, len(observed) - 1)])
    for digits in range(-6, 10):
        step = 10.0**-digits
        cut = round(math.floor(below / step + 1) * step, max(digits, 0))
        if below < cut <= above:
            return cut
    return above
