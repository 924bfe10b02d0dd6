"""Leads of the warehouse as a calibration input: lead and company fields, the outcome, and the events
each lead did before its cut-off (for engagement)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def calibrate_from_warehouse(dsn: str, *, seed: int = 7) -> Calibration:
    """Fit points from the leads' fields, then engagement (points, caps, half-life) from their events
    before each cut-off, on the same split and the same point scale; both in one proposal and report."""
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
    return result
