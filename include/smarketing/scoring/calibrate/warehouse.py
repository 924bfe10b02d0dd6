"""Leads of the warehouse as a calibration input: lead and company fields, the outcome, and the events
each lead did before its cut-off (for engagement)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from psycopg import sql

from smarketing.scoring.calibrate.engagement import History

if TYPE_CHECKING:
    from smarketing.scoring.calibrate.fitting import Calibration


def warehouse_frame(dsn: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """Leads from the warehouse with outcome `won` (1 when a deal of the lead was won, 0 when its deals
    were all lost, missing otherwise), lead and company columns and low-cardinality attributes."""
    from smarketing.warehouse.connection import connect
    from smarketing.warehouse.copy import copy_out_csv

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


# Stages that mean sales has the lead: from then on what it does is no longer marketing's signal.
HANDOVER_STAGES = ("salesqualifiedlead", "opportunity", "customer")


def outcome_history(dsn: str, *, sql_stages: tuple[str, ...] = ()) -> History:
    """Leads with a known outcome (won: a won deal; lost: every deal lost), each with its cut-off — the
    earliest of its first deal opened, its first entry into a sales stage (`HANDOVER_STAGES` and the
    agreement's `sql_stages`) and its first deal closed — and its marketing events strictly before it."""
    from smarketing import sqlfiles
    from smarketing.warehouse.connection import connect
    from smarketing.warehouse.copy import copy_out_csv, copy_out_fixed

    stages = sql.Literal(sorted({*HANDOVER_STAGES, *sql_stages}))
    with connect(dsn) as conn:
        # CREATE TABLE AS takes no bind parameters: the stage list is a quoted literal.
        conn.execute(
            sqlfiles.composed("scoring", "calibration_cutoffs", stages=sql.SQL("{}::text[]").format(stages))
        )
        leads = copy_out_fixed(
            conn,
            sql.SQL("SELECT lead_id, won, cutoff FROM calibration_cutoffs ORDER BY lead_id"),
            (("lead_id", "int8"), ("won", "int4"), ("cutoff", "timestamptz")),
        )
        events = copy_out_csv(
            conn,
            sql.SQL(
                "SELECT e.lead_id, e.event_type, "
                "(extract(epoch FROM e.occurred_at) * 1000000)::int8 AS t_us "
                "FROM core.marketing_events e JOIN calibration_cutoffs c ON c.lead_id = e.lead_id "
                "WHERE e.occurred_at < c.cutoff AND e.event_type <> 'points_changed'"
            ),
        )
    frame = pd.DataFrame({"lead_id": leads["lead_id"], "won": leads["won"], "cutoff_us": leads["cutoff"]})
    events = events.astype({"lead_id": "int64", "event_type": "string", "t_us": "int64"})
    return History(frame, events)


def calibrate_from_warehouse(dsn: str, *, seed: int = 7, as_of: datetime | None = None) -> Calibration:
    """Fit points from the leads' fields, then engagement (points, caps, half-life) from their events
    before each cut-off, on the same split and the same point scale; both in one proposal and report,
    with an MQL threshold on the proposal's scale (`matching_mql_threshold` at `as_of`, by default the
    latest event's time)."""
    from smarketing.config import load_config
    from smarketing.scoring.calibrate.engagement import EngagementOptions, calibrate_engagement
    from smarketing.scoring.calibrate.fitting import CalibrationError, calibrate

    agreement = load_config()
    frame, fields = warehouse_frame(dsn)
    result = calibrate(frame, id_column="lead_id", outcome="won", seed=seed, field_of=fields)
    scores = result.fit_scores.copy()
    scores.index = scores.index.astype("int64")
    current = agreement.scoring.engagement
    options = EngagementOptions(window_days=current.window_days)
    history = outcome_history(dsn, sql_stages=tuple(agreement.vocabulary.sql_stages))
    holdout = {int(i) for i in result.holdout}
    try:
        proposal = calibrate_engagement(history, scores, holdout, seed=seed, options=options)
    except ValueError as exc:
        raise CalibrationError(f"engagement: {exc}") from exc
    result.engagement = proposal.section(floor=current.floor)
    result.report["engagement"] = proposal.report
    mql = agreement.vocabulary.mql
    result.mql = {"min_score": mql.min_score, "min_grade": mql.min_grade}
    result.report["mql"] = matching_mql_threshold(dsn, result, as_of=as_of or _latest_event(dsn))
    result.mql["min_score"] = result.report["mql"]["min_score"]
    result.sla_tiers = {tier["id"]: tier["min_score"] for tier in result.report["mql"]["sla_tiers"]}
    return result


def _latest_event(dsn: str) -> datetime:
    """The warehouse's present: its latest marketing event (now, on a warehouse that is kept up to date;
    the end of the data on a copy or a generated world)."""
    from smarketing.warehouse.connection import connect

    with connect(dsn) as conn:
        (latest,) = conn.execute("SELECT max(occurred_at) FROM core.marketing_events").fetchone()
    return latest or datetime.now(UTC)


def matching_mql_threshold(dsn: str, result: Calibration, *, as_of: datetime) -> dict[str, Any]:
    """The proposal's own MQL threshold: the score at which it makes as many of the warehouse's leads
    MQLs at `as_of` as the active agreement does (same grade condition), so that a backtest compares
    which leads each model hands over, not two scales (calibrated points are on a scale of their own:
    the active `min_score` of 60 could be out of the proposal's reach, or below most of its leads).

    The SLA tiers with a `when.min_score` (the hot tier: "very engaged leads are called within the hour")
    are on the old scale too: each gets the score at which as many of the proposal's MQLs reach it as
    of the active agreement's MQLs reach the tier's score now (`sla_tiers`)."""
    import tempfile

    import yaml

    from smarketing.config import load_config
    from smarketing.scoring.candidates import load_candidate
    from smarketing.scoring.kernel import mql_flags
    from smarketing.scoring.model import load_model
    from smarketing.scoring.runner import scores_as_of

    active = load_model()
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "scoring.yaml"
        path.write_text(yaml.safe_dump(result.candidate_document("matching")), encoding="utf-8")
        candidate = load_candidate(path)
    active_scores = scores_as_of(dsn, active, as_of)
    active_mqls = active_scores["total"].to_numpy(float)[active_scores["is_mql"].to_numpy(bool)]
    target = len(active_mqls)
    scores = scores_as_of(dsn, candidate, as_of)
    # Leads whose grade allows it, best first: the threshold is the target-th one's score.
    allowed = mql_flags(np.full(len(scores), np.inf), scores["grade"].to_numpy(), candidate)
    totals = np.sort(scores["total"].to_numpy(float)[allowed])[::-1]
    threshold = _matching_score(totals, target)
    proposal_mqls = totals[totals >= threshold]
    tiers = [
        _matching_tier(tier.id, tier.when.min_score, active_mqls, proposal_mqls)
        for tier in load_config().sla.sales.tiers
        if tier.when is not None and tier.when.min_score is not None
    ]
    return {
        "as_of": as_of.isoformat(),
        "active_min_score": active.mql_min_score,
        "active_mqls": target,
        "min_score": threshold,
        "proposal_mqls": len(proposal_mqls),
        "sla_tiers": tiers,
    }


def _matching_tier(
    tier: str, min_score: float, active_mqls: np.ndarray, proposal_mqls: np.ndarray
) -> dict[str, Any]:
    """An SLA tier's score condition on the proposal's scale: as many of its MQLs reach it as of the
    active agreement's MQLs reach `min_score`."""
    reached = int((active_mqls >= min_score).sum())
    score = _matching_score(proposal_mqls, reached)
    return {
        "id": tier,
        "active_min_score": min_score,
        "active_leads": reached,
        "min_score": score,
        "proposal_leads": int((proposal_mqls >= score).sum()),
    }


def _matching_score(best_first: np.ndarray, count: int) -> float:
    """The score that `count` of the scores (sorted best first) reach: the count-th best, one tenth of a
    point down (the agreement's scores are 0 to 1,000 with one decimal at most; a lower match is
    clipped, and the report says how many leads reach it then). No lead to reach: above the best."""
    if count == 0 or not len(best_first):
        return min(math.floor(float(best_first.max(initial=0.0))) + 1.0, 1000.0)
    score = float(best_first[min(count, len(best_first)) - 1])
    return min(max(math.floor(score * 10) / 10, 0.0), 1000.0)
