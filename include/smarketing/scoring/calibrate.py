"""Calibrate fit points on outcomes: which attribute values actually predict a sale, in integer points.

From any table of leads with a known outcome (converted / won: 0 or 1):

1. **Clean** — placeholders ("Select", "N/A", "unknown", "-", "") become missing; text values are
   grouped by a normalised key (case, spacing, punctuation) and near-identical spellings
   ("technolgy" / "technology") are merged into the most frequent one; numbers written as text are
   parsed ("1 200", "3,5"). Columns that identify rows (almost every value distinct) are left out, and
   so is any column that predicts the outcome almost perfectly on its own (it is the outcome in
   disguise, e.g. a close value or a won date).
2. **Encode** — each categorical column becomes one level per frequent value plus "other" and
   "missing"; each numeric column becomes quantile bins plus "missing". Every lead sits in exactly one
   level of each column.
3. **Fit** — L2-regularised logistic regression on a stratified training split.
4. **Round** — coefficients, shifted so the reference level of each column ("other", else the most
   common one) is 0, are scaled and rounded to integers; the smallest scale whose held-out AUC is
   within `tolerance` of the unrounded model wins.
5. **Report** — on the held-out split: AUC, conversion and lift by score decile, for the integer
   points and the unrounded model they came from.

The result is a `scoring:` section (fit rules with `in` / `between` / `missing`, grades from the score
distribution) that `smarketing score-file` and the pipeline run as is.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from smarketing.errors import SmarketingError
from smarketing.scoring.model import slug

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


class CalibrationError(SmarketingError):
    """The input cannot be calibrated (no outcome, one class only, no usable column)."""


@dataclass
class Level:
    label: str  # what the report shows
    kind: str  # "values", "range", "missing", "other"
    values: tuple[str, ...] = ()  # raw spellings that belong to the level
    low: float | None = None
    high: float | None = None
    count: int = 0


@dataclass
class Feature:
    column: str
    kind: str  # "categorical" or "numeric"
    levels: list[Level] = field(default_factory=list)
    reference: int = 0  # level given 0 points
    missing_spellings: tuple[str, ...] = ()  # non-blank values read as missing ("Select", "n/a")
    has_blanks: bool = False

    def assign(self, values: pd.Series) -> np.ndarray:
        """Level index of each value (every value gets exactly one)."""
        out = np.full(len(values), -1, dtype=np.int64)
        if self.kind == "numeric":
            numbers = parse_numbers(values)
            for i, level in enumerate(self.levels):
                if level.kind == "range":
                    out[(numbers >= level.low) & (numbers <= level.high) & (out < 0)] = i
                elif level.kind == "missing":
                    out[np.isnan(numbers)] = i
            # Values outside every bin (new data beyond the extremes) match no rule: the reference level.
            out[out < 0] = self.reference
            return out
        text = clean_text(values)
        lookup = {v: i for i, level in enumerate(self.levels) for v in level.values}
        mapped = text.map(lookup)
        out = mapped.to_numpy(dtype="float64", na_value=np.nan)
        missing = next((i for i, lv in enumerate(self.levels) if lv.kind == "missing"), None)
        other = next((i for i, lv in enumerate(self.levels) if lv.kind == "other"), self.reference)
        result = np.where(np.isnan(out), other, out).astype(np.int64)
        if missing is not None:
            result[text.isna().to_numpy()] = missing
        return result


# ---------------------------------------------------------------------------------------------
# Cleaning
# ---------------------------------------------------------------------------------------------
def clean_text(values: pd.Series) -> pd.Series:
    """Trimmed text with placeholders as missing."""
    text = values.astype("string").str.strip()
    return text.mask(text.str.casefold().isin(PLACEHOLDERS))


def parse_numbers(values: pd.Series) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------
def _nice(value: float, decimals: int) -> float:
    return round(value, decimals)


def _decimals(numbers: np.ndarray) -> int:
    finite = numbers[np.isfinite(numbers)]
    for d in range(5):
        if np.allclose(finite, np.round(finite, d)):
            return d
    return 4


def numeric_feature(column: str, numbers: np.ndarray, *, bins: int) -> Feature | None:
    present = numbers[~np.isnan(numbers)]
    if len(np.unique(present)) < 2:
        return None
    decimals = _decimals(present)
    step = 10.0**-decimals
    edges = np.unique(np.round(np.quantile(present, np.linspace(0, 1, bins + 1)), decimals))
    if len(edges) < 2:
        return None
    levels = []
    for i in range(len(edges) - 1):
        low = float(edges[i])
        high = float(edges[i + 1]) if i == len(edges) - 2 else _nice(float(edges[i + 1]) - step, decimals)
        if high < low:
            continue
        label = f"{low:g} to {high:g}"
        levels.append(
            Level(label, "range", low=low, high=high, count=int(((present >= low) & (present <= high)).sum()))
        )
    if np.isnan(numbers).any():
        levels.append(Level("missing", "missing", count=int(np.isnan(numbers).sum())))
    feature = Feature(column, "numeric", levels)
    feature.reference = int(np.argmax([lv.count for lv in levels]))
    return feature


def categorical_feature(column: str, text: pd.Series, *, min_count: int, max_levels: int) -> Feature | None:
    groups = merge_variants(text)
    sizes = {key: int(text.isin(spellings).sum()) for key, spellings in groups.items()}
    frequent = [k for k in sorted(sizes, key=lambda k: -sizes[k]) if sizes[k] >= min_count][:max_levels]
    if not frequent:
        return None
    levels = []
    for key in frequent:
        spellings = sorted(groups[key], key=lambda s: -int((text == s).sum()))
        levels.append(Level(spellings[0], "values", tuple(spellings), count=sizes[key]))
    rest = sum(sizes.values()) - sum(lv.count for lv in levels)
    if rest:
        levels.append(Level("other", "other", count=rest))
    missing = int(text.isna().sum())
    if missing:
        levels.append(Level("missing", "missing", count=missing))
    if len(levels) < 2:
        return None
    feature = Feature(column, "categorical", levels)
    other = [i for i, lv in enumerate(levels) if lv.kind == "other"]
    feature.reference = other[0] if other else int(np.argmax([lv.count for lv in levels]))
    return feature


def _missing_spellings(values: pd.Series, numeric: bool) -> tuple[tuple[str, ...], bool]:
    """Non-blank spellings that read as missing (at most 20), and whether blank values occur."""
    raw = values.astype("string").str.strip()
    blank = raw.isna() | (raw == "")
    missing = clean_text(values).isna() & ~blank
    if numeric:
        missing |= ~blank & np.isnan(parse_numbers(values))
    spellings = sorted(raw[missing].dropna().unique().tolist())[:20]
    return tuple(str(s) for s in spellings), bool(blank.any())


def build_features(
    frame: pd.DataFrame, columns: Sequence[str], *, min_count: int, max_levels: int, bins: int
) -> tuple[list[Feature], dict[str, str]]:
    features, skipped = [], {}
    n = len(frame)
    for column in columns:
        values = frame[column]
        text = clean_text(values)
        present = int(text.notna().sum())
        if present == 0:
            skipped[column] = "empty"
            continue
        numbers = parse_numbers(values)
        numeric_share = np.isfinite(numbers).sum() / present
        distinct = text.nunique()
        if numeric_share >= 0.95 and distinct > max_levels:
            feature = numeric_feature(column, numbers, bins=bins)
        elif distinct > max(0.5 * n, 50) and distinct > 5 * max_levels:
            skipped[column] = "identifier or free text (almost every value distinct)"
            continue
        else:
            feature = categorical_feature(column, text, min_count=min_count, max_levels=max_levels)
        if feature is None:
            skipped[column] = "a single usable value"
            continue
        feature.missing_spellings, feature.has_blanks = _missing_spellings(values, feature.kind == "numeric")
        features.append(feature)
    return features, skipped


def design(features: Sequence[Feature], frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One-hot matrix over every (feature, level)."""
    blocks, index = [], []
    for f, feature in enumerate(features):
        assigned = feature.assign(frame[feature.column])
        block = np.zeros((len(frame), len(feature.levels)))
        block[np.arange(len(frame)), assigned] = 1.0
        blocks.append(block)
        index += [(f, i) for i in range(len(feature.levels))]
    return np.hstack(blocks) if blocks else np.zeros((len(frame), 0)), index


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def decile_table(score: np.ndarray, outcome: np.ndarray) -> list[dict[str, Any]]:
    """Conversion and lift per score decile (decile 1 = highest scores)."""
    order = pd.Series(score).rank(method="first", ascending=False).to_numpy()
    decile = np.minimum((order - 1) * 10 // len(score), 9).astype(int) + 1
    base = outcome.mean()
    rows = []
    for d in range(1, 11):
        mask = decile == d
        if not mask.any():
            continue
        rate = float(outcome[mask].mean())
        rows.append(
            {
                "decile": d,
                "leads": int(mask.sum()),
                "converted": int(outcome[mask].sum()),
                "conversion_rate": round(rate, 4),
                "lift": round(rate / base, 3) if base else None,
                "min_score": float(np.min(score[mask])),
            }
        )
    return rows


def metrics(score: np.ndarray, outcome: np.ndarray) -> dict[str, Any]:
    return {"auc": round(float(roc_auc_score(outcome, score)), 4), "deciles": decile_table(score, outcome)}


# ---------------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------------
@dataclass
class Calibration:
    features: list[Feature]
    points: dict[tuple[int, int], int]  # (feature, level) -> integer points
    coefficients: dict[tuple[int, int], float]  # shifted, unrounded
    scale: float
    grades: dict[str, int]
    report: dict[str, Any]
    field_of: dict[str, str]

    def fit_rules(self) -> list[dict[str, Any]]:
        rules, used = [], set()
        for (f, i), points in sorted(self.points.items()):
            if points == 0:
                continue
            feature, level = self.features[f], self.features[f].levels[i]
            rule: dict[str, Any] = {"field": self.field_of[feature.column]}
            if level.kind == "missing":
                # Blank values and placeholders ("Select") are both "missing": one rule for each spelling kind.
                variants = []
                if feature.has_blanks:
                    variants.append({"missing": True})
                if feature.missing_spellings:
                    variants.append({"in": list(feature.missing_spellings)})
                for n, variant in enumerate(variants):
                    suffix = "" if n == 0 else "_placeholder"
                    rule_id = self._unique(slug(f"{feature.column}_missing{suffix}")[:60], used)
                    rules.append({"id": rule_id, "field": rule["field"], **variant, "points": int(points)})
                continue
            if level.kind == "range":
                rule["between"] = [_number(level.low), _number(level.high)]
            elif level.kind == "values":
                rule["in"] = list(level.values)
            else:
                continue  # "other" is the reference: 0 points by construction
            rule_id = self._unique(slug(f"{feature.column}_{level.label}")[:60] or "rule", used)
            rules.append({"id": rule_id, **rule, "points": int(points)})
        return rules

    @staticmethod
    def _unique(base: str, used: set[str]) -> str:
        rule_id, n = base, 2
        while rule_id in used:
            rule_id, n = f"{base}_{n}", n + 1
        used.add(rule_id)
        return rule_id

    def scoring_section(self, version: str) -> dict[str, Any]:
        return {"version": version, "fit": self.fit_rules(), "grades": dict(self.grades)}


def _number(value: float | None) -> float | int:
    assert value is not None
    return int(value) if float(value).is_integer() else float(value)


def default_field(column: str) -> str:
    """The rule field for a column: itself when the agreement knows it, else `attributes.<column>`."""
    from smarketing.config import resolve_field

    try:
        resolve_field(column)
    except ValueError:
        return f"attributes.{column}"
    return column


def integer_points(
    coefficients: dict[tuple[int, int], float],
    x_test: np.ndarray,
    index: list[tuple[int, int]],
    y_test: np.ndarray,
    *,
    tolerance: float,
) -> tuple[dict[tuple[int, int], int], float, float]:
    """The smallest scale whose rounded points keep the held-out AUC within `tolerance`."""
    coef = np.array([coefficients[k] for k in index])
    exact = roc_auc_score(y_test, x_test @ coef)
    spread = float(np.max(np.abs(coef))) or 1.0
    best: tuple[dict[tuple[int, int], int], float, float] | None = None
    # Start where the strongest level is worth ~10 points; go finer until rounding costs nothing.
    for top in (10, 15, 20, 25, 30, 40, 50, 75, 100):
        scale = top / spread
        rounded = np.round(coef * scale)
        auc = roc_auc_score(y_test, x_test @ rounded)
        best = ({k: int(v) for k, v in zip(index, rounded, strict=True)}, scale, auc)
        if exact - auc <= tolerance:
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


def calibrate(
    frame: pd.DataFrame,
    *,
    id_column: str | None,
    outcome: str,
    exclude: Sequence[str] = (),
    seed: int = 7,
    holdout: float = 0.3,
    min_count: int | None = None,
    max_levels: int = 15,
    bins: int = 5,
    tolerance: float = 0.005,
    leak_auc: float = 0.97,
    field_of: Mapping[str, str] | None = None,
) -> Calibration:
    if outcome not in frame.columns:
        raise CalibrationError(
            f"no outcome column {outcome!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    y_all = parse_outcome(frame[outcome])
    known = y_all.notna()
    data = frame[known].reset_index(drop=True)
    y = y_all[known].to_numpy(dtype=int)
    if len(np.unique(y)) < 2:
        raise CalibrationError(f"outcome {outcome!r} has a single value among rows with a known outcome")
    candidates = [c for c in data.columns if c not in {outcome, id_column, *exclude}]
    min_count = min_count or max(20, int(0.01 * len(data)))
    features, skipped = build_features(
        data, candidates, min_count=min_count, max_levels=max_levels, bins=bins
    )
    # A column that alone predicts the outcome almost perfectly is the outcome in disguise.
    for feature in list(features):
        x_one, _ = design([feature], data)
        share = (x_one * y[:, None]).sum(0) / np.maximum(x_one.sum(0), 1)
        if roc_auc_score(y, x_one @ share) >= leak_auc:
            features.remove(feature)
            skipped[feature.column] = "predicts the outcome almost perfectly on its own (leak)"
    if not features:
        raise CalibrationError(f"no usable column to calibrate on (skipped: {skipped})")
    x, index = design(features, data)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=holdout, random_state=seed, stratify=y
    )
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(x_train, y_train)
    raw = dict(zip(index, model.coef_[0], strict=True))
    shifted = {(f, i): raw[(f, i)] - raw[(f, features[f].reference)] for (f, i) in index}
    points, scale, _ = integer_points(shifted, x_test, index, y_test, tolerance=tolerance)
    coef = np.array([shifted[k] for k in index])
    ints = np.array([points[k] for k in index])
    train_scores = x_train @ ints
    report = {
        "rows": len(frame),
        "rows_with_outcome": len(data),
        "positives": int(y.sum()),
        "base_rate": round(float(y.mean()), 4),
        "holdout_rows": len(y_test),
        "seed": seed,
        "scale": round(scale, 4),
        "integer_points": metrics(x_test @ ints, y_test),
        "unrounded_model": metrics(x_test @ coef, y_test),
        "features": [
            {
                "column": feature.column,
                "kind": feature.kind,
                "levels": [
                    {
                        "level": level.label,
                        "spellings": list(level.values),
                        "rows": level.count,
                        "coefficient": round(float(shifted[(f, i)]), 4),
                        "points": points[(f, i)],
                    }
                    for i, level in enumerate(feature.levels)
                ],
            }
            for f, feature in enumerate(features)
        ],
        "skipped_columns": skipped,
    }
    report["auc_loss"] = round(report["unrounded_model"]["auc"] - report["integer_points"]["auc"], 4)
    fields = {c: (field_of or {}).get(c) or default_field(c) for c in candidates}
    return Calibration(features, points, shifted, scale, grade_thresholds(train_scores), report, fields)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def _markdown(report: Mapping[str, Any], source: str, version: str) -> str:
    lines = [
        f"# Calibration of fit points: {version}",
        "",
        f"Source: {source} — {report['rows_with_outcome']} leads with an outcome, {report['positives']} converted "
        f"(base rate {report['base_rate']:.1%}); measured on a held-out {report['holdout_rows']} leads.",
        "",
        "| model | AUC |",
        "|---|---|",
        f"| integer points (scoring.yaml) | {report['integer_points']['auc']:.4f} |",
        f"| unrounded logistic model | {report['unrounded_model']['auc']:.4f} |",
        "",
        "## Conversion by score decile (held out; decile 1 = highest scores)",
        "",
        "| decile | leads | converted | conversion | lift | unrounded conversion | unrounded lift |",
        "|---|---|---|---|---|---|---|",
    ]
    for a, b in zip(report["integer_points"]["deciles"], report["unrounded_model"]["deciles"], strict=False):
        lines.append(
            f"| {a['decile']} | {a['leads']} | {a['converted']} | {a['conversion_rate']:.1%} | {a['lift']} "
            f"| {b['conversion_rate']:.1%} | {b['lift']} |"
        )
    lines += ["", "## Points per attribute value", ""]
    for feature in report["features"]:
        lines.append(f"**{feature['column']}** ({feature['kind']})")
        lines.append("")
        for level in feature["levels"]:
            spellings = (
                f" (also written {', '.join(level['spellings'][1:])})" if len(level["spellings"]) > 1 else ""
            )
            lines.append(
                f"- {level['level']}{spellings}: {level['points']:+d} points ({level['rows']} leads)"
            )
        lines.append("")
    if report["skipped_columns"]:
        lines += ["## Columns left out", ""]
        lines += [f"- {column}: {why}" for column, why in report["skipped_columns"].items()]
    return "\n".join(lines) + "\n"


def write_outputs(
    result: Calibration, out_dir: Path, *, source: str, version: str | None = None
) -> dict[str, str]:
    import yaml

    out_dir.mkdir(parents=True, exist_ok=True)
    version = version or f"calibrated-{datetime.now(UTC):%Y%m%d}"
    section = {"scoring": result.scoring_section(version)}
    header = (
        f"# Fit points calibrated by `smarketing calibrate` on {source}\n"
        f"# held-out AUC {result.report['integer_points']['auc']} (unrounded model "
        f"{result.report['unrounded_model']['auc']}); see report.md. Review, then paste into config/smarketing.yaml.\n"
    )
    (out_dir / "scoring.yaml").write_text(
        header + yaml.safe_dump(section, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    (out_dir / "report.json").write_text(json.dumps(result.report, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(_markdown(result.report, source, version), encoding="utf-8")
    return {name: str(out_dir / name) for name in ("scoring.yaml", "report.json", "report.md")}


def warehouse_frame(dsn: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Leads from the warehouse with outcome `won` (1 when a deal of the lead was won, 0 when its deals
    were all lost, missing otherwise), lead and company columns and low-cardinality attributes."""
    from psycopg import sql

    from smarketing.warehouse.copy import copy_out_csv
    from smarketing.warehouse.connection import connect

    columns = {
        "persona_id": "l.persona_id",
        "country": "l.country",
        "company.industry": "c.industry",
        "company.employees": "c.employees::text",
        "company.annual_revenue": "c.annual_revenue::text",
        "company.country": "c.country",
    }
    with connect(dsn) as conn:
        for table, alias, prefix in (
            ("leads", "l", "attributes."),
            ("companies", "c", "company.attributes."),
        ):
            keys = conn.execute(
                sql.SQL(
                    "SELECT key FROM core.{} t, jsonb_each_text(t.attributes) GROUP BY key "
                    "HAVING count(DISTINCT value) BETWEEN 2 AND 50 ORDER BY key"
                ).format(sql.Identifier(table))
            ).fetchall()
            for (key,) in keys:
                columns[prefix + key] = f"{alias}.attributes ->> {sql.Literal(key).as_string(conn)}"
        query = sql.SQL(
            """
            SELECT l.lead_id, {columns},
                   CASE WHEN bool_or(d.is_won) THEN '1' WHEN bool_and(d.is_won = false) THEN '0' END AS won
            FROM core.leads l
            LEFT JOIN core.companies c ON c.company_id = l.company_id
            LEFT JOIN core.deals d ON d.lead_id = l.lead_id AND d.deleted_at IS NULL
            WHERE l.deleted_at IS NULL
            GROUP BY l.lead_id, c.company_id
            """
        ).format(
            columns=sql.SQL(", ").join(
                sql.SQL("{} AS {}").format(sql.SQL(expr), sql.Identifier(name))
                for name, expr in columns.items()
            )
        )
        frame = copy_out_csv(conn, query)
    return frame, {name: name for name in columns}
