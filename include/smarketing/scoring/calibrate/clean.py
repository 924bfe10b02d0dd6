"""Cleaning the input of a calibration and typing its columns.

Placeholders ("Select", "N/A", "unknown", "-", "") become missing; text values are grouped by a
normalised key (case, spacing, punctuation) and near-identical spellings ("technolgy" / "technology")
are merged into the most frequent one; numbers written as text are parsed ("1 200", "3,5"). Columns
that identify rows (almost every value distinct) are left out, and so is any column that predicts the
outcome almost perfectly on its own: it is the outcome in disguise (a close value, a won date, a field
filled in only after the sale).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

PLACEHOLDERS = frozenset(
    {
        "",
        "select",
        "-",
        "--",
        "?",
        "na",
        "n/a",
        "n.a.",
        "none",
        "null",
        "nan",
        "unknown",
        "not specified",
        "not available",
        "not provided",
        "undefined",
        "(blank)",
        "blank",
    }
)
POSITIVE = frozenset(
    {"1", "1.0", "true", "t", "yes", "y", "won", "win", "converted", "closedwon", "closed won"}
)
NEGATIVE = frozenset(
    {"0", "0.0", "false", "f", "no", "n", "lost", "loss", "not converted", "closedlost", "closed lost"}
)
_KEY = re.compile(r"[^0-9a-z]+")
_NUMBER_NOISE = re.compile(r"[\s$€£%]")


def clean_text(values: pd.Series) -> pd.Series:
    """Trimmed text with placeholders as missing."""
    text = values.astype("string").str.strip()
    return text.mask(text.str.casefold().isin(PLACEHOLDERS))


def parse_numbers(values: pd.Series) -> np.ndarray:
    """Numbers from numbers written as text ("1 200", "3,5", "$40"); NaN where there is none."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    text = clean_text(values).str.replace(_NUMBER_NOISE, "", regex=True)
    # "3,5" is a decimal comma when there is no dot; "1,200" a thousands separator.
    comma_decimal = text.str.fullmatch(r"-?\d+,\d{1,2}").fillna(False)
    text = text.where(~comma_decimal, text.str.replace(",", ".", regex=False)).str.replace(
        ",", "", regex=False
    )
    return pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def parse_outcome(values: pd.Series) -> pd.Series:
    """1 / 0 per row; missing when the row's outcome is unknown (open deals, blanks)."""
    text = values.astype("string").str.strip().str.casefold()
    out = pd.Series(np.nan, index=values.index)
    out[text.isin(POSITIVE)] = 1.0
    out[text.isin(NEGATIVE)] = 0.0
    return out


def _key(value: str) -> str:
    return _KEY.sub("", value.casefold())


def merge_variants(text: pd.Series, *, similarity: float = 0.88) -> dict[str, list[str]]:
    """Canonical key -> raw spellings, after folding case/spacing/punctuation and near-identical keys."""
    counts = text.dropna().value_counts()
    groups: dict[str, list[str]] = {}
    weight: dict[str, int] = {}
    for raw, n in counts.items():
        key = _key(str(raw)) or str(raw).casefold()
        groups.setdefault(key, []).append(str(raw))
        weight[key] = weight.get(key, 0) + int(n)
    # Merge rare keys into a frequent, nearly identical one (typos), most frequent first.
    keys = sorted(weight, key=lambda k: -weight[k])
    merged: dict[str, list[str]] = {}
    for key in keys:
        target = next(
            (
                k
                for k in merged
                if len(key) >= 5
                and abs(len(k) - len(key)) <= 2
                and difflib.SequenceMatcher(None, k, key).ratio() >= similarity
                and not (_digits(k) and _digits(key))
            ),
            None,
        )
        merged.setdefault(target or key, []).extend(groups[key])
    return merged


def _digits(key: str) -> bool:
    return any(c.isdigit() for c in key)


OTHER = "other"  # the label of rare values of a categorical column


@dataclass
class Column:
    """One usable input column, typed: numbers (NaN = missing) or labels (None = missing)."""

    name: str
    kind: str  # "numeric" or "categorical"
    numbers: np.ndarray | None = None
    labels: np.ndarray | None = None  # object: canonical label, OTHER, or None
    spellings: dict[str, tuple[str, ...]] = field(default_factory=dict)  # label -> raw spellings
    missing_spellings: tuple[str, ...] = ()  # non-blank values read as missing ("Select", "n/a")
    has_blanks: bool = False

    @property
    def missing(self) -> np.ndarray:
        if self.kind == "numeric":
            assert self.numbers is not None
            return np.isnan(self.numbers)
        assert self.labels is not None
        return pd.isna(self.labels)

    def model_values(self) -> pd.Series:
        """The column as the boosting model reads it: floats, or labels with NaN for missing."""
        if self.kind == "numeric":
            return pd.Series(self.numbers, dtype="float64")
        return pd.Series(self.labels, dtype="object").where(~self.missing, np.nan)


def _categorical(name: str, text: pd.Series, *, min_count: int, max_levels: int) -> Column | None:
    groups = merge_variants(text)
    canonical = {raw: spellings for spellings in groups.values() for raw in spellings}
    label_of = {}
    sizes = text.value_counts()
    for spellings in groups.values():
        top = max(spellings, key=lambda s: int(sizes.get(s, 0)))
        label_of.update({s: top for s in spellings})
    labels = text.map(label_of)
    counts = labels.value_counts()
    kept = [str(label) for label, n in counts.items() if n >= min_count][:max_levels]
    if not kept:
        return None
    values = labels.where(labels.isin(kept) | labels.isna(), OTHER).to_numpy(dtype=object, na_value=None)
    seen = set(values)
    if len(seen - {None}) + (None in seen) < 2:  # one value and nothing else: it tells nothing
        return None
    spellings = {
        label: tuple(sorted(canonical[label], key=lambda s: -int(sizes.get(s, 0)))) for label in kept
    }
    return Column(name, "categorical", labels=values, spellings=spellings)


def _numeric(name: str, numbers: np.ndarray) -> Column | None:
    if len(np.unique(numbers[~np.isnan(numbers)])) < 2:
        return None
    return Column(name, "numeric", numbers=numbers)


def _missing_spellings(values: pd.Series, numeric: bool) -> tuple[tuple[str, ...], bool]:
    """Non-blank spellings that read as missing (at most 20), and whether blank values occur."""
    raw = values.astype("string").str.strip()
    blank = raw.isna() | (raw == "")
    missing = clean_text(values).isna() & ~blank
    if numeric:
        missing |= ~blank & np.isnan(parse_numbers(values))
    spellings = sorted(raw[missing].dropna().unique().tolist())[:20]
    return tuple(str(s) for s in spellings), bool(blank.any())


def prepare_columns(
    frame: pd.DataFrame, candidates: Sequence[str], *, min_count: int, max_levels: int
) -> tuple[list[Column], dict[str, str]]:
    """The usable columns, typed, and the reason each other candidate was left out."""
    columns, skipped = [], {}
    n = len(frame)
    for name in candidates:
        values = frame[name]
        text = clean_text(values)
        present = int(text.notna().sum())
        if present == 0:
            skipped[name] = "empty"
            continue
        numbers = parse_numbers(values)
        distinct = text.nunique()
        if np.isfinite(numbers).sum() / present >= 0.95 and distinct > 10:
            column = _numeric(name, numbers)
        elif distinct > max(0.5 * n, 50) and distinct > 5 * max_levels:
            skipped[name] = "identifier or free text (almost every value distinct)"
            continue
        else:
            column = _categorical(name, text, min_count=min_count, max_levels=max_levels)
        if column is None:
            skipped[name] = "a single usable value"
            continue
        column.missing_spellings, column.has_blanks = _missing_spellings(values, column.kind == "numeric")
        columns.append(column)
    return columns, skipped


def _alone_auc(column: Column, outcome: np.ndarray) -> float:
    """AUC of the column's own conversion rates (20 quantile bins or one per label, missing apart)."""
    if column.kind == "numeric":
        assert column.numbers is not None
        bins = pd.qcut(pd.Series(column.numbers), 20, labels=False, duplicates="drop")
        groups = bins.fillna(-1).to_numpy()
    else:
        groups = pd.Series(column.labels, dtype="object").fillna("\x00missing").to_numpy()
    rates = pd.Series(outcome).groupby(groups).transform("mean").to_numpy()
    return float(roc_auc_score(outcome, rates))


def leaks(columns: Sequence[Column], outcome: np.ndarray, *, leak_auc: float) -> dict[str, float]:
    """Columns that alone predict the outcome almost perfectly (AUC >= leak_auc): column -> AUC."""
    found = {}
    for column in columns:
        auc = _alone_auc(column, outcome)
        if auc >= leak_auc:
            found[column.name] = round(auc, 4)
    return found
