"""Scenario matching in the database: the agreement's scenarios as a temporary table, the leads to plan
(`sql/nurture/005_scope.sql`), their eligibility (`010_leads.sql`) and their matches (`020_matches.sql`).

Everything lives in temporary tables dropped at commit, so planning, the dry run and the push-time
re-check read the same definitions inside their own transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from smarketing import sqlfiles
from smarketing.config import Agreement
from smarketing.vocabulary import TOUCH_ACTIVITY_TYPES

# Lifecycle stages that mean "already bought": never nurtured.
CUSTOMER_STAGES: tuple[str, ...] = ("customer", "evangelist")
# Rules that keep a lead out of every scenario, in the order they are checked.
ELIGIBILITY_RULES: tuple[str, ...] = (
    "deleted",
    "no_consent",
    "unsubscribed",
    "bounced",
    "customer",
    "sla_open",
)
_HASH_SPAN = float(1 << 52)
SCOPED_ONLY = "-- scoped only"
# A scope is a small share of the leads, whose rows sit in cache: one index lookup per lead beats a scan
# of the whole table, which the default cost of a random page (4, for spinning disks) hides from the
# planner (a night at 200k leads: 2.3 s of scans against 1.0 s of lookups for its leads step).
SCOPED_RANDOM_PAGE_COST = 1.1
WORK_MEM = "256MB"
TEMP_BUFFERS = "512MB"


def statement(name: str) -> str:
    """The text of `sql/nurture/<name>.sql` (e.g. "030_enroll"), through the project's one SQL file loader."""
    return sqlfiles.statement("nurture", name)


def scoped_statement(name: str, params: dict[str, Any]) -> str:
    """`statement(name)` for the leads `params` plan for: its lines ending in `-- scoped only` (each
    limits a table to nurture_scope) are kept when scoped and dropped otherwise — a filter the planner
    can turn into index lookups, where `NOT scoped OR ...` would cost a full scan either way."""
    text = statement(name)
    if params["scoped"]:
        return text
    return "\n".join(line for line in text.splitlines() if not line.rstrip().endswith(SCOPED_ONLY))


def holdout_point(lead_id: int, scenario_id: str) -> float:
    """Where a lead falls in [0, 1) for a scenario's holdout: held out when below `holdout_share`.
    The same 52 bits of md5 the planning SQL uses (030_enroll.sql), so tests can predict it."""
    digest = hashlib.md5(f"{lead_id}:{scenario_id}".encode()).hexdigest()
    return int(digest[:13], 16) / _HASH_SPAN


def interests_of(agreement: Agreement) -> list[str]:
    """Every interest some scenario names, in a fixed order: bit k of an interest mask is the k-th."""
    return sorted({i for sc in agreement.nurturing.scenarios for i in sc.when.interests_any})


def scenario_rows(agreement: Agreement) -> list[dict[str, Any]]:
    """The scenarios as rows of the `nurture_scenarios` table (rank 1 = offered first)."""
    bits = {interest: 1 << k for k, interest in enumerate(interests_of(agreement))}
    rows = []
    for rank, sc in agreement.nurturing.ranked():
        when = sc.when
        rows.append(
            {
                "scenario_id": sc.id,
                "rank": rank,
                "below_mql": when.below_mql,
                "interest_mask": sum(bits[i] for i in set(when.interests_any)) or None,
                "personas": list(when.personas) or None,
                "stages": list(when.lifecycle_stages) or None,
                "min_quiet_days": when.min_days_since_last_touch,
                "requires_consent": sc.requires_consent,
                "cooldown_days": sc.cooldown_days,
                "daily_cap": sc.daily_cap,
                "holdout_share": float(sc.holdout_share),
                "exit_when": list(sc.exit_when),
                "target_system": sc.target.system,
                "target_kind": sc.target.kind,
                "target_id": sc.target.target_id,
                "source_system": sc.target.id_source,
            }
        )
    return rows


def create_scenarios(conn: psycopg.Connection, agreement: Agreement) -> None:
    """`nurture_scenarios`: one row per scenario of the agreement."""
    conn.execute(
        """
        CREATE TEMP TABLE nurture_scenarios ON COMMIT DROP AS
        SELECT * FROM jsonb_to_recordset(%s) AS s(
            scenario_id text, rank int, below_mql boolean, interest_mask bigint, personas text[], stages text[],
            min_quiet_days int, requires_consent boolean, cooldown_days int, daily_cap int,
            holdout_share float8, exit_when text[], target_system text, target_kind text, target_id text,
            source_system text)
        """,
        (Jsonb(scenario_rows(agreement)),),
    )


def lead_params(agreement: Agreement, as_of: datetime) -> dict[str, Any]:
    """Parameters of the nurture SQL files for one moment (`scoped` is set by `create_scope`)."""
    interests = interests_of(agreement)
    if len(interests) > 63:
        raise ValueError(f"nurturing names {len(interests)} different interests; at most 63 are supported")
    vocabulary = agreement.vocabulary
    return {
        "as_of": as_of,
        "scoped": False,
        "recycle_stage": vocabulary.recycle_stage,
        "sql_stages": list(vocabulary.sql_stages),
        "customer_stages": list(CUSTOMER_STAGES),
        "touch_types": sorted(TOUCH_ACTIVITY_TYPES),
        "interests": interests or [""],
        "interest_days": agreement.nurturing.interests_within_days,
        "quiet_days": sorted(
            {sc.when.min_days_since_last_touch for sc in agreement.nurturing.scenarios} - {None}  # type: ignore[arg-type]
        ),
        "timezone": agreement.organization.timezone,
    }


def settings_hash(agreement: Agreement) -> str:
    """Hash of everything a plan reads from the agreement (and the rules fixed in code): when it changes,
    the next plan is a full one, since any lead's plan may change."""
    fixed = {k: v for k, v in lead_params(agreement, datetime.min).items() if k not in ("as_of", "scoped")}
    text = json.dumps({"scenarios": scenario_rows(agreement), **fixed}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def create_scope(
    conn: psycopg.Connection,
    params: dict[str, Any],
    *,
    since: datetime | None = None,
    lead_ids: Sequence[int] | None = None,
) -> int:
    """`nurture_scope`: the leads to plan for, and `params["scoped"]` set accordingly.

    since: the last plan's moment — the leads whose inputs changed since (`sql/nurture/005_scope.sql`,
    which takes the change log); lead_ids: exactly these leads (the push-time re-check); neither: every
    lead (the table stays empty and unread). Returns the number of leads in scope (0 for every lead).
    """
    if lead_ids is not None:
        conn.execute(
            "CREATE TEMP TABLE nurture_scope ON COMMIT DROP AS "
            "SELECT DISTINCT unnest(%s::bigint[]) AS lead_id",
            (list(lead_ids),),
        )
    elif since is not None:
        conn.execute(statement("005_scope"), {**params, "since": since})
    else:
        conn.execute("CREATE TEMP TABLE nurture_scope (lead_id bigint) ON COMMIT DROP")
        return 0
    params["scoped"] = True
    analyze(conn, "nurture_scope")
    conn.execute(f"SET LOCAL random_page_cost = {SCOPED_RANDOM_PAGE_COST}")
    (size,) = conn.execute("SELECT count(*) FROM nurture_scope").fetchone()  # type: ignore[misc]
    return int(size)


def create_leads(conn: psycopg.Connection, params: dict[str, Any]) -> None:
    """`nurture_leads`: eligibility and facts of the leads at `params["as_of"]`."""
    conn.execute(scoped_statement("010_leads", params), params)
    conn.execute("CREATE INDEX ON nurture_leads (lead_id)")
    analyze(conn, "nurture_leads")


def analyze(conn: psycopg.Connection, table: str) -> None:
    """Statistics for a temporary table (autovacuum never sees them): without them the planner guesses
    a few hundred rows and picks per-row lookups. A small sample is enough for join sizes."""
    conn.execute("SET LOCAL default_statistics_target = 10")
    conn.execute(f"ANALYZE {table}")
    conn.execute("RESET default_statistics_target")


def prepare_session(conn: psycopg.Connection) -> None:
    """Memory for planning's sorts, hashes and temporary tables (the defaults spill a night's plan to disk),
    and no JIT: compiling the plan's expressions cost more than running them (4 of 6 s at 200k leads).
    Call before the session's first temporary table."""
    conn.execute(f"SET temp_buffers = '{TEMP_BUFFERS}'")
    conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
    conn.execute("SET LOCAL jit = off")


def create_matches(conn: psycopg.Connection, agreement: Agreement, params: dict[str, Any]) -> None:
    """`nurture_scenarios`, `nurture_leads` and `nurture_matches` for the leads `create_scope` chose."""
    create_scenarios(conn, agreement)
    create_leads(conn, params)
    conn.execute(scoped_statement("020_matches", params), params)
    analyze(conn, "nurture_matches")
