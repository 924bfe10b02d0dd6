"""Score history as dated snapshots of the scoring inputs.

Fading moves every engaged lead's score every night, so a history row per moved score was a row per
engaged lead per night. A snapshot holds what a score is computed from: the fit points per profile and
the uncapped engagement value per rule at the run's reference time. A lead gets one only when those
changed other than by fading (new, late, corrected or removed events, events leaving the window, a field
edited, another model) — not when events only left the scoring window — so its score at any time until
its next snapshot is the snapshot faded to that time, less what the events that left the window since
then had added (`window_exits`, read from the events). The invariant a night keeps: each lead's latest
snapshot, faded and less those events, equals its engine state (scoring.rule_state) — so a lead whose
state the night changed only by events leaving the window, or not at all, needs no comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from smarketing.scoring.kernel import US_PER_DAY, EventArrays, Scores, assemble, incremental_delta
from smarketing.scoring.model import ScoringModel
from smarketing.scoring.warehouse import read_lead_spans, to_us
from smarketing.warehouse.connection import connect
from smarketing.warehouse.copy import (
    Encoded,
    copy_in_columns,
    copy_in_fixed,
    copy_out_fixed,
    encode,
    utc,
)

if TYPE_CHECKING:
    from smarketing.scoring.runner import RunPlan
    from smarketing.scoring.warehouse import Shard

# Inputs closer than this (in points, relative to 1) are the same: re-basing and a fresh sum differ by
# float rounding only (1e-6 points after a century of nights).
_TOLERANCE = 1e-7


def half_lives(model: ScoringModel) -> np.ndarray:
    """The half-life in days of each engagement rule by its position in the state (rule_no); inf: no fading."""
    return np.array(
        [p.engagement.half_life_days or np.inf for p in model.profiles for _ in p.engagement.rules],
        dtype=float,
    )


def faded(state: np.ndarray, since_us: np.ndarray, at_us: int, model: ScoringModel) -> np.ndarray:
    """`state` (leads x rules) computed to `since_us` per lead, faded to `at_us`."""
    elapsed_days = (at_us - since_us.astype(float))[:, None] / US_PER_DAY
    return state * np.exp2(-elapsed_days / half_lives(model)[None, :])


def window_exits(
    conn: psycopg.Connection, model: ScoringModel, lead_ids: np.ndarray, since_us: np.ndarray, at_us: int
) -> np.ndarray:
    """What the events that left each profile's window between each lead's `since_us` and `at_us` had
    added to its state, faded to `at_us`, negated (leads x rules, rule_no order): the events read are
    those at or before `since_us` on the whole UTC days where the window's start passed, so that a
    per-day limit counts them as the night did (`kernel.incremental_delta`, the same arithmetic)."""
    out = np.zeros((len(lead_ids), len(half_lives(model))))
    offset = 0
    for profile in model.profiles:
        width = len(profile.engagement.rules)
        window = profile.engagement.window_days
        if window is not None and len(lead_ids):
            span = window * US_PER_DAY
            starts = (since_us - span) // US_PER_DAY * US_PER_DAY
            stops = np.minimum(since_us + 1, (at_us - span) // US_PER_DAY * US_PER_DAY + US_PER_DAY)
            some = stops > starts
            events = read_lead_spans(conn, model, lead_ids[some], starts[some], stops[some])
            events.lead = np.flatnonzero(some)[events.lead]
            out[:, offset : offset + width] = incremental_delta(
                profile.engagement,
                len(lead_ids),
                events,
                EventArrays.empty(),
                since_us,
                at_us,
                np.zeros(0, np.int64),
            )
        offset += width
    return out


def inputs(model: ScoringModel, scores: Scores) -> tuple[np.ndarray, np.ndarray]:
    """Fit per profile (leads x profiles) and the uncapped state (leads x rules, rule_no order)."""
    fits = np.stack([scores.profiles[p].fit for p in model.profile_ids], axis=1).astype(np.int64)
    state = np.concatenate([scores.profiles[p].values for p in model.profile_ids], axis=1)
    return fits, state


# ---------------------------------------------------------------------------------------------
# Reading snapshots
# ---------------------------------------------------------------------------------------------
def _wide_columns(model: ScoringModel) -> tuple[list[str], list[str]]:
    """Names of the fit (one per profile) and state (one per rule) columns snapshots travel in."""
    return [f"f{p}" for p in range(len(model.profiles))], [f"s{r}" for r in range(len(half_lives(model)))]


_LATEST = """
    SELECT b.lead_id, (extract(epoch FROM b.as_of) * 1000000)::int8 AS as_of,
           (b.scored_on - DATE '1970-01-01')::int4 AS day,
           (b.config_hash IS NOT DISTINCT FROM %(hash)s AND b.state IS NOT NULL)::int::int2 AS usable{cells}
    FROM _history_ids l
    CROSS JOIN LATERAL (
        SELECT h.lead_id, h.scored_on, h.as_of, h.config_hash, h.fits, h.state FROM scoring.score_history h
        WHERE h.lead_id = l.lead_id AND h.model_version = %(version)s AND {when}
        ORDER BY h.scored_on DESC LIMIT 1
    ) b
"""


class Snapshots:
    """Latest snapshots of some leads as arrays aligned with `lead_ids` (`found`: a usable one exists;
    one of another model, whose positions mean other rules, is not)."""

    def __init__(self, model: ScoringModel, lead_ids: np.ndarray, rows: dict[str, np.ndarray]) -> None:
        n = len(lead_ids)
        fit_columns, state_columns = _wide_columns(model)
        row = np.searchsorted(lead_ids, rows["lead_id"])
        self.lead_ids = lead_ids
        self.found = np.zeros(n, dtype=bool)
        self.as_of = np.zeros(n, dtype=np.int64)
        self.day = np.zeros(n, dtype=np.int64)
        self.fits = np.zeros((n, len(fit_columns)), dtype=np.int64)
        self.state = np.zeros((n, len(state_columns)))
        self.found[row] = rows["usable"] == 1
        self.as_of[row] = rows["as_of"]
        self.day[row] = rows["day"]
        for j, column in enumerate(fit_columns):
            self.fits[row, j] = rows[column]
        for j, column in enumerate(state_columns):
            self.state[row, j] = rows[column]


def stage_ids(conn: psycopg.Connection, lead_ids: np.ndarray) -> None:
    """`lead_ids` into the temp table `_history_ids` (dropped at commit), analysed: snapshots are then
    found through the primary key, not by a scan of all history. In binary: as an array literal, 50k ids
    cost 50 ms of client CPU to quote."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _history_ids (lead_id bigint) ON COMMIT DROP; TRUNCATE _history_ids"
    )
    copy_in_fixed(conn, "_history_ids", (("lead_id", "int8"),), {"lead_id": lead_ids})
    conn.execute("ANALYZE _history_ids")


def any_snapshot(conn: psycopg.Connection, model: ScoringModel, shard: Shard) -> bool:
    """Whether any lead of the shard has a snapshot of this model version (none on a first load)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM scoring.score_history WHERE lead_id BETWEEN %s AND %s "
        "AND model_version = %s)",
        (shard.low, shard.high, model.version),
    ).fetchone()
    return bool(row and row[0])


def read_snapshots(
    conn: psycopg.Connection,
    model: ScoringModel,
    lead_ids: np.ndarray,
    *,
    before_day: int | None = None,
    at_us: int | None = None,
    staged: bool = False,
) -> Snapshots:
    """The latest snapshot (this model version) of each of `lead_ids` (sorted) before day `before_day`
    (days since the epoch) or at or before the instant `at_us`. `staged`: the caller's `stage_ids` put
    `lead_ids` in `_history_ids` already (in this transaction)."""
    if not staged:
        stage_ids(conn, lead_ids)
    when = (
        sql.SQL("h.scored_on < DATE '1970-01-01' + %(day)s::int")
        if before_day is not None
        else sql.SQL("h.as_of <= %(at)s")
    )
    fit_columns, state_columns = _wide_columns(model)
    cells = [
        sql.SQL(", COALESCE(b.{}[{}], 0)::{} AS {}").format(
            sql.Identifier(array), sql.Literal(i + 1), sql.SQL(kind), sql.Identifier(name)
        )
        for array, kind, names in (("fits", "int4", fit_columns), ("state", "float8", state_columns))
        for i, name in enumerate(names)
    ]
    query = sql.SQL(_LATEST).format(cells=sql.Composed(cells), when=when)
    columns = (
        ("lead_id", "int8"),
        ("as_of", "int8"),
        ("day", "int4"),
        ("usable", "int2"),
        *((name, "int4") for name in fit_columns),
        *((name, "float8") for name in state_columns),
    )
    params = {
        "hash": model.config_hash,
        "version": model.version,
        "day": before_day,
        "at": utc(at_us) if at_us is not None else None,
    }
    return Snapshots(model, lead_ids, copy_out_fixed(conn, query, columns, params))


# ---------------------------------------------------------------------------------------------
# Writing snapshots
# ---------------------------------------------------------------------------------------------
def _changed(
    conn: psycopg.Connection,
    model: ScoringModel,
    plan: RunPlan,
    base: Snapshots,
    fits: np.ndarray,
    state: np.ndarray,
    from_history: np.ndarray,
) -> np.ndarray:
    same = base.found & (base.fits == fits).all(axis=1)
    then = faded(base.state, base.as_of, plan.as_of_us, model)
    # A lead scored from its history whose state differs from its snapshot faded may differ by events
    # that left the window only. (A lead carried forward is a candidate because it changed otherwise.)
    moved = from_history & base.found & ~np.isclose(then, state, rtol=_TOLERANCE, atol=_TOLERANCE).all(axis=1)
    if moved.any():
        where = np.flatnonzero(moved)
        then[where] += window_exits(conn, model, base.lead_ids[where], base.as_of[where], plan.as_of_us)
    same &= np.isclose(then, state, rtol=_TOLERANCE, atol=_TOLERANCE).all(axis=1)
    return ~same


def write_snapshots(
    conn: psycopg.Connection,
    model: ScoringModel,
    plan: RunPlan,
    shard: Shard,
    scores: Scores,
    headline: pd.DataFrame,
    candidates: np.ndarray,
    previous_days: pd.Series,
    from_history: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Snapshot the leads among `candidates` (a mask over the shard's leads: those whose inputs may have
    changed other than by fading since their latest snapshot) whose inputs did change. A rerun of the day
    compares with the snapshot before the day again and rewrites the same rows.

    `from_history`: the leads scored from their history this run (the others are candidates because
    their inputs changed other than by events leaving the window). `previous_days` is each lead's latest
    snapshot day before the run (days since the epoch; missing for
    a lead never scored). Returns each lead's latest snapshot day after it and the rows written."""
    today = plan.as_of_us // US_PER_DAY
    ids = scores.lead_ids[candidates]
    fits, state = inputs(model, scores)
    # A shard without any snapshot of this version (a first load) has nothing to compare or replace.
    earlier = any_snapshot(conn, model, shard)
    if earlier:
        stage_ids(conn, ids)
        base = read_snapshots(conn, model, ids, before_day=today, staged=True)
    else:
        base = Snapshots(model, ids, _no_rows(model))
    changed = np.zeros(len(scores.lead_ids), dtype=bool)
    changed[np.flatnonzero(candidates)] = _changed(
        conn, model, plan, base, fits[candidates], state[candidates], from_history[candidates]
    )
    days = np.full(len(scores.lead_ids), np.nan)
    days[np.flatnonzero(candidates)] = np.where(base.found, base.day, np.nan)
    days[changed] = today
    if earlier:
        _replace_from(conn, model, shard, today)
    days = np.where(np.isnan(days), previous_days.to_numpy(dtype="float64", na_value=np.nan), days)
    days = np.nan_to_num(days, nan=today).astype(np.int64)
    if changed.any():
        _insert(conn, model, plan, headline[changed], fits[changed], state[changed], today)
    return days, int(changed.sum())


def _no_rows(model: ScoringModel) -> dict[str, np.ndarray]:
    """The columns `read_snapshots` reads, without a row."""
    fit_columns, state_columns = _wide_columns(model)
    empty = np.zeros(0, dtype=np.int64)
    return {"lead_id": empty, "as_of": empty, "day": empty, "usable": empty} | {
        name: empty for name in fit_columns + state_columns
    }


def _replace_from(conn: psycopg.Connection, model: ScoringModel, shard: Shard, today: int) -> None:
    """Remove the staged leads' snapshots of `today` (a rerun of the day writes them again) and the
    shard's later ones."""
    day = pd.Timestamp(today * US_PER_DAY, unit="us").date().isoformat()
    conn.execute(
        """
        DELETE FROM scoring.score_history h USING _history_ids i
        WHERE h.lead_id = i.lead_id AND h.model_version = %s AND h.scored_on = %s::date
        """,
        (model.version, day),
    )
    # A run as of an earlier day rewinds the scores to it: later snapshots belong to the history it
    # replaces, and left in place they would be taken for the latest inputs.
    conn.execute(
        "DELETE FROM scoring.score_history WHERE lead_id BETWEEN %s AND %s AND model_version = %s "
        "AND scored_on > %s::date",
        (shard.low, shard.high, model.version, day),
    )


def _insert(
    conn: psycopg.Connection,
    model: ScoringModel,
    plan: RunPlan,
    headline: pd.DataFrame,
    fits: np.ndarray,
    state: np.ndarray,
    day: int,
) -> None:
    """Add snapshots: the headline rows with their inputs as arrays, in one binary COPY in the table's
    own types (staged as text and columns, then inserted row by row with the arrays built in SQL, the same
    rows cost 2.5x the COPY's server CPU)."""
    n = len(headline)
    encoded = (
        score_columns(headline)
        .plus("model_version", "text", np.zeros(n, np.int64), [model.version])
        .plus("config_hash", "text", np.zeros(n, np.int64), [model.config_hash])
        .plus("scored_on", "date", np.full(n, day, np.int64))
        .plus("as_of", "time", np.full(n, plan.as_of_us, np.int64))
        .plus("fits", "int4[]", fits.astype(np.int32))
        .plus("state", "float8[]", state)
    )
    copy_in_columns(conn, "scoring.score_history", encoded)


def score_columns(rows: pd.DataFrame, texts: tuple[str, ...] = ("grade", "profile_id")) -> Encoded:
    """A score's columns in the tables' own types (history, lead and profile scores alike): lead_id
    bigint, fit integer, engagement and total numeric(12, 2) from whole cents (the kernel rounds them
    to cents), is_mql boolean, and `texts` (None: NULL)."""
    return (
        encode(rows[["lead_id", *texts]], texts=texts)
        .plus("fit", "int4", rows["fit"].to_numpy(np.int64))
        .plus("engagement", "cents", _cents(rows["engagement"]))
        .plus("total", "cents", _cents(rows["total"]))
        .plus("is_mql", "bool", rows["is_mql"].to_numpy(np.int64))
    )


def _cents(amounts: pd.Series) -> np.ndarray:
    return np.rint(amounts.to_numpy(np.float64) * 100).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# The score at a time, from the snapshots
# ---------------------------------------------------------------------------------------------
def history_as_of(dsn: str, model: ScoringModel, when: datetime) -> pd.DataFrame:
    """Every lead's score at `when` as the nightly runs recorded it (the latest snapshot at or before
    `when`, faded to it); one headline row per lead with a snapshot, like `scores_as_of`. Writes nothing.

    Rows written before snapshots existed (no state) hold the score of their own day only and are left out.
    """
    at_us = to_us(when.astimezone(UTC))
    with connect(dsn) as conn:
        ids = np.array(
            [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT lead_id FROM scoring.score_history WHERE model_version = %s "
                    "AND as_of <= %s ORDER BY 1",
                    (model.version, when),
                )
            ],
            dtype=np.int64,
        )
        base = read_snapshots(conn, model, ids, at_us=at_us)
        ids, fits, since = ids[base.found], base.fits[base.found], base.as_of[base.found]
        # Events that left the window after a snapshot do not make another one: subtracted here.
        state = faded(base.state[base.found], since, at_us, model) + window_exits(
            conn, model, ids, since, at_us
        )
    fit_by_profile, values_by_profile, offset = {}, {}, 0
    for p, profile in enumerate(model.profiles):
        fit_by_profile[profile.profile_id] = fits[:, p : p + 1]
        width = len(profile.engagement.rules)
        values_by_profile[profile.profile_id] = state[:, offset : offset + width]
        offset += width
    return assemble(model, ids, fit_by_profile, values_by_profile).headline(model)
