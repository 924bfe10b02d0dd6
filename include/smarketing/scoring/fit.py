"""Fit rules evaluated column-wise over a frame of leads (one column per rule field).

Comparison semantics, the same for the warehouse, files and calibration:

* text is compared trimmed and case-insensitively (`FR` equals `fr `); a number operand compares
  numerically (`"0050"` equals 50); a true/false operand accepts true/false, t/f, 1/0, yes/no;
* `in_list` compares against the named list the same way as `in`;
* `regex` searches the value as written with RE2 (put `(?i)` first to ignore case; the dialect is
  `smarketing.config.patterns`);
* `between` is numeric and includes both ends; `range: [low, high]` is low <= value < high (null: open);
  a value that is not a number never matches either;
* `not_in` matches a filled value outside the list;
* `missing: true` matches an empty or blank value, `missing: false` any other value.
An empty value matches nothing but `missing: true`. A compound rule (`all:`) matches a lead that passes
every one of its tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from smarketing.config.patterns import pattern_hits
from smarketing.scoring.model import FieldTest, FitRule

_TRUE = frozenset({"true", "t", "1", "yes", "y"})
_FALSE = frozenset({"false", "f", "0", "no", "n"})


class FieldValues:
    """One field's values with the normalised views the operators need.

    Fields hold few distinct values (countries, industries, titles) among many leads, so the views and
    the tests run on the distinct values once and are spread back to the leads through their codes.
    """

    def __init__(self, values: pd.Series) -> None:
        codes, distinct = pd.factorize(values, use_na_sentinel=True)
        self.codes = codes  # -1: no value
        self.raw = pd.Series(distinct, dtype="string")
        self._text: pd.Series | None = None
        self._numbers: pd.Series | None = None

    @property
    def text(self) -> pd.Series:
        if self._text is None:
            self._text = self.raw.str.strip().str.casefold()
        return self._text

    @property
    def numbers(self) -> pd.Series:
        if self._numbers is None:
            self._numbers = pd.to_numeric(self.raw, errors="coerce").astype("float64")
        return self._numbers

    @property
    def blank(self) -> np.ndarray:
        return (self.text.isna() | (self.text == "")).to_numpy(dtype=bool, na_value=True)

    def spread(self, per_value: np.ndarray, when_missing: bool) -> np.ndarray:
        """Per-lead booleans from per-distinct-value ones; leads without a value get `when_missing`."""
        return np.append(per_value, when_missing)[self.codes]


def _scalar_match(values: FieldValues, operand: object) -> np.ndarray:
    if isinstance(operand, bool):
        wanted = _TRUE if operand else _FALSE
        return values.text.isin(wanted).to_numpy(dtype=bool, na_value=False)
    if isinstance(operand, (int, float)):
        return (values.numbers == float(operand)).to_numpy(dtype=bool, na_value=False)
    return (values.text == str(operand).strip().casefold()).to_numpy(dtype=bool, na_value=False)


def _in_match(values: FieldValues, operands: Sequence[object]) -> np.ndarray:
    texts = [str(v).strip().casefold() for v in operands if isinstance(v, str)]
    # copy=True: pandas 3 may hand back a read-only view, and the loop ORs into it in place.
    result = values.text.isin(texts).to_numpy(dtype=bool, na_value=False, copy=True)
    for other in (v for v in operands if not isinstance(v, str)):
        result |= _scalar_match(values, other)
    return result


def rule_matches(
    rule: FitRule | FieldTest, values: FieldValues, lists: Mapping[str, frozenset[str]]
) -> np.ndarray:
    """Boolean array: which leads one field test matches (a lead without a value matches only `missing`)."""
    if rule.operator == "missing":
        blank = values.spread(values.blank, when_missing=True)
        return blank if rule.operand else ~blank
    return values.spread(_distinct_matches(rule, values, lists), when_missing=False)


def _distinct_matches(
    rule: FitRule | FieldTest, values: FieldValues, lists: Mapping[str, frozenset[str]]
) -> np.ndarray:
    op = rule.operator
    if op == "equals":
        return _scalar_match(values, rule.operand)
    if op == "in":
        return _in_match(values, rule.operand)
    if op == "not_in":
        return ~_in_match(values, rule.operand) & ~values.blank
    if op == "in_list":
        return values.text.isin(lists[rule.operand]).to_numpy(dtype=bool, na_value=False)
    if op == "regex":
        return pattern_hits(values.raw, rule.operand)
    if op == "between":
        low, high = rule.operand
        numbers = values.numbers
        return ((numbers >= low) & (numbers <= high)).to_numpy(dtype=bool, na_value=False)
    if op == "range":
        low, high = rule.operand
        numbers = values.numbers.to_numpy(dtype="float64", na_value=np.nan)
        inside = ~np.isnan(numbers)
        if low is not None:
            inside &= numbers >= low
        if high is not None:
            inside &= numbers < high
        return inside
    raise ValueError(f"unknown fit operator {op!r}")


def field_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The frame's column for a rule field: the exact name, else its last part (`attributes.origin` -> `origin`).

    A field the frame does not have reads as empty everywhere (it matches only `missing: true`).
    """
    if name in frame.columns:
        return frame[name]
    short = name.rsplit(".", 1)[-1]
    if short in frame.columns:
        return frame[short]
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def fit_points(
    frame: pd.DataFrame,
    rules: Sequence[FitRule],
    lists: Mapping[str, frozenset[str]],
    cache: dict[str, FieldValues] | None = None,
) -> np.ndarray:
    """Points per lead and rule, shape (len(frame), len(rules)), int32; 0 where a rule does not match.

    `cache` shares the normalised fields between calls (profiles reading the same fields).
    """
    out = np.zeros((len(frame), len(rules)), dtype=np.int32)
    cache = {} if cache is None else cache

    def field_values(name: str) -> FieldValues:
        values = cache.get(name)
        if values is None:
            values = cache[name] = FieldValues(field_column(frame, name).reset_index(drop=True))
        return values

    for j, rule in enumerate(rules):
        matched = rule_matches(rule, field_values(rule.field), lists)
        for test in rule.also:  # a compound rule: every test must pass
            matched &= rule_matches(test, field_values(test.field), lists)
        out[:, j] = np.where(matched, rule.points, 0)
    return out
