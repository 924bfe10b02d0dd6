"""Hand-built warehouses for the nurturing tests: a few leads with exactly the facts a case needs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import yaml
from hypothesis import strategies as st

from smarketing.config import Agreement
from smarketing.paths import DEFAULT_CONFIG

AS_OF = datetime(2026, 12, 1, 12, tzinfo=UTC)
TOPICS = ["pricing", "integration", "security", "product"]
# One target of each kind: a Mautic segment, a Mautic campaign, a HubSpot list.
SEGMENT = {"system": "mautic", "segment": 12}
CAMPAIGN = {"system": "mautic", "campaign": 7}
LIST = {"system": "hubspot", "list": 318}


def scenario(scenario_id: str, target: Mapping[str, Any], **settings: Any) -> dict[str, Any]:
    """A scenario entry of the agreement (`when` defaults to below_mql only)."""
    return {"id": scenario_id, "target": dict(target), **settings}


def scenario_settings(*, timing: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Random settings of one scenario for the property tests: who enters (`when`, consent), the control
    group and the priority; with `timing`, also what time alone changes (days since the last touch,
    cooldown, daily cap) and the exits, which incremental planning must re-evaluate."""
    when = {
        "below_mql": st.booleans(),
        "personas": st.just(["developer"]),
        "interests_any": st.sampled_from(
            [["pricing"], ["integration", "page_view"], ["integration", "pricing_page_view"]]
        ),
        "lifecycle_stages": st.sampled_from([["nurturing"], ["lead", "subscriber"], ["lead", "customer"]]),
    }
    settings = {
        "requires_consent": st.booleans(),
        "holdout_share": st.sampled_from([0.0, 0.3]),
        "priority": st.integers(1, 3),
    }
    if timing:
        when["min_days_since_last_touch"] = st.sampled_from([2, 10])
        settings |= {
            "cooldown_days": st.sampled_from([0, 2]),
            "daily_cap": st.sampled_from([None, 1, 2]),
            "exit_when": st.sampled_from([["mql", "sql", "customer", "unsubscribed", "bounced"], ["sql"]]),
        }
    return st.fixed_dictionaries({"when": st.fixed_dictionaries({}, optional=when), **settings})


def agreement(scenarios: list[dict[str, Any]], **nurturing: Any) -> Agreement:
    """The project's agreement with its nurturing section replaced."""
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data["nurturing"] = {"topics": TOPICS, "scenarios": scenarios, **nurturing}
    return Agreement.model_validate(data)


def add_lead(
    conn: psycopg.Connection,
    lead_id: int,
    *,
    consent: bool | None = True,
    stage: str = "lead",
    persona: str | None = None,
    score: float = 10,
    is_mql: bool = False,
    deleted: bool = False,
    unsubscribed: bool = False,
    sources: Mapping[str, str] | None = None,
) -> None:
    """One lead, its source records (default: Mautic contact `m<id>` → id, HubSpot `h<id>`) and its score."""
    sources = {"mautic": str(lead_id), "hubspot": str(100_000 + lead_id)} if sources is None else sources
    conn.execute(
        """
        INSERT INTO core.leads (lead_id, source_system, source_id, email_normalized, persona_id, lifecycle_stage,
                                consent_email, unsubscribed_at, deleted_at, created_at)
        VALUES (%s, 'mautic', %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            lead_id,
            str(lead_id),
            f"lead{lead_id}@example.com",
            persona,
            stage,
            consent,
            AS_OF - timedelta(days=3) if unsubscribed else None,
            AS_OF - timedelta(days=1) if deleted else None,
            AS_OF - timedelta(days=400),
        ),
    )
    for system, source_id in sources.items():
        conn.execute(
            "INSERT INTO core.lead_sources (source_system, source_id, lead_id, batch_id, record) "
            "VALUES (%s, %s, %s, 1, '{}')",
            (system, source_id, lead_id),
        )
    set_score(conn, lead_id, score, is_mql=is_mql)


def set_score(conn: psycopg.Connection, lead_id: int, score: float, *, is_mql: bool = False) -> None:
    conn.execute("DELETE FROM scoring.lead_scores WHERE lead_id = %s", (lead_id,))
    conn.execute(
        """
        INSERT INTO scoring.lead_scores (lead_id, fit, engagement, total, grade, is_mql, profile_id,
                                         model_version, config_hash, as_of, scored_at, run_id, history_on)
        VALUES (%s, 10, %s, %s, 'C', %s, 'default', 't', 't', %s, now(), 't', %s)
        """,
        (lead_id, score - 10, score, is_mql, AS_OF, AS_OF.date()),
    )


def add_events(
    conn: psycopg.Connection, events: Iterable[tuple[int, str, str | None]], *, at: datetime = AS_OF
) -> None:
    """(lead id, event type, content topic) events, a day before `at`."""
    for n, (lead_id, event_type, topic) in enumerate(events):
        conn.execute(
            "INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, content_topic, "
            "source_system) VALUES (%s, %s, %s, %s, %s, 'mautic') ON CONFLICT DO NOTHING",
            (
                f"t:{lead_id}:{event_type}:{topic}:{at.isoformat()}:{n}",
                lead_id,
                event_type,
                at - timedelta(days=1),
                topic,
            ),
        )


def ledger(conn: psycopg.Connection, *columns: str) -> list[tuple[Any, ...]]:
    """The ledger rows (lead, scenario, cycle, arm, state + `columns`), in lead and scenario order."""
    extra = "".join(f", {c}" for c in columns)
    return conn.execute(
        f"SELECT lead_id, scenario_id, cycle, arm, state{extra} FROM nurture.enrollments "
        "ORDER BY lead_id, scenario_id, cycle"
    ).fetchall()
