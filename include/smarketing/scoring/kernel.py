"""The scoring kernel: numpy over whole arrays of leads and events, no per-lead Python.

Engagement of one rule for one lead at the reference time T is

    V = points * sum over counted events e with T - W <= t_e <= T of 2 ** (-(T - t_e) / half_life)

where an event is *counted* when it is among the first `max_per_day` events of its predicate for its
lead on its UTC day (all events when there is no limit), W is the window (none: no lower bound) and no
half-life means weight 1. The capped value is min(V, cap) (max(V, -cap) for negative points); engagement
is the sum of the capped values rounded once to cents (`summed_cents`), never below the floor. Fit is the
sum of the points of the matching fit rules; total = fit + engagement.

Because counting only looks at earlier events of the same day and the weights are exponential, a
value at T0 rescales to any later T1 by 2 ** (-(T1 - T0) / half_life): the incremental path
(`incremental_delta`) adds to the rescaled state only what changed — new events, events leaving the
window, and the days where late or corrected events arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from smarketing.scoring.fit import FieldValues, fit_points
from smarketing.scoring.model import Engagement, Profile, ScoringModel

US_PER_DAY = 86_400_000_000
US_IN_DAY_BITS = 37  # 2**37 µs > one day
# Values this close to zero are zero: what is left of additions and subtractions that cancel out.
ZERO = 1e-9


@dataclass
class EventArrays:
    """Events as parallel arrays: lead index (into the scored leads), time (µs since the Unix epoch, UTC)
    and the predicate mask (bit i: the event matches `model.predicates[i]`)."""

    lead: np.ndarray
    t: np.ndarray
    mask: np.ndarray

    @classmethod
    def empty(cls) -> EventArrays:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.t)

    def take(self, index: np.ndarray) -> EventArrays:
        return EventArrays(self.lead[index], self.t[index], self.mask[index])

    @staticmethod
    def concat(parts: list[EventArrays]) -> EventArrays:
        parts = [p for p in parts if len(p)]
        if not parts:
            return EventArrays.empty()
        return EventArrays(
            np.concatenate([p.lead for p in parts]),
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.mask for p in parts]),
        )


def day_of(t: np.ndarray) -> np.ndarray:
    return np.floor_divide(t, US_PER_DAY)


def counted(events: EventArrays, selected: np.ndarray, max_per_day: int | None) -> np.ndarray:
    """Which of the `selected` events (indices into `events`) count under a per-day limit.

    An event counts when fewer than `max_per_day` events of the same selection, lead and UTC day
    happened before it. Only (lead, day) groups with more events than the limit need ranking, and they
    are rare: the keys are sorted by value (cheap) to find them, and only their events are ranked.
    """
    n = len(selected)
    out = np.ones(n, dtype=bool)
    if max_per_day is None or n <= max_per_day:
        return out
    lead = events.lead[selected].astype(np.int64)
    day = day_of(events.t[selected])
    key = (lead << 24) | (day - day.min())
    ordered = np.sort(key)
    # A key is crowded when it is still the same `max_per_day` places further in sorted order.
    head, tail = ordered[:-max_per_day], ordered[max_per_day:]
    crowded_keys = np.unique(head[head == tail])
    if not len(crowded_keys):
        return out
    # Only events of leads with a crowded day can be crowded: a table lookup narrows the search.
    has_crowded_day = np.zeros(int(lead.max()) + 1, dtype=bool)
    has_crowded_day[crowded_keys >> 24] = True
    candidates = np.flatnonzero(has_crowded_day[lead])
    position = np.minimum(np.searchsorted(crowded_keys, key[candidates]), len(crowded_keys) - 1)
    hit = crowded_keys[position] == key[candidates]
    crowded, group = candidates[hit], position[hit]
    t = events.t[selected[crowded]]
    if len(crowded_keys) < 1 << (63 - US_IN_DAY_BITS):
        # One int64 key (group, time of day) sorts several times faster than lexsort on two.
        order_local = np.argsort((group << US_IN_DAY_BITS) | (t - day_of(t) * US_PER_DAY), kind="stable")
    else:
        order_local = np.lexsort((t, group))
    order = crowded[order_local]
    group = group[order_local]
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
    out[order] = rank < max_per_day
    return out


def decay_weights(t: np.ndarray, as_of: int, half_life_days: float | None) -> np.ndarray:
    if half_life_days is None:
        return np.ones(len(t))
    return np.exp2((t - as_of) / (half_life_days * US_PER_DAY))


def rescale_factor(dt_us: np.ndarray | int, half_life_days: float | None) -> np.ndarray | float:
    """Multiply a value at T0 by this to get its value at T0 + dt."""
    if half_life_days is None:
        return np.ones_like(dt_us, dtype=float) if isinstance(dt_us, np.ndarray) else 1.0
    return np.exp2(-np.asarray(dt_us, dtype=float) / (half_life_days * US_PER_DAY))


def window_start(as_of: int, engagement: Engagement) -> int | None:
    return None if engagement.window_days is None else as_of - engagement.window_days * US_PER_DAY


def full_signs(events: EventArrays, as_of: int, engagement: Engagement) -> np.ndarray:
    """+1 for events inside the scoring window at `as_of`, 0 otherwise."""
    inside = events.t <= as_of
    start = window_start(as_of, engagement)
    if start is not None:
        inside &= events.t >= start
    return inside.astype(float)


def rule_sums(
    events: EventArrays, n_leads: int, engagement: Engagement, as_of: int, signs: np.ndarray
) -> np.ndarray:
    """Signed, decayed, counted sums per lead and engagement rule: shape (n_leads, len(rules)).

    `events` must hold every event of each (lead, UTC day) it holds any event of, so that counting per
    day sees the whole day. `signs` weighs each event (0 leaves it out).
    """
    values = np.zeros((n_leads, len(engagement.rules)))
    if not len(events):
        return values
    weights = decay_weights(events.t, as_of, engagement.half_life_days) * signs
    for r, rule in enumerate(engagement.rules):
        selected = np.flatnonzero(events.mask & (np.int64(1) << np.int64(rule.predicate)))
        if not len(selected):
            continue
        selected = selected[counted(events, selected, rule.max_per_day)]
        w = weights[selected]
        keep = w != 0
        values[:, r] = rule.points * np.bincount(
            events.lead[selected[keep]], weights=w[keep], minlength=n_leads
        )
    return values


def full_values(model: ScoringModel, events: EventArrays, n_leads: int, as_of: int) -> dict[str, np.ndarray]:
    """Uncapped rule values at `as_of` from the whole history, per profile."""
    out = {}
    for profile in model.profiles:
        signs = full_signs(events, as_of, profile.engagement)
        out[profile.profile_id] = rule_sums(events, n_leads, profile.engagement, as_of, signs)
    return out


def incremental_delta(
    engagement: Engagement,
    n_leads: int,
    new_world: EventArrays,
    old_world: EventArrays,
    t0: np.ndarray,
    t1: int,
    affected_days: np.ndarray,
) -> np.ndarray:
    """What to add to the state rescaled from each lead's T0 (`t0[lead]`) to T1.

    `new_world`: events as they are now, for every (lead, day) where something may have changed —
    days after T0 up to T1, days whose events leave the window between T0 and T1, and `affected_days`
    (keys `lead * 2**32 + day`) where events at or before T0 were added, changed or removed since the
    state was computed. `old_world`: those affected days as they were when the state was computed.
    """
    delta = np.zeros((n_leads, len(engagement.rules)))
    if len(new_world):
        nw = new_world
        lead_t0 = t0[nw.lead]
        before = nw.t <= lead_t0
        if engagement.window_days is None:
            in0 = np.ones(len(nw), dtype=bool)
            in1 = in0
        else:
            width = engagement.window_days * US_PER_DAY
            in0 = nw.t >= lead_t0 - width
            in1 = nw.t >= t1 - width
        in_affected = np.isin(day_keys(nw.lead, nw.t), affected_days)
        signs = np.where(
            before,
            in0 * (in_affected.astype(float) - (~in1).astype(float)),
            ((nw.t <= t1) & in1).astype(float),
        )
        delta += rule_sums(nw, n_leads, engagement, t1, signs)
    if len(old_world):
        ow = old_world
        lead_t0 = t0[ow.lead]
        inside = ow.t <= lead_t0
        if engagement.window_days is not None:
            inside &= ow.t >= lead_t0 - engagement.window_days * US_PER_DAY
        delta -= rule_sums(ow, n_leads, engagement, t1, inside.astype(float))
    return delta


def day_keys(lead: np.ndarray, t: np.ndarray) -> np.ndarray:
    return lead.astype(np.int64) * (1 << 32) + day_of(t)


# ---------------------------------------------------------------------------------------------
# From rule values to scores
# ---------------------------------------------------------------------------------------------
@dataclass
class ProfileScores:
    fit_points: np.ndarray  # (n, fit rules) int32
    values: np.ndarray  # (n, engagement rules) uncapped
    unrounded: np.ndarray  # (n, engagement rules) capped, not rounded
    cents: np.ndarray  # the engagement sum in whole cents, before the floor
    fit: np.ndarray  # int64
    engagement: np.ndarray  # rounded to cents, floor applied
    floor_lift: np.ndarray  # what the floor added (0 when above it)
    total: np.ndarray
    grade: np.ndarray  # object: letter or None
    band: np.ndarray  # object: engagement band label or None
    is_mql: np.ndarray

    @property
    def capped(self) -> np.ndarray:
        """The points each rule shows (`apportioned`), computed when asked: a run stores none (the view
        computes them), and they cost about 0.1 s of CPU a profile at 200k leads."""
        return apportioned(self.unrounded, self.cents)


@dataclass
class Scores:
    lead_ids: np.ndarray
    profiles: dict[str, ProfileScores]
    primary: np.ndarray  # index into model.profiles of each lead's headline profile

    def headline(self, model: ScoringModel) -> pd.DataFrame:
        """One row per lead: its best profile's numbers."""
        n = len(self.lead_ids)
        rows = np.arange(n)
        stacked = [self.profiles[p] for p in model.profile_ids]

        def pick(attr: str) -> np.ndarray:
            return np.stack([getattr(s, attr) for s in stacked], axis=1)[rows, self.primary]

        return pd.DataFrame(
            {
                "lead_id": self.lead_ids,
                "profile_id": np.asarray(model.profile_ids, dtype=object)[self.primary],
                "fit": pick("fit"),
                "engagement": pick("engagement"),
                "total": pick("total"),
                "grade": pick("grade"),
                "band": pick("band"),
                "is_mql": pick("is_mql"),
            }
        )


def capped_values(values: np.ndarray, engagement: Engagement) -> np.ndarray:
    """Each rule's value capped (for negative points bounded at -cap), not rounded; what is left of
    additions and subtractions that cancel out (|x| < ZERO) is zero."""
    capped = values.copy()
    for r, rule in enumerate(engagement.rules):
        if rule.cap is not None:
            if rule.points >= 0:
                np.minimum(capped[:, r], rule.cap, out=capped[:, r])
            else:
                np.maximum(capped[:, r], -rule.cap, out=capped[:, r])
    capped[np.abs(capped) < ZERO] = 0.0
    return capped


def summed_cents(capped: np.ndarray) -> np.ndarray:
    """The engagement sum in whole cents (float), rounded once, half to even (rint, as PostgreSQL). Added
    rule after rule like scoring.engagement_points' window: float addition is not associative, and numpy's
    pairwise sum over 8 or more rules would round some sums on a half cent differently from the view."""
    total = np.zeros(len(capped))
    for r in range(capped.shape[1]):
        total += capped[:, r]
    return np.rint(total * 100)


def apportioned(capped: np.ndarray, cents: np.ndarray) -> np.ndarray:
    """The points each rule shows (n x rules): its capped value rounded down to a cent, plus a cent for
    the rules with the largest remainders (the earlier rule first among equal ones) until the row adds up
    to `cents`: the explanation adds up to the rounded sum exactly. scoring.engagement_points does the same."""
    scaled = capped * 100
    low = np.floor(scaled)
    # A stable sort of the negated remainders: largest first, ties in rule order.
    order = np.argsort(-(scaled - low), axis=1, kind="stable")
    rank = np.argsort(order, axis=1)  # the inverse permutation: each rule's place
    short = cents - low.sum(axis=1)  # whole numbers: exact in float
    return (low + (rank < short[:, None])) / 100


def grades_for(fit: np.ndarray, model: ScoringModel) -> np.ndarray:
    out = np.full(len(fit), None, dtype=object)
    for letter, minimum in reversed(model.grades):  # best last, so it wins
        out[fit >= minimum] = letter
    return out


def bands_for(engagement: np.ndarray, model: ScoringModel) -> np.ndarray:
    out = np.full(len(engagement), None, dtype=object)
    for label, minimum in reversed(model.engagement_bands):
        out[engagement >= minimum] = label
    return out


def mql_flags(total: np.ndarray, grade: np.ndarray, model: ScoringModel) -> np.ndarray:
    if model.mql_min_score is None:
        return np.zeros(len(total), dtype=bool)
    ok = total >= model.mql_min_score
    if model.mql_min_grade is not None:
        # Grades are consecutive letters from A: alphabetical order is rank order.
        allowed = [letter for letter, _ in model.grades if letter <= model.mql_min_grade]
        ok &= pd.Series(grade, dtype=object).isin(allowed).to_numpy()
    return ok


def profile_scores(
    model: ScoringModel, profile: Profile, fit_points: np.ndarray, values: np.ndarray
) -> ProfileScores:
    fit = fit_points.sum(axis=1, dtype=np.int64)
    capped = capped_values(values, profile.engagement)
    cents = summed_cents(capped)
    summed = cents / 100
    engagement = summed if profile.engagement.floor is None else np.maximum(summed, profile.engagement.floor)
    engagement = np.round(engagement, 2)
    total = np.round(fit + engagement, 2)
    grade = grades_for(fit, model)
    return ProfileScores(
        fit_points=fit_points,
        values=values,
        unrounded=capped,
        cents=cents,
        fit=fit,
        engagement=engagement,
        floor_lift=np.round(engagement - summed, 2),
        total=total,
        grade=grade,
        band=bands_for(engagement, model),
        is_mql=mql_flags(total, grade, model),
    )


def pick_primary(model: ScoringModel, profiles: Mapping[str, ProfileScores], n: int) -> np.ndarray:
    """The headline profile of each lead: one meeting the MQL rule if any, then the highest total,
    then the earliest in the agreement ("default" first)."""
    if len(model.profiles) == 1:
        return np.zeros(n, dtype=np.int64)
    key = np.stack(
        [profiles[p].is_mql.astype(float) * 1e12 + profiles[p].total for p in model.profile_ids], axis=1
    )
    return np.argmax(key, axis=1)


def evaluate_fit(model: ScoringModel, leads: pd.DataFrame) -> dict[str, np.ndarray]:
    """Fit points per profile, each field normalised once for all profiles."""
    cache: dict[str, FieldValues] = {}
    return {p.profile_id: fit_points(leads, p.fit_rules, model.lists, cache) for p in model.profiles}


def assemble(
    model: ScoringModel,
    lead_ids: np.ndarray,
    fit_by_profile: Mapping[str, np.ndarray],
    values_by_profile: Mapping[str, np.ndarray],
) -> Scores:
    profiles = {
        p.profile_id: profile_scores(model, p, fit_by_profile[p.profile_id], values_by_profile[p.profile_id])
        for p in model.profiles
    }
    return Scores(np.asarray(lead_ids), profiles, pick_primary(model, profiles, len(lead_ids)))


def score_frame(model: ScoringModel, leads: pd.DataFrame, events: EventArrays, as_of: int) -> Scores:
    """Score leads (a frame with `lead_id` and one column per fit field) from their whole event history.

    `events.lead` indexes rows of `leads`.
    """
    fit = evaluate_fit(model, leads)
    values = full_values(model, events, len(leads), as_of)
    return assemble(model, leads["lead_id"].to_numpy(), fit, values)
