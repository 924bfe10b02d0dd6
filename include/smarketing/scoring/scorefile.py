"""Score leads from files with the same engine as the pipeline: `smarketing score-file`.

The leads file has one row per lead: an id column and attribute columns. A rule field is looked up as
the column of the same name, else by its last part (`attributes.origin` reads column `origin`,
`company.employees` reads `employees`). An optional events file (the id column, `event_type`,
`occurred_at` and optionally `content_topic`, `campaign_id`, `url`) gives engagement; without it
engagement is 0.

The output has the id, fit, engagement, score (fit + engagement), grade, whether the lead meets the MQL
rule, and the top reasons: the rules that moved the score most, e.g.
`persona_decision_maker +20; demo_request +52.64; free_email -10`. No other input column is copied,
so e-mail addresses in the input never reach the output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from smarketing.errors import SmarketingError
from smarketing.scoring.events import predicate_mask_frame
from smarketing.scoring.kernel import EventArrays, Scores, score_frame
from smarketing.scoring.model import ScoringModel
from smarketing.scoring.outputs import contribution_rows


class ScoreFileError(SmarketingError):
    """The input files cannot be scored as asked (missing column, bad time)."""


def read_events(path: Path, id_column: str, lead_ids: pd.Series) -> tuple[pd.DataFrame, EventArrays]:
    events = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    missing = {id_column, "event_type", "occurred_at"} - set(events.columns)
    if missing:
        raise ScoreFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    times = pd.to_datetime(events["occurred_at"], utc=True, errors="coerce", format="mixed")
    bad = times.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise ScoreFileError(f"{path}: line {row}: occurred_at is not a date-time")
    position = pd.Index(lead_ids).get_indexer(events[id_column])
    keep = position >= 0
    t = ((times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)).to_numpy(np.int64)
    return events, EventArrays(position[keep].astype(np.int64), t[keep], np.zeros(int(keep.sum()), np.int64))


def reasons(model: ScoringModel, scores: Scores, top: int) -> pd.Series:
    """The `top` rules with the largest effect on each lead's headline profile, as text."""
    rows = contribution_rows(model, scores)
    headline = pd.Series(np.asarray(model.profile_ids, dtype=object)[scores.primary], index=scores.lead_ids)
    rows = rows[rows["profile_id"].astype(str).to_numpy() == headline.reindex(rows["lead_id"]).to_numpy()]
    rows = rows.assign(weight=rows["points"].abs()).sort_values(
        ["lead_id", "weight"], ascending=[True, False]
    )
    rows = rows.assign(rank=rows.groupby("lead_id", sort=False).cumcount())
    rows = rows[rows["rank"] < top]
    points = rows["points"].round(2)
    shown = points.astype("string").str.replace(r"\.0$", "", regex=True)
    text = rows["rule_id"].astype("string") + " " + np.where(points >= 0, "+", "") + shown
    # One column per rank, joined column by column: no Python call per lead.
    wide = pd.DataFrame({"lead_id": rows["lead_id"], "rank": rows["rank"], "text": text}).pivot(
        index="lead_id", columns="rank", values="text"
    )
    joined = wide[0] if len(wide.columns) else pd.Series(dtype="string")
    for rank in wide.columns[1:]:
        joined = joined.where(wide[rank].isna(), joined + "; " + wide[rank])
    return joined


def score_file(
    model: ScoringModel,
    input_path: Path,
    *,
    id_column: str,
    out_path: Path,
    events_path: Path | None = None,
    as_of: datetime | None = None,
    top: int = 3,
) -> dict[str, int]:
    leads = pd.read_csv(input_path, dtype="string", keep_default_na=False, na_values=[""])
    if id_column not in leads.columns:
        raise ScoreFileError(
            f"{input_path}: no id column {id_column!r} (columns: {', '.join(leads.columns)})"
        )
    if leads[id_column].isna().any() or leads[id_column].duplicated().any():
        raise ScoreFileError(f"{input_path}: column {id_column!r} must hold a distinct, non-empty id per row")
    ids = leads[id_column]
    frame = leads.assign(lead_id=np.arange(len(leads)))
    moment = as_of or datetime.now(UTC)
    t1 = int(pd.Timestamp(moment).tz_convert("UTC").value // 1000)
    events = EventArrays.empty()
    if events_path is not None:
        table, events = read_events(events_path, id_column, ids)
        known = pd.Index(ids).get_indexer(table[id_column]) >= 0
        events.mask = predicate_mask_frame(table[known].reset_index(drop=True), model.predicates)
    scores = score_frame(model, frame, events, t1)
    headline = scores.headline(model)
    why = reasons(model, scores, top).reindex(headline["lead_id"]).fillna("")
    out = pd.DataFrame(
        {
            id_column: ids.to_numpy(),
            "fit": headline["fit"].to_numpy(),
            "engagement": headline["engagement"].to_numpy(),
            "score": headline["total"].to_numpy(),
            "grade": headline["grade"].to_numpy(),
            "mql": headline["is_mql"].to_numpy(),
            "reasons": why.to_numpy(),
        }
    )
    if len(model.profiles) > 1:
        out.insert(6, "profile", headline["profile_id"].to_numpy())
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(out_path, index=False)
    return {"leads": len(out), "events": len(events), "mqls": int(out["mql"].sum())}
