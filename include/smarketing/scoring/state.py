"""The engine state as the shard reads it: cells placed into the (lead x rule) value matrices, and the
leads' previous scores recomputed from it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smarketing.scoring.kernel import US_PER_DAY, assemble
from smarketing.scoring.model import ScoringModel


def rule_offsets(model: ScoringModel) -> dict[str, int]:
    offsets, offset = {}, 0
    for profile in model.profiles:
        offsets[profile.profile_id] = offset
        offset += len(profile.engagement.rules)
    return offsets


def positions(ids: np.ndarray, lead_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row index of each lead id in sorted `ids`, and whether it is there at all."""
    if not len(ids):
        return np.zeros(len(lead_ids), np.int64), np.zeros(len(lead_ids), bool)
    position = np.minimum(np.searchsorted(ids, lead_ids), len(ids) - 1)
    return position.astype(np.int64), ids[position] == lead_ids


def state_values(
    model: ScoringModel,
    ids: np.ndarray,
    leads: np.ndarray,
    faded: np.ndarray,
    state: dict[str, np.ndarray],
    values: dict[str, np.ndarray],
) -> None:
    """Place the state cells of the `leads` (a mask over `ids`), faded as in `faded`, into `values`."""
    # Faded by PostgreSQL (scoring.faded): the cells a night leaves as they are are shown by the views
    # through the same function, so shown points and totals agree to the bit.
    position, known = positions(ids, state["lead_id"])
    keep = known & leads[position]
    rule_no = state["rule_no"].astype(np.int64)
    for profile_id, offset in rule_offsets(model).items():
        profile = model.profile(profile_id)
        mine = keep & (rule_no >= offset) & (rule_no < offset + len(profile.engagement.rules))
        values[profile_id][position[mine], rule_no[mine] - offset] = faded[mine]


NO_STATE = {"lead_id": np.zeros(0, np.int64), "rule_no": np.zeros(0, np.int16), "value": np.zeros(0)}


def previous_scores(
    model: ScoringModel, ids: np.ndarray, previous: pd.DataFrame, state: dict[str, np.ndarray], t1: int
) -> pd.DataFrame:
    """`previous` with each lead's score before this run (fit, engagement, total, grade, is_mql,
    profile_id), recomputed from the stored fits and the state faded back from T1 to the time of the
    lead's range: what scoring.lead_scores showed, to float rounding (only `score_moves` reads it).
    Empty for leads another model scored (their scores count as moved)."""
    same = previous["same_model"].fillna(False).to_numpy(dtype=bool)
    n = len(ids)
    values = {p.profile_id: np.zeros((n, len(p.engagement.rules))) for p in model.profiles}
    position, _ = positions(ids, state["lead_id"])
    t0 = previous["as_of"].to_numpy(dtype="float64", na_value=t1)
    half_life = np.array([np.nan if h is None else h for h in half_lives(model)], dtype=float)
    half_life = half_life[state["rule_no"].astype(np.int64)] if len(half_life) else np.zeros(0)
    lead_t0 = t0[position] if len(t0) else np.full(len(position), float(t1))
    factor = np.where(np.isnan(half_life), 1.0, np.exp2((t1 - lead_t0) / (half_life * US_PER_DAY)))
    state_values(model, ids, same, state["value"] * factor, state, values)
    fits = {
        p.profile_id: previous[f"fit_{j}"].to_numpy(dtype="float64", na_value=0).astype(np.int64)[:, None]
        for j, p in enumerate(model.profiles)
    }
    before = assemble(model, ids, fits, values).headline(model).drop(columns=["lead_id", "band"])
    out = previous.reset_index(drop=True).copy()
    for column in before.columns:
        out[column] = before[column].astype(object).where(same, None)
    out.index = previous.index
    return out


def half_lives(model: ScoringModel) -> list[float | None]:
    """The half-life of each engagement rule, by its position in the state (rule_no)."""
    return [p.engagement.half_life_days for p in model.profiles for _ in p.engagement.rules]
