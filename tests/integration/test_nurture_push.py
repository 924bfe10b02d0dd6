"""Pushing the ledger to a live sandbox server: memberships equal the confirmed ledger, a second run
calls nothing, faults and crashes end with one membership per planned enrollment and no change applied
twice."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smarketing.nurture import push as pushing
from smarketing.nurture.ledger import targets_with_work
from smarketing.nurture.plan import plan_run
from smarketing.nurture.push import PushPolicy
from smarketing.nurture.targets import Target, open_target
from smarketing.sources.http import RateLimit, RetryPolicy
from smarketing.sources.hubspot.hook import HubSpotHook
from smarketing.sources.hubspot.settings import HubSpotSettings
from smarketing.sources.mautic.hook import MauticHook
from smarketing.sources.mautic.settings import MauticSettings
from smarketing_sandbox import api_nurture
from smarketing_sandbox.server import SandboxServer, parse_faults

from .nurture_support import AS_OF, add_events, add_lead, agreement, ledger, scenario, set_score
from .sandbox_support import credentials, make_world, sandbox

FAST = PushPolicy(attempts=8, initial_wait=0.005, max_wait=0.02)
READ_RETRY = RetryPolicy(attempts=8, initial_wait=0.005, max_wait=0.02, max_retry_after=0.02)
SEGMENT, CAMPAIGN, LIST = "mautic:segment:12", "mautic:campaign:7", "hubspot:list:318"
KINDS = (("segment", SEGMENT), ("campaign", CAMPAIGN), ("list", LIST))
RULES = agreement(
    [
        scenario("devs", {"system": "mautic", "campaign": 7}, priority=1, when={"personas": ["developer"]}),
        scenario("finance", {"system": "hubspot", "list": 318}, priority=2, when={"personas": ["finance"]}),
        scenario(
            "pricing",
            {"system": "mautic", "segment": 12},
            priority=3,
            when={"interests_any": ["pricing"]},
            holdout_share=0.25,
        ),
    ]
)
LEADS = 40  # 1-8 developers (campaign), 9-16 finance (list), 17-40 pricing readers (segment)


class Crash(BaseException):
    """The worker dies (not an API error: nothing catches it)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    world = make_world(tmp_path_factory.mktemp("nurture-world"), contacts=120, days=20)
    with sandbox(world) as served:
        yield served


@pytest.fixture()
def wh(clean_warehouse: str, server: SandboxServer) -> Iterator[tuple[str, psycopg.Connection]]:
    server.state.nurture.reset()
    server.state.config.faults = []
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        seed_leads(conn, server)
        yield clean_warehouse, conn


def seed_leads(conn: psycopg.Connection, server: SandboxServer) -> None:
    ma = server.world.table("mautic.contacts").ids.tolist()
    hs = server.world.table("hubspot.contacts")
    hs_live = hs.ids[hs.archived_at < 0].tolist()
    for lead in range(1, LEADS + 1):
        persona = "developer" if lead <= 8 else "finance" if lead <= 16 else None
        add_lead(
            conn, lead, persona=persona, sources={"mautic": str(ma[lead]), "hubspot": str(hs_live[lead])}
        )
        add_events(conn, [(lead, "page_view", "pricing")])


def targets(server: SandboxServer) -> dict[str, Target]:
    fast = {"limits": {"general": RateLimit(10_000, 1)}, "retry": READ_RETRY}
    hs = HubSpotHook(credentials=credentials(server, "hubspot")).client(HubSpotSettings(**fast))
    ma = MauticHook(credentials=credentials(server, "mautic")).client(MauticSettings(retry=READ_RETRY))
    return {
        SEGMENT: open_target(SEGMENT, ma),
        CAMPAIGN: open_target(CAMPAIGN, ma),
        LIST: open_target(LIST, hs),
    }


def run(dsn: str, tools: dict[str, Target], run_id: str, as_of=AS_OF) -> None:
    """One nurturing run as the DAG does it: plan, push each target, confirm, remove exits."""
    plan_run(dsn, RULES, run_id=run_id, as_of=as_of)
    with psycopg.connect(dsn) as conn:
        keys = targets_with_work(conn)
    for key in keys:
        pushing.push(dsn, RULES, key, run_id=run_id, target=tools[key], policy=FAST)
    for key in keys:
        pushing.confirm(dsn, key, run_id=run_id, target=tools[key])
    for key in keys:
        pushing.remove_exits(dsn, key, run_id=run_id, target=tools[key], policy=FAST)


def confirmed(conn: psycopg.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT target_system || ':' || target_kind || ':' || target_id, external_ref FROM nurture.enrollments "
        "WHERE state = 'confirmed'"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for key, ref in rows:
        out.setdefault(key.split(":", 1)[1], []).append(ref)
    return {k: sorted(v, key=int) for k, v in sorted(out.items())}


def members(server: SandboxServer) -> dict[str, list[str]]:
    return {k: v for k, v in server.state.nurture.snapshot()["members"].items() if v}


def test_memberships_equal_the_confirmed_ledger_and_a_second_run_calls_nothing(wh, server) -> None:
    dsn, conn = wh
    tools = targets(server)
    activity = server.world.table("mautic.activity")
    before = len(activity)
    run(dsn, tools, "r1")
    assert members(server) == confirmed(conn)
    # the sandbox's people respond to nurturing: new engagement from enrolled contacts only
    reacted = set(map(str, activity.links["contact"][before:].tolist()))
    mautic_members = set(members(server)["segment:12"]) | set(members(server)["campaign:7"])
    held_refs = {
        r[0] for r in conn.execute("SELECT external_ref FROM nurture.enrollments WHERE arm = 'held_out'")
    }
    assert reacted and not reacted & held_refs
    assert reacted <= mautic_members | set(
        map(str, api_nurture.mautic_ids(server.world, members(server)["list:318"]))
    )
    held = [r[0] for r in conn.execute("SELECT external_ref FROM nurture.enrollments WHERE arm = 'held_out'")]
    assert held and sum(len(v) for v in confirmed(conn).values()) == LEADS - len(held)
    assert not {key[3] for key in server.state.nurture.applied} & set(held)  # the control group is never sent
    arrivals = server.state.nurture.snapshot()["arrivals"]
    in_segment = len(members(server)["segment:12"])
    assert arrivals["POST segment add"] == math.ceil(in_segment / 200)
    assert arrivals["PUT list add-and-remove"] == 1
    assert arrivals["POST campaign add"] == len(members(server)["campaign:7"])  # Mautic has no batch form
    before = server.stats()["counters"]["requests"]
    run(dsn, tools, "r1")  # the same run again
    run(dsn, tools, "r2", AS_OF + timedelta(hours=1))
    assert server.stats()["counters"]["requests"] == before
    assert server.state.nurture.snapshot()["repeated"] == []


def test_exits_remove_leads_from_the_tool(wh, server) -> None:
    dsn, conn = wh
    tools = targets(server)
    run(dsn, tools, "r1")
    leaving = [r[0] for r in ledger(conn) if r[4] == "confirmed"][:3]
    for lead in leaving:
        set_score(conn, lead, 90, is_mql=True)
    run(dsn, tools, "r2", AS_OF + timedelta(days=1))
    rows = {r[0]: r[4:] for r in ledger(conn, "exit_reason")}
    assert all(rows[lead] == ("exited", "mql") for lead in leaving)
    assert members(server) == confirmed(conn)


def test_consent_withdrawn_between_plan_and_push_is_never_sent(wh, server) -> None:
    dsn, conn = wh
    tools = targets(server)
    plan_run(dsn, RULES, run_id="r1", as_of=AS_OF)
    reader = next(r[0] for r in ledger(conn) if r[1] == "pricing" and r[3] == "enrolled")
    conn.execute("UPDATE core.leads SET consent_email = false WHERE lead_id IN (1, %s)", (reader,))
    for key in (SEGMENT, CAMPAIGN):
        pushing.push(dsn, RULES, key, run_id="r1", target=tools[key], policy=FAST)
    rows = {r[0]: r[4:] for r in ledger(conn, "skip_reason", "attempts")}
    assert rows[1] == rows[reader] == ("skipped", "no_consent", 0)
    refs = dict(
        conn.execute(
            "SELECT lead_id, external_ref FROM nurture.enrollments WHERE lead_id IN (1, %s)", (reader,)
        )
    )
    assert not {key[3] for key in server.state.nurture.applied} & set(refs.values())
    assert len(members(server)["segment:12"]) == len(
        [r for r in ledger(conn) if r[1] == "pricing" and r[4] == "pushed"]
    )


FAULTS = {
    "429": "429:0.4",
    "5xx": "5xx:0.3",
    "drop": "drop:0.3",
    "malformed": "malformed:0.3",
    "all": "429:0.2,5xx:0.15,drop:0.15,malformed:0.15",
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faults_end_with_one_membership_per_enrollment_and_nothing_applied_twice(wh, server, fault) -> None:
    dsn, conn = wh
    tools = targets(server)
    for tool in tools.values():
        tool.batch_size = min(tool.batch_size, 5)  # several chunks per target
    server.state.config.faults = parse_faults(FAULTS[fault])
    for _attempt in range(5):  # a task retry is a rerun of the same run
        try:
            run(dsn, tools, "r1")
            break
        except Exception:
            continue
    server.state.config.faults = []
    run(dsn, tools, "r1")
    snapshot = server.state.nurture.snapshot()
    assert snapshot["repeated"] == []
    assert members(server) == confirmed(conn)
    sent = conn.execute("SELECT count(*) FROM nurture.enrollments WHERE arm = 'enrolled'").fetchone()[0]
    assert sum(len(v) for v in members(server).values()) == sent
    faulted = conn.execute(
        "SELECT count(*) FROM nurture.calls WHERE outcome IN ('refused', 'unknown')"
    ).fetchone()[0]
    assert faulted > 0  # the fault really fired
    calls = conn.execute("SELECT count(*) FROM nurture.calls WHERE action = 'add'").fetchone()[0]
    adds = ("POST segment add", "POST campaign add", "PUT list add-and-remove")
    assert sum(snapshot["arrivals"].get(k, 0) for k in adds) == calls  # counted at the sandbox, faulted too
    per_target = conn.execute(
        "SELECT target_kind, count(*) FROM nurture.enrollments WHERE arm = 'enrolled' GROUP BY 1"
    ).fetchall()
    bound = sum(
        math.ceil(n / tools[k].batch_size) for k, n in ((f"{dict(KINDS)[kind]}", n) for kind, n in per_target)
    )
    assert calls <= bound + faulted  # at most ceil(n / batch) per target, plus the retries


class Crashing(Target):
    """A target whose worker dies at its n-th API interaction, before or after the tool answers."""

    def __init__(self, inner: Target, counter: list[int], at: int, after: bool) -> None:
        self.inner, self.counter, self.at, self.after = inner, counter, at, after
        self.kind, self.batch_size, self.target_id = inner.kind, 4, inner.target_id

    def _tick(self, when_after: bool) -> None:
        if self.counter[0] == self.at and self.after == when_after:
            raise Crash

    def request(self, action, ids):
        return self.inner.request(action, ids)

    def change(self, action, ids):
        self.counter[0] += 1
        self._tick(False)
        applied = self.inner.change(action, ids)
        self._tick(True)
        return applied

    def members(self):
        self.counter[0] += 1
        self._tick(False)
        found = self.inner.members()
        self._tick(True)
        return found


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    at=st.integers(1, 25),
    after=st.booleans(),
    mql_leads=st.lists(st.integers(17, 40), max_size=3, unique=True),
)
def test_property_kill_between_any_two_steps_and_rerun_loses_nothing_and_sends_nothing_twice(
    clean_warehouse, server, at, after, mql_leads
) -> None:
    server.state.nurture.reset()
    server.state.config.faults = []
    with psycopg.connect(clean_warehouse, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE core.leads, core.lead_sources, scoring.score_rows, core.marketing_events, "
            "nurture.enrollments, nurture.calls, nurture.runs CASCADE"
        )
        seed_leads(conn, server)
        tools = targets(server)
        run(clean_warehouse, tools, "r1")  # a first night, with nothing in the way
        for lead in mql_leads:  # some will have to leave on the second night
            set_score(conn, lead, 90, is_mql=True)
        counter = [0]
        crashing = {k: Crashing(t, counter, at, after) for k, t in tools.items()}
        later = AS_OF + timedelta(days=1)
        with contextlib.suppress(Crash):
            run(clean_warehouse, crashing, "r2", later)
        run(clean_warehouse, tools, "r2", later)  # the task retry
        snapshot = server.state.nurture.snapshot()
        assert snapshot["repeated"] == []
        assert members(server) == confirmed(conn)
        states = {r[0]: r[4] for r in ledger(conn)}
        assert all(states[lead] == "exited" for lead in mql_leads)
        assert not [lead for lead, state in states.items() if state in ("planned", "pushed", "exiting")]
