"""Writing a shard's results: scores, per-rule contributions, state, history (history.py), MQL crossings.

All writes replace the shard's lead-id range inside the caller's transaction (delete, then COPY), so a
rerun writes the same rows again and readers never see half a shard.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psycopg

from smarketing.scoring import closed
from smarketing.scoring.history import score_columns, write_snapshots
from smarketing.scoring.kernel import ZERO, ProfileScores, Scores
from smarketing.scoring.model import Profile, ScoringModel
from smarketing.scoring.timing import Timings
from smarketing.scoring.warehouse import Shard, read_fit_contributions, to_us
from smarketing.sqlfiles import statement
from smarketing.warehouse.copy import Encoded, copy_in_columns, copy_in_fixed, copy_in_frame, encode

if TYPE_CHECKING:
    from smarketing.scoring.runner import Engagement, RunPlan

MQL_STAGE = "marketingqualifiedlead"
SCORING_SYSTEM = "scoring"


def _range(conn: psycopg.Connection, table: str, shard: Shard, extra: str = "", params: tuple = ()) -> None:
    conn.execute(
        f"DELETE FROM {table} WHERE lead_id BETWEEN %s AND %s {extra}",  # type: ignore[arg-type]  # fixed names
        (shard.low, shard.high, *params),
    )


def _delete_leads(conn: psycopg.Connection, table: str, lead_ids: np.ndarray) -> None:
    """Delete the rows of `lead_ids` from `table` (a few on an ordinary night: through a temp table
    analysed, so PostgreSQL finds them by index rather than the shard's range)."""
    if not len(lead_ids):
        return
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _scoring_drop (lead_id bigint) ON COMMIT DROP; TRUNCATE _scoring_drop"
    )
    copy_in_frame(conn, "_scoring_drop", pd.DataFrame({"lead_id": np.asarray(lead_ids, dtype=np.int64)}))
    conn.execute(
        f"ANALYZE _scoring_drop; DELETE FROM {table} r USING _scoring_drop d WHERE r.lead_id = d.lead_id"  # type: ignore[arg-type]  # fixed names
    )


# ---------------------------------------------------------------------------------------------
# Engine state
# ---------------------------------------------------------------------------------------------
def state_rows(
    model: ScoringModel, ids: np.ndarray, values: dict[str, np.ndarray], cells: dict[str, np.ndarray]
) -> pd.DataFrame:
    parts = []
    offset = 0
    for profile in model.profiles:
        rows, rules = np.nonzero(cells[profile.profile_id])
        value = values[profile.profile_id][rows, rules]
        parts.append(
            pd.DataFrame({"lead_id": ids[rows], "rule_no": (rules + offset).astype(np.int16), "value": value})
        )
        offset += len(profile.engagement.rules)
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["lead_id", "rule_no", "value"])
    )


STATE_COLUMNS = (("lead_id", "int8"), ("rule_no", "int2"), ("value", "float8"), ("as_of", "timestamptz"))


def write_state(
    conn: psycopg.Connection,
    model: ScoringModel,
    plan: RunPlan,
    shard: Shard,
    ids: np.ndarray,
    values: dict[str, np.ndarray],
    rewrite: dict[str, np.ndarray],
    continuing: np.ndarray,
    gone: np.ndarray,
) -> int:
    rows = state_rows(model, ids, values, rewrite)
    rows["value"] = np.where(np.abs(rows["value"]) < ZERO, 0.0, rows["value"])
    rows["as_of"] = plan.as_of_us
    if not continuing.any():
        _range(conn, "scoring.rule_state", shard)
        return copy_in_fixed(conn, "scoring.rule_state", STATE_COLUMNS, rows[rows["value"] != 0])
    # Leads scored from history and leads gone from the shard lose their old state; changed cells are
    # replaced. Both sets are small on an ordinary night, so they go through temp tables, not the range.
    _delete_leads(conn, "scoring.rule_state", np.concatenate([ids[~continuing], gone]))
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _scoring_state (LIKE scoring.rule_state) ON COMMIT DROP; "
        "TRUNCATE _scoring_state"
    )
    copy_in_fixed(conn, "_scoring_state", STATE_COLUMNS, rows)
    # Analysed, the few changed cells are found through the primary key; unanalysed, PostgreSQL guessed
    # a hash join over the whole state (a night's cost then grew with the state: 1.3 s against 0.36 s
    # for 35k of 720k cells).
    conn.execute(
        """
        ANALYZE _scoring_state;
        DELETE FROM scoring.rule_state r USING _scoring_state s
        WHERE r.lead_id = s.lead_id AND r.rule_no = s.rule_no;
        INSERT INTO scoring.rule_state SELECT * FROM _scoring_state WHERE value <> 0;
        """
    )
    return int((rows["value"] != 0).sum())


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------
_COMPARED = ("fit", "engagement", "total", "grade", "is_mql", "profile_id")


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    if a.dtype.kind in "fi" or b.dtype.kind in "fi":
        return np.isclose(
            pd.to_numeric(a, errors="coerce").to_numpy(float),
            pd.to_numeric(b, errors="coerce").to_numpy(float),
            rtol=0,
            atol=0.001,
        )
    left = a.astype(object).where(a.notna(), None).to_numpy()
    right = b.astype(object).where(b.notna(), None).to_numpy()
    return np.asarray(left == right, dtype=bool)


def moved(headline: pd.DataFrame, previous: pd.DataFrame) -> int:
    """Leads whose score, grade, MQL state or headline profile differ from their previous score (fading
    included), or that had none under this model version."""
    unchanged = previous["same_version"].fillna(False).to_numpy(dtype=bool, copy=True)
    if not unchanged.any():  # nothing scored before under this version (a first load): all moved
        return len(unchanged)
    before = previous.reset_index(drop=True)
    for column in _COMPARED:
        unchanged &= _same(headline[column].reset_index(drop=True), before[column])
    return int((~unchanged).sum())


# ---------------------------------------------------------------------------------------------
# Scores and contributions
# ---------------------------------------------------------------------------------------------
KINDS = ("fit", "engagement", "floor")


def _block(
    kind: str, profile: Profile, result: ProfileScores, code: dict[str, int]
) -> tuple[np.ndarray, list[int]]:
    """A profile's points of one kind (leads x rules) and the rules' codes; computed only when asked for
    (the engagement points are apportioned on demand)."""
    if kind == "fit":
        return result.fit_points, [code[r.rule_id] for r in profile.fit_rules]
    if kind == "engagement":
        return result.capped, [code[r.rule_id] for r in profile.engagement.rules]
    return result.floor_lift[:, None], [code["floor"]]


def contribution_rows(model: ScoringModel, scores: Scores, kinds: tuple[str, ...] = KINDS) -> pd.DataFrame:
    """One row per lead, profile and rule with points (of the `kinds` asked for); all kinds add up to each
    profile's total. The warehouse stores only the fit rows (`write_fit_contributions`): the view
    scoring.contributions computes the others from the engine state when read."""
    rule_names = sorted(
        {r.rule_id for p in model.profiles for r in (*p.fit_rules, *p.engagement.rules)} | {"floor"}
    )
    code = {name: i for i, name in enumerate(rule_names)}
    parts = []
    for p, profile in enumerate(model.profiles):
        result = scores.profiles[profile.profile_id]
        for kind in kinds:
            matrix, rule_codes = _block(kind, profile, result, code)
            rows, cols = np.nonzero(matrix)
            if not len(rows):
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "lead_id": scores.lead_ids[rows],
                        "profile_id": pd.Categorical.from_codes(
                            np.full(len(rows), p), list(model.profile_ids)
                        ),
                        "kind": pd.Categorical.from_codes(np.full(len(rows), KINDS.index(kind)), KINDS),
                        "rule_id": pd.Categorical.from_codes(np.asarray(rule_codes)[cols], rule_names),
                        "points": matrix[rows, cols].astype(float),
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["lead_id", "profile_id", "kind", "rule_id", "points"])
    return pd.concat(parts, ignore_index=True)


def _leads_with_other_fit(
    conn: psycopg.Connection, model: ScoringModel, shard: Shard, scores: Scores
) -> np.ndarray:
    """Ids of the shard's leads whose stored fit rows differ from `scores` (a rule now matching or no
    longer, other points): the stored rows are laid out as the same (lead x profile rule) matrix."""
    columns = [(p.profile_id, r.rule_id) for p in model.profiles for r in p.fit_rules]
    fit = np.concatenate([scores.profiles[p.profile_id].fit_points for p in model.profiles], axis=1)
    stored = read_fit_contributions(conn, shard, columns)
    ids = scores.lead_ids
    position = np.minimum(np.searchsorted(ids, stored["lead_id"]), max(len(ids) - 1, 0))
    scored = (ids[position] == stored["lead_id"]) if len(ids) else np.zeros(len(position), bool)
    # A stored row of a rule the model does not have can only be wrong: its lead is rewritten.
    unknown = np.zeros(len(ids), dtype=bool)
    unknown[position[scored & (stored["col"] < 0)]] = True
    known = scored & (stored["col"] >= 0)
    previous = np.zeros(fit.shape)
    previous[position[known], stored["col"][known]] = stored["points"][known]
    return ids[unknown | (np.abs(previous - fit) > 0.001).any(axis=1)]


def write_fit_contributions(
    conn: psycopg.Connection,
    model: ScoringModel,
    shard: Shard,
    scores: Scores,
    changed: np.ndarray | None,
    gone: np.ndarray,
) -> int:
    """Store the shard's fit contributions: all of them on a full rescore (`changed` None), else only the
    leads whose fit rows changed (`changed`: their ids) and remove those of leads gone."""
    if changed is None:
        _range(conn, "scoring.fit_contributions", shard)
        return copy_in_columns(
            conn, "scoring.fit_contributions", _binary(contribution_rows(model, scores, ("fit",)))
        )
    dropped = np.union1d(changed, gone)
    if not len(dropped):
        return 0
    conn.execute("DELETE FROM scoring.fit_contributions WHERE lead_id = ANY(%s)", (dropped.tolist(),))
    rows = contribution_rows(model, scores, ("fit",))
    return copy_in_columns(
        conn, "scoring.fit_contributions", _binary(rows[np.isin(rows["lead_id"].to_numpy(np.int64), changed)])
    )


def _binary(rows: pd.DataFrame) -> Encoded:
    """Fit contribution rows in the table's own binary layout: ids as the codes of their categories, points
    as whole cents (CSV made PostgreSQL parse every number and text)."""
    encoded = encode(rows[["lead_id"]])
    for column in ("profile_id", "rule_id"):
        values = pd.Categorical(rows[column])
        encoded = encoded.plus(column, "text", values.codes.astype(np.int64), list(values.categories))
    return encoded.plus(
        "points", "cents", np.rint(rows["points"].to_numpy(np.float64) * 100).astype(np.int64)
    )


def lead_score_rows(
    model: ScoringModel, plan: RunPlan, headline: pd.DataFrame, history_days: np.ndarray
) -> Encoded:
    """The shard's `scoring.lead_scores` rows in the table's own binary types (as CSV they cost 0.8 s of
    client CPU at 200k leads, and PostgreSQL parsed every number, time and text of them)."""
    n = len(headline)
    rows = score_columns(headline.rename(columns={"band": "engagement_band"}), TEXTS)
    grades, bands = rows.arrays["grade"], rows.arrays["engagement_band"]
    width = len(rows.vocabularies["engagement_band"])
    # The matrix cell of every (grade, band) pair: its code is the pair's position, NULL without both.
    priority = np.where((grades >= 0) & (bands >= 0), grades * width + bands, -1)
    cells = [g + b for g in rows.vocabularies["grade"] for b in rows.vocabularies["engagement_band"]]
    return (
        rows.plus("priority", "text", priority, cells)
        .plus("model_version", "text", np.zeros(n, np.int64), [model.version])
        .plus("config_hash", "text", np.zeros(n, np.int64), [model.config_hash])
        .plus("run_id", "text", np.zeros(n, np.int64), [plan.run_id])
        .plus("as_of", "time", np.full(n, plan.as_of_us, np.int64))
        .plus("scored_at", "time", np.full(n, to_us(datetime.now(UTC)), np.int64))
        .plus("history_on", "date", np.asarray(history_days, dtype=np.int64))
    )


TEXTS = ("grade", "engagement_band", "profile_id")


def profile_rows(scores: Scores) -> Encoded:
    """Every lead's `scoring.profile_scores` row per profile, in the table's own binary types."""
    parts = []
    for profile_id, result in scores.profiles.items():
        parts.append(
            pd.DataFrame(
                {
                    "lead_id": scores.lead_ids,
                    "profile_id": profile_id,
                    "fit": result.fit,
                    "engagement": result.engagement,
                    "total": result.total,
                    "grade": result.grade,
                    "is_mql": result.is_mql,
                }
            )
        )
    return score_columns(pd.concat(parts, ignore_index=True))


def write_crossings(
    conn: psycopg.Connection, model: ScoringModel, plan: RunPlan, headline: pd.DataFrame
) -> int:
    """First qualification per lead and model version, and the MQL stage in core.lifecycle_history."""
    qualified = headline[headline["is_mql"]][["lead_id", "total", "grade", "profile_id"]]
    if qualified.empty:
        return 0
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS _scoring_mql "
        "(lead_id bigint, total numeric, grade text, profile_id text) ON COMMIT DROP; TRUNCATE _scoring_mql"
    )
    copy_in_frame(conn, "_scoring_mql", qualified)
    params = {"version": model.version, "as_of": plan.as_of, "run": plan.run_id}
    new = conn.execute(statement("scoring", "mql_crossings"), params).fetchall()
    conn.execute(statement("scoring", "mql_stage"), {**params, "stage": MQL_STAGE, "system": SCORING_SYSTEM})
    return len(new)


def write_shard(
    conn: psycopg.Connection,
    model: ScoringModel,
    plan: RunPlan,
    shard: Shard,
    scores: Scores,
    previous: pd.DataFrame,
    engagement: Engagement,
    continuing: np.ndarray,
    gone: np.ndarray,
    timings: Timings,
) -> dict[str, int]:
    headline = scores.headline(model)
    values, rewrite = engagement.values, engagement.rewrite
    stats = {"score_moves": moved(headline, previous)}
    with timings.step("write_state"):
        stats["state_written"] = write_state(
            conn, model, plan, shard, scores.lead_ids, values, rewrite, continuing, gone
        )
    with timings.step("write_contributions"):
        # A lead or company field edited, a lead new to the shard: None on a full rescore (all rewritten).
        fit_changed = _leads_with_other_fit(conn, model, shard, scores) if continuing.any() else None
        stats["contributions"] = write_fit_contributions(conn, model, shard, scores, fit_changed, gone)
    with timings.step("write_history"):
        # The others' inputs only faded, or lost events leaving the window, since their latest snapshot
        # (history.py's invariant).
        candidates = ~continuing | ~previous["same_version"].fillna(False).to_numpy(dtype=bool)
        candidates |= engagement.changed_otherwise
        if fit_changed is not None:
            candidates |= np.isin(scores.lead_ids, fit_changed)
        history_days, stats["history_rows"] = write_snapshots(
            conn, model, plan, shard, scores, headline, candidates, previous["history_day"], ~continuing
        )
        # Their rows carry the run's time: the lead's last reference time for the next night.
        inputs_changed = candidates.copy()
        for cells in rewrite.values():
            inputs_changed |= cells.any(axis=1)
    with timings.step("write_lead_scores"):
        stats["score_rows"] = write_score_rows(
            conn, model, plan, shard, scores, headline, history_days, previous, inputs_changed, gone
        )
        _range(conn, "scoring.profile_scores", shard)
        if len(model.profiles) > 1:
            stats["score_rows"] += copy_in_columns(conn, "scoring.profile_scores", profile_rows(scores))
    with timings.step("write_crossings"):
        stats["new_mqls"] = write_crossings(conn, model, plan, headline)
        if engagement.log_high:
            _range(conn, "scoring.event_changes", shard, "AND seq <= %s", (engagement.log_high,))
    stats["mqls"] = int(headline["is_mql"].sum())
    return stats


def write_score_rows(
    conn: psycopg.Connection,
    model: ScoringModel,
    plan: RunPlan,
    shard: Shard,
    scores: Scores,
    headline: pd.DataFrame,
    history_days: np.ndarray,
    previous: pd.DataFrame,
    inputs_changed: np.ndarray,
    gone: np.ndarray,
) -> int:
    """Store the shard's score rows in closed form (smarketing.scoring.closed): all of them when the run
    rewrites every row (a full rescore, a new anchor), else those of leads whose inputs changed (their
    rows then carry the run's time, the lead's last reference time for the next night) or whose stored
    row would no longer show exactly what the run computed; rows of leads gone are removed."""
    parts = closed.parts(model, scores, plan)
    rows = lead_score_rows(model, plan, headline, history_days)
    if plan.reanchored or plan.mode == "full":
        _range(conn, "scoring.score_rows", shard)
        return copy_in_columns(conn, "scoring.score_rows", parts.encode(rows))
    write = inputs_changed | ~closed.still_exact(plan, headline, history_days, previous)
    _delete_leads(conn, "scoring.score_rows", np.concatenate([scores.lead_ids[write], gone]))
    return copy_in_columns(conn, "scoring.score_rows", parts.encode(rows.take(write), write))


def write_accounts(conn: psycopg.Connection, model: ScoringModel, plan: RunPlan) -> int:
    conn.execute("DELETE FROM scoring.account_scores")
    return conn.execute(
        statement("scoring", "account_scores"), {"version": model.version, "as_of": plan.as_of}
    ).rowcount
