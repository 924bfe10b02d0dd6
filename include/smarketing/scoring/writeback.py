"""Write scores back to the source systems: score, grade and the MQL stage, only where they changed.

Planning is set-based SQL: the records of one source system (core.lead_sources) whose current score
(total, rounded), grade or MQL stage differ from what scoring.writeback_state says was last accepted
are cut into batches of the API's shape and recorded in scoring.writeback_batches:

* HubSpot — `POST /crm/v3/objects/contacts/batch/update`, `{"inputs": [{"id": "<contact id>",
  "properties": {"smarketing_score": "87", "smarketing_grade": "A", "lifecyclestage":
  "marketingqualifiedlead"}}]}`, at most 100 inputs; property values are strings, "" clears one.
* Mautic — `PATCH /api/contacts/batch/edit`, `[{"id": 12, "smarketing_score": 87,
  "smarketing_grade": "A", "tags": ["mql"]}]` (custom fields by alias; a tag is added, never removed),
  at most 200 contacts.

The MQL stage is only ever sent forward: to records of leads that qualify and whose CRM stage is still
subscriber, lead or empty (HubSpot refuses a stage that moves backwards).

A dry run (the default) records the batches and sends nothing. A real run sends planned batches with the
sources' HTTP client (rate limits, retries, Retry-After) and marks each batch sent, updating
writeback_state in the same transaction, so a rerun sends only what was not accepted yet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from smarketing.sqlfiles import statement
from smarketing.tasklog import count, summary
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

MQL_STAGE = "marketingqualifiedlead"
EARLY_STAGES = ("subscriber", "lead")
BATCH_LIMITS = {"hubspot": 100, "mautic": 200}
REQUESTS = {
    "hubspot": ("POST", "/crm/v3/objects/contacts/batch/update"),
    "mautic": ("PATCH", "/api/contacts/batch/edit"),
}
DEFAULT_CONNECTIONS = {"hubspot": "smarketing_hubspot", "mautic": "smarketing_mautic"}


@dataclass(frozen=True)
class WritebackTarget:
    """One source system to write to, and how."""

    system: str  # core.lead_sources.source_system whose record ids receive the values
    api: Literal["hubspot", "mautic"]
    dry_run: bool = True
    conn_id: str | None = None
    score_property: str = "smarketing_score"
    grade_property: str = "smarketing_grade"
    mql_tag: str = "mql"
    batch_size: int | None = None

    @classmethod
    def parse(cls, value: Mapping[str, Any] | WritebackTarget) -> WritebackTarget:
        if isinstance(value, WritebackTarget):
            return value
        unknown = set(value) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"write-back target: unknown key(s) {sorted(unknown)}")
        if value.get("api") not in BATCH_LIMITS:
            raise ValueError(f"write-back target {value.get('system')!r}: api must be hubspot or mautic")
        return cls(**value)

    @property
    def size(self) -> int:
        limit = BATCH_LIMITS[self.api]
        return min(self.batch_size or limit, limit)

    @property
    def connection(self) -> str:
        return self.conn_id or DEFAULT_CONNECTIONS[self.api]


_ITEMS = {
    "hubspot": """
        jsonb_build_object('id', record_id, 'properties',
            jsonb_build_object(%(score_property)s::text, score::text, %(grade_property)s::text, COALESCE(grade, ''))
            || CASE WHEN stage IS NOT NULL THEN jsonb_build_object('lifecyclestage', stage) ELSE '{}'::jsonb END)
    """,
    "mautic": """
        jsonb_build_object('id', CASE WHEN record_id ~ '^[0-9]+$' THEN to_jsonb(record_id::bigint)
                                      ELSE to_jsonb(record_id) END,
                           %(score_property)s::text, score, %(grade_property)s::text, grade)
        || CASE WHEN stage IS NOT NULL THEN jsonb_build_object('tags', jsonb_build_array(%(mql_tag)s::text))
                ELSE '{}'::jsonb END
    """,
}
_BODY = {
    "hubspot": "jsonb_build_object('inputs', jsonb_agg(item ORDER BY record_id))",
    "mautic": "jsonb_agg(item ORDER BY record_id)",
}


def plan_batches(conn: psycopg.Connection, target: WritebackTarget, *, run_id: str) -> int:
    """Record this run's batches for the target (replacing any planned before); returns the record count."""
    conn.execute(
        "DELETE FROM scoring.writeback_batches WHERE run_id = %s AND system = %s AND status <> 'sent'",
        (run_id, target.system),
    )
    # Batches a rerun already sent keep their numbers; new ones follow them.
    offset = conn.execute(
        "SELECT COALESCE(max(batch_no), 0) FROM scoring.writeback_batches WHERE run_id = %s AND system = %s",
        (run_id, target.system),
    ).fetchone()[0]
    method, path = REQUESTS[target.api]
    query = sql.SQL(
        """
        INSERT INTO scoring.writeback_batches
               (run_id, system, batch_no, api, method, path, record_count, payload, status)
        SELECT %(run_id)s, %(system)s, batch_no, %(api)s, %(method)s, %(path)s, count(*), {body}, %(status)s
        FROM (SELECT changed.*, {item} AS item, (n - 1) / %(size)s + 1 + %(offset)s AS batch_no
              FROM ({changed}) changed) items
        GROUP BY batch_no
        RETURNING record_count
        """
    ).format(
        body=sql.SQL(_BODY[target.api]),
        item=sql.SQL(_ITEMS[target.api]),
        changed=sql.SQL(statement("scoring", "writeback_changed")),
    )
    rows = conn.execute(
        query,
        {
            "run_id": run_id,
            "system": target.system,
            "api": target.api,
            "method": method,
            "path": path,
            "status": "dry_run" if target.dry_run else "planned",
            "size": target.size,
            "offset": offset,
            "early": list(EARLY_STAGES),
            "mql": MQL_STAGE,
            "score_property": target.score_property,
            "grade_property": target.grade_property,
            "mql_tag": target.mql_tag,
        },
    ).fetchall()
    return sum(r[0] for r in rows)


_ACCEPTED = {
    "hubspot": """
        SELECT i->>'id' AS record_id, (i->'properties'->>%(score_property)s)::int AS score,
               NULLIF(i->'properties'->>%(grade_property)s::text, '') AS grade, i->'properties'->>'lifecyclestage' AS stage
        FROM jsonb_array_elements(%(payload)s::jsonb->'inputs') i
    """,
    "mautic": """
        SELECT i->>'id' AS record_id, (i->>%(score_property)s)::int AS score, i->>%(grade_property)s AS grade,
               CASE WHEN i ? 'tags' THEN %(mql)s::text END AS stage
        FROM jsonb_array_elements(%(payload)s::jsonb) i
    """,
}


def mark_sent(
    conn: psycopg.Connection, target: WritebackTarget, run_id: str, batch_no: int, payload: Any
) -> None:
    """The API accepted the batch: remember what each record now holds."""
    query = sql.SQL(
        """
        INSERT INTO scoring.writeback_state AS w (system, lead_id, record_id, score, grade, lifecycle_stage, pushed_at)
        SELECT %(system)s, src.lead_id, a.record_id, a.score, a.grade, a.stage, now()
        FROM ({accepted}) a
        JOIN core.lead_sources src ON src.source_system = %(system)s AND src.source_id = a.record_id
        ON CONFLICT (system, record_id) DO UPDATE
           SET lead_id = EXCLUDED.lead_id, score = EXCLUDED.score, grade = EXCLUDED.grade,
               lifecycle_stage = COALESCE(EXCLUDED.lifecycle_stage, w.lifecycle_stage), pushed_at = now()
        """
    ).format(accepted=sql.SQL(_ACCEPTED[target.api]))
    conn.execute(
        query,
        {
            "system": target.system,
            "payload": Jsonb(payload),
            "score_property": target.score_property,
            "grade_property": target.grade_property,
            "mql": MQL_STAGE,
        },
    )
    conn.execute(
        "UPDATE scoring.writeback_batches SET status = 'sent', sent_at = now(), error = NULL "
        "WHERE run_id = %s AND system = %s AND batch_no = %s",
        (run_id, target.system, batch_no),
    )


def _client(target: WritebackTarget) -> Any:
    if target.api == "hubspot":
        from smarketing.sources.hubspot.hook import HubSpotHook
        from smarketing.sources.hubspot.settings import HubSpotSettings

        return HubSpotHook(target.connection).client(HubSpotSettings(source_system=target.system))
    from smarketing.sources.mautic.hook import MauticHook
    from smarketing.sources.mautic.settings import MauticSettings

    return MauticHook(target.connection).client(MauticSettings(source_system=target.system))


def send_batches(
    dsn: str, target: WritebackTarget, *, run_id: str, client: Any | None = None
) -> dict[str, int]:
    """Send the run's planned batches one by one; each accepted batch commits with its state."""
    from smarketing.sources.http import ApiError

    with connect(dsn) as conn:
        batches = conn.execute(
            "SELECT batch_no, method, path, payload FROM scoring.writeback_batches "
            "WHERE run_id = %s AND system = %s AND status IN ('planned', 'failed') ORDER BY batch_no",
            (run_id, target.system),
        ).fetchall()
    sent = failed = 0
    if not batches:
        return {"sent": 0, "failed": 0}
    api = client or _client(target)
    for batch_no, method, path, payload in batches:
        try:
            api.request_json(method, path, json_body=payload)
        except ApiError as exc:
            failed += 1
            with connect(dsn) as conn, conn.transaction():
                conn.execute(
                    "UPDATE scoring.writeback_batches SET status = 'failed', error = %s "
                    "WHERE run_id = %s AND system = %s AND batch_no = %s",
                    (str(exc)[:500], run_id, target.system, batch_no),
                )
            continue
        with connect(dsn) as conn, conn.transaction():
            mark_sent(conn, target, run_id, batch_no, payload)
        sent += 1
    return {"sent": sent, "failed": failed}


def write_back(
    dsn: str, target: WritebackTarget, *, run_id: str, client: Any | None = None
) -> dict[str, Any]:
    """Plan the run's batches for one target and, unless it is a dry run, send them."""
    with connect(dsn) as conn, conn.transaction():
        records = plan_batches(conn, target, run_id=run_id)
        batches = conn.execute(
            "SELECT count(*) FROM scoring.writeback_batches WHERE run_id = %s AND system = %s AND status <> 'sent'",
            (run_id, target.system),
        ).fetchone()[0]
    result: dict[str, Any] = {
        "system": target.system,
        "api": target.api,
        "dry_run": target.dry_run,
        "records": records,
        "batches": int(batches),
    }
    if not target.dry_run:
        result.update(send_batches(dsn, target, run_id=run_id, client=client))
        if result["failed"]:
            from smarketing.errors import SmarketingError

            raise SmarketingError(
                f"write-back to {target.system}: {result['failed']} batch(es) failed; see scoring.writeback_batches"
            )
    what = "dry run, nothing sent" if target.dry_run else f"{count(result['sent'], 'batch', 'batches')} sent"
    summary(
        f"write-back to {target.system} ({target.api}): {count(records, 'changed score')} "
        f"in {count(int(batches), 'batch', 'batches')}; {what}"
    )
    return result
