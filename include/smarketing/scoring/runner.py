"""A scoring run: plan it, score each lead-id shard (in parallel, one transaction each), finalize.

Each shard decides per lead how to get its engagement state at the run's reference time T1:

* **from history** (full) when the lead has no score yet, its score came from another model, it is
  scored as of an earlier time than its current score, or the run is a full rescore;
* **incrementally** otherwise: the stored per-rule state is rescaled from its time to T1, then
  corrected by what changed since — events after the lead's last reference time T0, events leaving the
  window, and the days of late or corrected events logged by the triggers on core.marketing_events.
  The result equals the full computation (tests/unit/test_scoring_incremental.py and
  tests/integration/test_scoring_runs.py check it).

A shard holds the core build's advisory lock in shared mode for its whole transaction, so no core build
commits while it reads: the events, the change log and the scores it replaces are one consistent world.
Every write is delete-and-insert of the shard's lead-id range in that one transaction: rerunning a run
(or a shard) gives the same rows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from smarketing.errors import SmarketingError
from smarketing.scoring import closed, outputs
from smarketing.scoring.kernel import (
    US_PER_DAY,
    EventArrays,
    assemble,
    day_keys,
    evaluate_fit,
    full_values,
    incremental_delta,
)
from smarketing.scoring.model import ScoringModel
from smarketing.scoring.runguard import exclusive_run, recording_failure, shared_step
from smarketing.scoring.timing import Timings
from smarketing.scoring.warehouse import (
    BUILD_LOCK_KEY,
    EVERY_LEAD,
    Shard,
    day_floor,
    events_of,
    history_of_shards,
    instant,
    merge_ranges,
    positions,
    read_changes,
    read_event_days,
    read_history,
    read_leads,
    read_previous,
    read_state,
    read_time_ranges,
    to_us,
)
from smarketing.tasklog import count, duration, moment
from smarketing.tasklog import summary as summary_line
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

MIN_ID, MAX_ID = EVERY_LEAD.low, EVERY_LEAD.high
# Below this share of a shard's leads, fresh leads' histories are fetched by id rather than by range.
FRESH_BY_ID = 0.25
# Keys of a finished run's summary saying what its scores are: history kept as snapshots (migration 0016),
# the engagement sum rounded once (0028), scores stored in closed form (0035). A warehouse whose last run
# lacks one is rescored in full.
DEFINITION = ("snapshots", "engagement_rounded_once", "closed_form")


class ModelChangedDuringRun(SmarketingError):
    """The agreement's scoring section changed between planning a run and scoring a shard."""


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    as_of_us: int
    mode: str  # "full" or "incremental"
    model_version: str
    config_hash: str
    shards: tuple[Shard, ...]
    # What the stored score rows are scaled to (smarketing.scoring.closed): the anchor, the fading factor
    # per profile from it to as_of, and whether this run moves the anchor (and so rewrites every row).
    anchor_us: int = 0
    factors: tuple[float, ...] = ()
    reanchored: bool = True

    @property
    def as_of(self) -> datetime:
        return instant(self.as_of_us)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shards"] = [asdict(s) for s in self.shards]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunPlan:
        return cls(
            **{
                **data,
                "shards": tuple(Shard(**s) for s in data["shards"]),
                "factors": tuple(data.get("factors", ())),
            }
        )


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------
def register_model(conn: psycopg.Connection, model: ScoringModel) -> bool:
    """Record the model and its rules; True when it is new."""
    inserted = conn.execute(
        """
        INSERT INTO scoring.models (model_version, config_hash, definition) VALUES (%s, %s, %s)
        ON CONFLICT DO NOTHING RETURNING 1
        """,
        (model.version, model.config_hash, Jsonb(model.definition())),
    ).fetchone()
    with conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO scoring.rules (config_hash, model_version, profile_id, kind, rule_id, rule_no,
                                       description, points, cap, max_per_day)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
            """,
            _rule_rows(model),
        )
        # What reading scoring.contributions needs to fade, cap and floor the engine state.
        cur.executemany(
            """
            INSERT INTO scoring.profiles (config_hash, profile_id, half_life_days, floor)
            VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING
            """,
            [
                (model.config_hash, p.profile_id, p.engagement.half_life_days, p.engagement.floor)
                for p in model.profiles
            ],
        )
    if inserted is not None:
        # A few rows each, but the plan of scoring.contributions depends on their statistics (without
        # them PostgreSQL expects one engagement rule and looks the state up per lead and rule).
        conn.execute("ANALYZE scoring.rules, scoring.profiles")
    return inserted is not None


def _rule_rows(model: ScoringModel) -> list[tuple]:
    """One scoring.rules row per fit and engagement rule of every profile (a handful: a plain list)."""
    rows = []
    offset = 0
    key = (model.config_hash, model.version)
    for profile in model.profiles:
        for rule in profile.fit_rules:
            rows.append(
                (
                    *key,
                    profile.profile_id,
                    "fit",
                    rule.rule_id,
                    None,
                    rule.describe(),
                    rule.points,
                    None,
                    None,
                )
            )
        for r, rule in enumerate(profile.engagement.rules):
            description = model.predicates[rule.predicate].describe()
            rows.append(
                (
                    *key,
                    profile.profile_id,
                    "engagement",
                    rule.rule_id,
                    offset + r,
                    description,
                    rule.points,
                    rule.cap,
                    rule.max_per_day,
                )
            )
        offset += len(profile.engagement.rules)
    return rows


def shard_bounds(conn: psycopg.Connection, count: int) -> tuple[Shard, ...]:
    """`count` lead-id ranges with about as many leads each, covering every possible id."""
    cuts: list[int] = []
    if count > 1:
        quantiles = [i / count for i in range(1, count)]
        row = conn.execute(
            "SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY lead_id) FROM core.leads",
            (quantiles,),
        ).fetchone()
        cuts = sorted({int(c) for c in (row[0] or []) if c is not None})
    lows = [MIN_ID, *(c + 1 for c in cuts)]
    highs = [*cuts, MAX_ID]
    return tuple(Shard(i, lo, hi) for i, (lo, hi) in enumerate(zip(lows, highs, strict=True)))


def plan_run(
    dsn: str,
    model: ScoringModel,
    *,
    run_id: str,
    as_of: datetime,
    full: bool = False,
    shard_count: int = 4,
    lock_held: bool = False,
) -> RunPlan:
    """Register the model, decide full or incremental, split the leads into shards, record the run.

    `lock_held`: the caller holds the scoring lock exclusively (`runguard.exclusive_run`); otherwise
    this step takes it shared and raises `ScoringBusy` when a run in one process holds it.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    with connect(dsn) as conn, conn.transaction():
        if not lock_held:
            shared_step(conn)
        new_model = register_model(conn, model)
        last = conn.execute(
            "SELECT config_hash, stats -> 'summary' ?& %s FROM scoring.runs "
            "WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
            (list(DEFINITION),),
        ).fetchone()
        # A warehouse last scored before history snapshots (migration 0016) is rescored in full once, so
        # every lead gets a first snapshot: an incremental night only snapshots the leads that changed.
        # One last scored before the engagement sum was rounded once (migration 0028) is too: its stored
        # scores are rewritten from the events under the new definition, and the run is on record as
        # the first under it (snapshots keep their inputs, which the definition does not touch).
        changed = last is None or last[0] != model.config_hash or not last[1]
        mode = "full" if full or changed else "incremental"
        shards = shard_bounds(conn, max(1, shard_count))
        t1 = to_us(as_of.astimezone(UTC))
        scaling = closed.scaling(conn, model, t1, every_row=mode == "full")
        plan = RunPlan(run_id, t1, mode, model.version, model.config_hash, shards, *scaling)
        conn.execute(
            """
            INSERT INTO scoring.runs (run_id, as_of, mode, model_version, config_hash, shard_count)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (run_id) DO UPDATE
               SET as_of = EXCLUDED.as_of, mode = EXCLUDED.mode, model_version = EXCLUDED.model_version,
                   config_hash = EXCLUDED.config_hash, shard_count = EXCLUDED.shard_count,
                   started_at = now(), finished_at = NULL, stats = '{}'::jsonb
            """,
            (run_id, plan.as_of, mode, model.version, model.config_hash, len(shards)),
        )
    kind = "full rescore" if mode == "full" else "incremental"
    summary_line(
        f"scoring run {run_id} as of {moment(plan.as_of)}: {kind} with {'a new' if new_model else 'the'} "
        f"model {model.version}, {count(len(shards), 'shard')}: "
        f"{', '.join(shard_label(s, len(shards)) for s in shards)}"
    )
    return plan


# ---------------------------------------------------------------------------------------------
# One shard
# ---------------------------------------------------------------------------------------------
@dataclass
class Engagement:
    values: dict[str, np.ndarray]  # uncapped rule values at T1, per profile (n leads x rules)
    rewrite: dict[str, np.ndarray]  # state cells to store again (changed, or of leads scored from history)
    # Leads carried forward whose state changed other than by events leaving the window (new, late,
    # corrected or removed events): only they, of the leads carried forward, may need a history snapshot.
    changed_otherwise: np.ndarray
    stats: dict[str, int]
    log_high: int


def _align_previous(previous: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    return previous.set_index("lead_id").reindex(ids)


def _rule_offsets(model: ScoringModel) -> dict[str, int]:
    offsets, offset = {}, 0
    for profile in model.profiles:
        offsets[profile.profile_id] = offset
        offset += len(profile.engagement.rules)
    return offsets


def _events_of(frame: pd.DataFrame, ids: np.ndarray) -> EventArrays:
    position, known = positions(ids, frame["lead_id"].to_numpy(np.int64))
    return EventArrays(
        position[known], frame["t"].to_numpy(np.int64)[known], frame["mask"].to_numpy(np.int64)[known]
    )


def shard_engagement(
    conn: psycopg.Connection,
    model: ScoringModel,
    shard: Shard,
    ids: np.ndarray,
    continuing: np.ndarray,
    t0: np.ndarray,
    t1: int,
    history: dict[str, np.ndarray] | None = None,
) -> Engagement:
    """Uncapped rule values at `t1` of the shard's leads `ids`, from history for the others than the
    `continuing` ones; `history`: the shard's events already read (`read_history_rows`), if any."""
    n = len(ids)
    values = {p.profile_id: np.zeros((n, len(p.engagement.rules))) for p in model.profiles}
    rewrite = {p.profile_id: np.zeros((n, len(p.engagement.rules)), dtype=bool) for p in model.profiles}
    stats = {"history_events": 0, "new_events": 0, "changed_days": 0, "state_rows": 0}
    changed_otherwise = np.zeros(n, dtype=bool)
    fresh = ~continuing
    if fresh.any():
        if history is not None:
            events = events_of(history, ids)
        else:
            only = None if fresh.mean() > FRESH_BY_ID else ids[fresh]
            events = read_history(conn, model, shard, ids, t1, only=only)
        events = events.take(np.flatnonzero(fresh[events.lead]))
        stats["history_events"] = len(events)
        for profile_id, computed in full_values(model, events, n, t1).items():
            values[profile_id][fresh] = computed[fresh]
            rewrite[profile_id][fresh] = True

    changes, log_high = read_changes(conn, model, shard)
    if continuing.any():
        _rescaled_state(conn, model, shard, ids, continuing, t1, values, stats)
        new_world, old_world, affected = _what_changed(
            conn, model, shard, ids, continuing, t0, t1, changes, stats
        )
        # The same without the days whose events can only leave the window (whole days from the day of the
        # lead's T0 on, for counting per day, and the affected days): what the history must snapshot.
        keys = day_keys(new_world.lead, new_world.t)
        otherwise = new_world.take(
            np.flatnonzero((keys >= day_keys(new_world.lead, t0[new_world.lead])) | np.isin(keys, affected))
        )
        for profile in model.profiles:
            delta = incremental_delta(profile.engagement, n, new_world, old_world, t0, t1, affected)
            values[profile.profile_id] += delta
            rewrite[profile.profile_id] |= (delta != 0) & continuing[:, None]
            if (delta != 0).any():
                other = incremental_delta(profile.engagement, n, otherwise, old_world, t0, t1, affected)
                changed_otherwise |= (other != 0).any(axis=1) & continuing
    return Engagement(values, rewrite, changed_otherwise, stats, log_high)


def _rescaled_state(
    conn: psycopg.Connection,
    model: ScoringModel,
    shard: Shard,
    ids: np.ndarray,
    continuing: np.ndarray,
    t1: int,
    values: dict[str, np.ndarray],
    stats: dict[str, int],
) -> None:
    # Faded to T1 by PostgreSQL (scoring.faded): the cells this night leaves as they are are shown by
    # scoring.contributions through the same function, so shown points and totals agree to the bit.
    state = read_state(conn, shard, t1, _half_lives(model))
    stats["state_rows"] = len(state["lead_id"])
    position, known = positions(ids, state["lead_id"])
    keep = known & continuing[position]
    rule_no = state["rule_no"].astype(np.int64)
    for profile_id, offset in _rule_offsets(model).items():
        profile = model.profile(profile_id)
        mine = keep & (rule_no >= offset) & (rule_no < offset + len(profile.engagement.rules))
        values[profile_id][position[mine], rule_no[mine] - offset] = state["value"][mine]


def _half_lives(model: ScoringModel) -> list[float | None]:
    """The half-life of each engagement rule, by its position in the state (rule_no)."""
    return [p.engagement.half_life_days for p in model.profiles for _ in p.engagement.rules]


def _what_changed(
    conn: psycopg.Connection,
    model: ScoringModel,
    shard: Shard,
    ids: np.ndarray,
    continuing: np.ndarray,
    t0: np.ndarray,
    t1: int,
    changes: pd.DataFrame,
    stats: dict[str, int],
) -> tuple[EventArrays, EventArrays, np.ndarray]:
    """New world, old world and affected (lead, day) keys for `incremental_delta`."""
    # Days where events at or before the leads' T0 were added, changed or removed.
    position, known = positions(ids, changes["lead_id"].to_numpy(np.int64))
    changes = changes.assign(idx=position)[known & continuing[position]]
    changes = changes[changes["t"].to_numpy(np.int64) <= t0[changes["idx"].to_numpy()]]
    first = changes.sort_values("seq").drop_duplicates(["lead_id", "event_id"], keep="first")
    old_images = first[first["image"] == "old"]
    days = changes.assign(day=changes["t"] // US_PER_DAY)[["lead_id", "day"]].drop_duplicates()
    affected = np.unique(day_keys(changes["idx"].to_numpy(np.int64), changes["t"].to_numpy(np.int64)))
    stats["changed_days"] = len(days)

    day_events = read_event_days(conn, model, days)
    unchanged = day_events.merge(
        changes[["lead_id", "event_id"]].drop_duplicates(),
        on=["lead_id", "event_id"],
        how="left",
        indicator=True,
    )
    unchanged = unchanged[unchanged["_merge"] == "left_only"]
    old_world = EventArrays.concat([_events_of(unchanged, ids), _events_of(old_images, ids)])

    # Whole UTC days after the earliest T0 and days whose events may leave a window by T1.
    earliest = int(t0[continuing].min())
    ranges = [(day_floor(earliest), t1 + 1)]
    for window in {p.engagement.window_days for p in model.profiles} - {None}:
        width = window * US_PER_DAY
        ranges.append((day_floor(earliest - width), day_floor(t1 - width) + US_PER_DAY))
    in_ranges = read_time_ranges(conn, model, shard, ids, merge_ranges(ranges))
    outside_changed = continuing[in_ranges.lead] & ~np.isin(day_keys(in_ranges.lead, in_ranges.t), affected)
    in_ranges = in_ranges.take(np.flatnonzero(outside_changed))
    stats["new_events"] = len(in_ranges)
    new_world = EventArrays.concat([in_ranges, _events_of(day_events, ids)])
    return new_world, old_world, affected


def _continuing(plan: RunPlan, previous: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which leads continue incrementally from their stored state, and their last reference time T0.

    A lead continues on an incremental run when the same model scored it as of no later than T1;
    every other lead is scored from its history (T0 = 0).
    """
    prev_as_of = previous["as_of"].to_numpy(dtype="float64", na_value=np.nan)
    continuing = (
        (plan.mode == "incremental")
        & previous["same_model"].fillna(False).to_numpy(dtype=bool)
        & (np.nan_to_num(prev_as_of, nan=np.inf) <= plan.as_of_us)
    )
    return continuing, np.where(continuing, np.nan_to_num(prev_as_of, nan=0), 0).astype(np.int64)


def score_shard(
    dsn: str,
    model: ScoringModel,
    plan: RunPlan,
    number: int,
    *,
    lock_held: bool = False,
    history: dict[str, np.ndarray] | None = None,
) -> dict[str, int]:
    """Score shard `number` of a planned run and write its rows; returns counts.

    `lock_held` as for `plan_run`; raises `ScoringBusy` when another run holds the scoring lock.
    `history`: on a full rescore, the shard's events already read by the caller under the core build's
    lock (`run_scoring`, `history_of_shards`); read here otherwise.
    """
    if model.config_hash != plan.config_hash:
        raise ModelChangedDuringRun(
            f"the scoring model changed since run {plan.run_id} was planned "
            f"({plan.config_hash} -> {model.config_hash}): run it again"
        )
    shard = plan.shards[number]
    t1 = plan.as_of_us
    timings = Timings()
    with recording_failure(dsn, plan.run_id, f"shard_{number}"), connect(dsn) as conn, conn.transaction():
        if not lock_held:
            shared_step(conn)
        with timings.step("wait_for_core_build"):
            conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (BUILD_LOCK_KEY,))
        with timings.step("read_leads"):
            leads = read_leads(conn, model, shard, t1)
            ids = leads["lead_id"].to_numpy(np.int64)
            scored_before = read_previous(conn, model, shard)
        gone = np.setdiff1d(scored_before["lead_id"].to_numpy(np.int64), ids)
        previous = _align_previous(scored_before, ids)
        continuing, t0 = _continuing(plan, previous)
        with timings.step("engagement"):
            engagement = shard_engagement(conn, model, shard, ids, continuing, t0, t1, history)
        with timings.step("fit_and_totals"):
            scores = assemble(model, ids, evaluate_fit(model, leads), engagement.values)
        stats = outputs.write_shard(
            conn, model, plan, shard, scores, previous, engagement, continuing, gone, timings
        )
        stats.update(engagement.stats)
        stats["seconds"] = dict(timings)
        stats["leads"] = len(ids)
        stats["incremental_leads"] = int(continuing.sum())
        conn.execute(
            "UPDATE scoring.runs SET stats = stats || jsonb_build_object(%s::text, %s::jsonb) WHERE run_id = %s",
            (f"shard_{number}", json.dumps(stats), plan.run_id),
        )
    summary_line(_shard_headline(plan, number, stats))
    return stats


def shard_label(shard: Shard, of: int) -> str:
    """ "shard 2 of 4 (lead ids 250,001–500,000)"; the first and last shards are open-ended."""
    low, high = shard.low > -(2**63), shard.high < 2**63 - 1
    if low and high:
        ids = f"{count(shard.low)}–{count(shard.high)}"
    elif low or high:
        ids = f"from {count(shard.low)}" if low else f"up to {count(shard.high)}"
    else:
        ids = "all"
    return f"shard {shard.number + 1} of {of} (lead ids {ids})"


def _shard_headline(plan: RunPlan, number: int, stats: dict) -> str:
    shard = next(s for s in plan.shards if s.number == number)
    seconds = sum(v for v in stats.get("seconds", {}).values() if isinstance(v, int | float))
    fresh = stats["leads"] - stats["incremental_leads"]
    return (
        f"{shard_label(shard, len(plan.shards))}: {count(stats['leads'], 'lead')} scored "
        f"({count(stats['incremental_leads'])} carried forward incrementally, {count(fresh)} from their whole "
        f"history), {count(stats.get('mqls', 0), 'MQL')} ({count(stats.get('new_mqls', 0))} new), "
        f"{count(stats.get('new_events', 0), 'new event')} read, in {duration(seconds)}"
    )


# ---------------------------------------------------------------------------------------------
# Finalize
# ---------------------------------------------------------------------------------------------
def finalize_run(dsn: str, model: ScoringModel, plan: RunPlan, *, lock_held: bool = False) -> dict[str, int]:
    """Roll scores up per company, close the run; returns headline counts (`lock_held` as for `plan_run`)."""
    with recording_failure(dsn, plan.run_id, "finalize"), connect(dsn) as conn, conn.transaction():
        if not lock_held:
            shared_step(conn)
        # Every shard is written: the stored rows are shown at this run's time from now on.
        closed.write_clock(conn, plan)
        accounts = outputs.write_accounts(conn, model, plan)
        leads, mqls = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_mql) FROM scoring.lead_scores"
        ).fetchone()
        new_mqls = conn.execute(
            "SELECT count(*) FROM scoring.mql_crossings WHERE run_id = %s", (plan.run_id,)
        ).fetchone()[0]
        result = {"leads": int(leads), "mqls": int(mqls), "new_mqls": int(new_mqls), "accounts": accounts}
        # What the scores of this run are (plan_run reads it): history as snapshots, the engagement sum
        # rounded once, scores in closed form.
        summary = result | dict.fromkeys(DEFINITION, True)
        conn.execute(
            """
            UPDATE scoring.runs
               SET finished_at = now(), stats = (stats - 'failed') || jsonb_build_object('summary', %s::jsonb)
            WHERE run_id = %s
            """,
            (json.dumps(summary), plan.run_id),
        )
    summary_line(
        f"scoring run {plan.run_id} finished: {count(result['leads'], 'lead')} with a score, "
        f"{count(result['mqls'], 'MQL')} now ({count(result['new_mqls'])} crossed in this run), "
        f"{count(accounts, 'account')} rolled up"
    )
    return result


def run_scoring(
    dsn: str,
    model: ScoringModel,
    *,
    run_id: str,
    as_of: datetime,
    full: bool = False,
    shard_count: int = 1,
) -> dict:
    """Plan, score every shard one after the other, finalize: the whole run in this process.

    Holds the scoring lock for the whole run; raises `ScoringBusy` (nothing written) when another run
    is in progress.
    """
    with exclusive_run(dsn):
        plan = plan_run(
            dsn, model, run_id=run_id, as_of=as_of, full=full, shard_count=shard_count, lock_held=True
        )
        shards = []
        with history_of_shards(dsn, model, plan.shards, plan.as_of_us, full=plan.mode == "full") as histories:
            for shard in plan.shards:
                history, histories[shard.number] = histories[shard.number], None  # freed once scored
                shards.append(score_shard(dsn, model, plan, shard.number, lock_held=True, history=history))
        summary = finalize_run(dsn, model, plan, lock_held=True)
    return {"run_id": run_id, "mode": plan.mode, "as_of": plan.as_of.isoformat(), "shards": shards, **summary}


def scores_as_of(dsn: str, model: ScoringModel, as_of: datetime, *, shard_count: int = 1) -> pd.DataFrame:
    """Every lead's score as it was at `as_of`, recomputed from history; writes nothing.

    Lead and company fields are today's (the warehouse keeps no history of them); events are those that
    had happened by `as_of`, and leads those created by then.
    """
    t1 = to_us(as_of.astimezone(UTC))
    frames = []
    with connect(dsn) as conn:
        for shard in shard_bounds(conn, shard_count):
            leads = read_leads(conn, model, shard, t1)
            ids = leads["lead_id"].to_numpy(np.int64)
            events = read_history(conn, model, shard, ids, t1)
            scores = assemble(
                model, ids, evaluate_fit(model, leads), full_values(model, events, len(ids), t1)
            )
            frames.append(scores.headline(model))
    return pd.concat(frames, ignore_index=True)
