"""Scores in closed form: what `scoring.lead_scores` shows, and which stored rows a run must rewrite.

Between two changes of its inputs a lead's engagement at time T is

    max(floor, round(C + A x d(T), 2))

C the capped values of the headline profile's rules whose cap binds, A the other rules' uncapped sum and
d(T) their fading since. A stored row (`scoring.score_rows`) keeps C and A, A scaled to the warehouse's
anchor E, so that one factor per profile, d = 2 ** (-(T - E) / half-life), fades every row; the clock
(`scoring.score_clock`) holds T, E and those factors, and the view computes the row at T
(`scoring.closed_cents`). A run knows every lead's exact score at its time T1 (the kernel); it evaluates
here, in the view's float8 operations and order, what each stored row would show at T1, and rewrites the
rows that would show another cent, band, grade, MQL state or profile (a cap that released, a band crossed
by fading), and those whose inputs changed. So the view shows exactly the kernel's scores after every
run; nothing assumes the closed form holds between runs — it is checked for every lead every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psycopg

from smarketing.scoring.kernel import US_PER_DAY, Scores
from smarketing.scoring.model import ScoringModel
from smarketing.scoring.warehouse import instant
from smarketing.warehouse.copy import NULL_INT, Encoded

if TYPE_CHECKING:
    from smarketing.scoring.runner import RunPlan

# A run that would fade the stored sums by more than 2 ** this from the anchor re-anchors (and rewrites
# every row): the scaled sums stay far from float8's range (2 ** 1023).
MAX_HALVINGS = 512


@dataclass(frozen=True)
class Clock:
    """The warehouse's reference time and anchor (µs since the epoch); None before any run."""

    as_of_us: int
    anchor_us: int


def read_clock(conn: psycopg.Connection) -> Clock | None:
    row = conn.execute(
        "SELECT (extract(epoch FROM as_of) * 1000000)::int8, (extract(epoch FROM anchor) * 1000000)::int8 "
        "FROM scoring.score_clock"
    ).fetchone()
    return None if row is None else Clock(int(row[0]), int(row[1]))


def factors(model: ScoringModel, anchor_us: int, at_us: int) -> tuple[float, ...]:
    """Per profile, what multiplies a sum scaled to `anchor_us` to give its value at `at_us`."""
    return tuple(
        1.0
        if p.engagement.half_life_days is None
        else float(np.exp2(-(at_us - anchor_us) / (p.engagement.half_life_days * US_PER_DAY)))
        for p in model.profiles
    )


def anchor_for(model: ScoringModel, clock: Clock | None, at_us: int, every_row: bool) -> int:
    """The anchor a run at `at_us` scales its rows to: the clock's, unless the run rewrites every row
    anyway (`every_row`: a full rescore), there is none, or it lies too many half-lives away."""
    if every_row or clock is None:
        return at_us
    for profile in model.profiles:
        half_life = profile.engagement.half_life_days
        if half_life is not None and abs(at_us - clock.anchor_us) / (half_life * US_PER_DAY) > MAX_HALVINGS:
            return at_us
    return clock.anchor_us


def scaling(
    conn: psycopg.Connection, model: ScoringModel, at_us: int, *, every_row: bool
) -> tuple[int, tuple[float, ...], bool]:
    """A run's anchor, its fading factors from the anchor to `at_us`, and whether the anchor moves (every
    stored row is then rewritten): `RunPlan`'s last three fields."""
    clock = read_clock(conn)
    anchor = anchor_for(model, clock, at_us, every_row)
    return anchor, factors(model, anchor, at_us), clock is None or anchor != clock.anchor_us


def write_clock(conn: psycopg.Connection, plan: RunPlan) -> None:
    """Move the warehouse's reference time to the run's: every stored row is then shown at it."""
    conn.execute(
        """
        INSERT INTO scoring.score_clock (one, as_of, anchor, factors, run_id) VALUES (true, %s, %s, %s, %s)
        ON CONFLICT (one) DO UPDATE SET as_of = EXCLUDED.as_of, anchor = EXCLUDED.anchor,
                                        factors = EXCLUDED.factors, run_id = EXCLUDED.run_id
        """,
        (plan.as_of, instant(plan.anchor_us), list(plan.factors), plan.run_id),
    )


def shown_cents(
    capped: np.ndarray, fading: np.ndarray, factor: np.ndarray, floor_cents: np.ndarray
) -> np.ndarray:
    """scoring.closed_cents in numpy: the same float8 operations in the same order (A x d, plus C, times
    100, rounded half to even), then the floor (`NULL_INT`: none)."""
    return np.maximum(np.rint((capped + fading * factor) * 100.0), floor_cents.astype(np.float64))


@dataclass
class Parts:
    """What a stored row keeps to be shown later, per lead (its headline profile's)."""

    capped: np.ndarray  # C
    fading: np.ndarray  # A, scaled to the anchor
    profile_no: np.ndarray
    floor_cents: np.ndarray  # NULL_INT: no floor

    def encode(self, rows: Encoded, mask: np.ndarray | slice = slice(None)) -> Encoded:
        return (
            rows.plus("capped", "float", self.capped[mask])
            .plus("fading", "float", self.fading[mask])
            .plus("profile_no", "int4", self.profile_no[mask])
            .plus("floor_cents", "int", self.floor_cents[mask])
        )


def parts(model: ScoringModel, scores: Scores, plan: RunPlan) -> Parts:
    """C and A of every lead's headline profile at the run's time, A scaled to the plan's anchor."""
    n = len(scores.lead_ids)
    capped, fading = np.zeros(n), np.zeros(n)
    floor_cents = np.full(n, NULL_INT, dtype=np.int64)
    for p, profile in enumerate(model.profiles):
        mine = scores.primary == p
        result = scores.profiles[profile.profile_id]
        # A rule binds when capping changed its value; the others (zeros of cancelled sums included) fade.
        binds = result.unrounded != result.values
        capped[mine] = np.where(binds, result.unrounded, 0.0)[mine].sum(axis=1)
        fading[mine] = np.where(binds, 0.0, result.unrounded)[mine].sum(axis=1) / plan.factors[p]
        if profile.engagement.floor is not None:
            floor_cents[mine] = round(profile.engagement.floor * 100)
    return Parts(capped, fading, scores.primary.astype(np.int64), floor_cents)


def _stored_cents(previous: pd.DataFrame, plan: RunPlan) -> np.ndarray:
    """The engagement cents each stored row (aligned with the shard's leads; NaN: none) would show at the
    run's time: as stored when not older than it, else its closed form."""
    as_of = previous["row_as_of"].to_numpy(dtype="float64", na_value=np.nan)
    stored = np.rint(previous["engagement"].to_numpy(dtype="float64", na_value=np.nan) * 100)
    profile_no = previous["profile_no"].to_numpy(dtype="float64", na_value=0).astype(np.int64)
    factor = np.asarray(plan.factors, dtype=np.float64)[np.clip(profile_no, 0, len(plan.factors) - 1)]
    closed = shown_cents(
        previous["capped"].to_numpy(dtype="float64", na_value=np.nan),
        previous["fading"].to_numpy(dtype="float64", na_value=np.nan),
        factor,
        previous["floor_cents"].to_numpy(dtype="float64", na_value=float(NULL_INT)),
    )
    return np.where(as_of >= plan.as_of_us, stored, closed)


def _same_text(a: pd.Series, b: pd.Series) -> np.ndarray:
    left = a.astype(object).where(a.notna(), None).to_numpy()
    right = b.astype(object).where(b.notna(), None).to_numpy()
    return np.asarray(left == right, dtype=bool)


def still_exact(
    plan: RunPlan, headline: pd.DataFrame, history_days: np.ndarray, previous: pd.DataFrame
) -> np.ndarray:
    """Which leads' stored rows (`previous`, aligned with `headline`) show at the run's time exactly what
    the run computed: engagement and total to the cent, grade, band, MQL state, profile, history day."""
    cents = np.rint(headline["engagement"].to_numpy(np.float64) * 100)
    fit = headline["fit"].to_numpy(np.float64)
    shown = _stored_cents(previous, plan)
    same = previous["same_version"].fillna(False).to_numpy(dtype=bool, copy=True)
    same &= shown == cents
    same &= previous["fit"].to_numpy(dtype="float64", na_value=np.nan) == fit
    same &= fit * 100 + shown == np.rint(headline["total"].to_numpy(np.float64) * 100)
    same &= previous["history_day"].to_numpy(dtype="float64", na_value=np.nan) == history_days
    for column, stored in (("grade", "grade"), ("band", "engagement_band"), ("profile_id", "profile_id")):
        same &= _same_text(headline[column].reset_index(drop=True), previous[stored].reset_index(drop=True))
    same &= previous["is_mql"].to_numpy(dtype="float64", na_value=np.nan) == headline["is_mql"].to_numpy(
        np.float64
    )
    return same
