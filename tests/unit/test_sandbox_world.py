"""The sandbox world: deterministic, referentially sound, and shaped like the business it simulates."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smarketing_sandbox import world as world_module
from smarketing_sandbox.bizhours import add_seconds, calendars_for
from smarketing_sandbox.world import DEFAULT_END, generate_world

DAYS = 180
CONTACTS = 4000
START = DEFAULT_END - timedelta(days=DAYS)

# The export contract other modules (the source mapping) are written against.
COLUMNS = {
    "crm/owners.csv": "owner_id,first_name,last_name,email,team,manager_owner_id,timezone,active,updated_at",
    "crm/companies.csv": "company_id,name,domain,industry,numberofemployees,annualrevenue,country,hs_lastmodifieddate",
    "crm/contacts.csv": "contact_id,email,firstname,lastname,jobtitle,country,associatedcompanyid,lifecyclestage,"
    "hubspot_owner_id,createdate,lastmodifieddate,hs_email_optout,hubspot_owner_assigneddate",
    "crm/lifecycle_stage_history.csv": "contact_id,lifecyclestage,entered_at",
    "crm/engagements.csv": "engagement_id,contact_id,owner_id,type,timestamp",
    "crm/deals.csv": "deal_id,contact_id,company_id,amount,dealstage,createdate,closedate,hs_lastmodifieddate",
    "ma/contacts.csv": "id,email,firstname,lastname,company,position,country,points,stage,tags,dnc_email,"
    "date_added,date_modified,last_active",
    "ma/activity.csv": "id,lead_id,type,timestamp,campaign_id,url,topic",
    "truth/contacts.csv": "contact_id,ma_id,fit,intent,mql_at,won,intent_peak_at,persona",
}
TIMESTAMP_COLUMNS = {
    "crm/owners.csv": ["updated_at"],
    "crm/companies.csv": ["hs_lastmodifieddate"],
    "crm/contacts.csv": ["createdate", "lastmodifieddate", "hubspot_owner_assigneddate"],
    "crm/lifecycle_stage_history.csv": ["entered_at"],
    "crm/engagements.csv": ["timestamp"],
    "crm/deals.csv": ["createdate", "closedate", "hs_lastmodifieddate"],
    "ma/contacts.csv": ["date_added", "date_modified", "last_active"],
    "ma/activity.csv": ["timestamp"],
    "truth/contacts.csv": ["mql_at", "intent_peak_at"],
}
EVENT_TYPES = {
    "email.sent",
    "email.read",
    "email.clicked",
    "email.bounced",
    "page.hit",
    "form.submitted",
    "asset.download",
    "webinar.registered",
    "webinar.attended",
    "dnc.unsubscribed",
    "demo.requested",
}
LIFECYCLE_STAGES = {
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "other",
    "nurturing",
    "disqualified",
}
DEAL_STAGES = {
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "contractsent",
    "closedwon",
    "closedlost",
}
TOUCHES = {"CALL", "EMAIL", "MEETING"}


def _generate(out: Path, *, contacts: int = CONTACTS, seed: int = 7) -> dict[str, int]:
    return generate_world(out, contacts=contacts, seed=seed, days=DAYS, end=DEFAULT_END)


def _read(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / name, dtype=str, keep_default_na=False)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _instants(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values[values != ""], format="%Y-%m-%dT%H:%M:%SZ", utc=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("world")
    return root, _generate(root)


@pytest.fixture(scope="module")
def tables(world: tuple[Path, dict[str, int]]) -> dict[str, pd.DataFrame]:
    root, _ = world
    return {name: _read(root, name) for name in COLUMNS}


def test_same_arguments_give_byte_identical_files(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a", contacts=1500)
    second = _generate(tmp_path / "b", contacts=1500)
    assert first == second
    digests = _digests(tmp_path / "a")
    assert set(digests) == {*COLUMNS, "world.json"}
    assert digests == _digests(tmp_path / "b")


def test_events_are_written_in_batches_without_seams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world_module, "BATCH_CONTACTS", 300)
    rows = _generate(tmp_path / "a", contacts=1000)
    assert rows == _generate(tmp_path / "b", contacts=1000)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    activity = _read(tmp_path / "a", "ma/activity.csv")
    assert (activity.id.astype(int) == range(1, len(activity) + 1)).all()
    assert activity.lead_id.astype(int).is_monotonic_increasing


def test_another_seed_gives_another_world(tmp_path: Path) -> None:
    _generate(tmp_path / "a", contacts=500, seed=1)
    _generate(tmp_path / "b", contacts=500, seed=2)
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a["crm/contacts.csv"] != b["crm/contacts.csv"]
    assert a["ma/activity.csv"] != b["ma/activity.csv"]


def test_files_have_the_agreed_columns_and_the_returned_row_counts(
    world: tuple[Path, dict[str, int]],
) -> None:
    root, rows = world
    assert set(rows) == set(COLUMNS)
    for name, header in COLUMNS.items():
        data = (root / name).read_bytes()
        assert b"\r" not in data
        assert data.decode("utf-8").split("\n", 1)[0] == header
        with (root / name).open(newline="", encoding="utf-8") as f:
            assert sum(1 for _ in csv.reader(f)) - 1 == rows[name], name
    assert rows["truth/contacts.csv"] == CONTACTS


def test_ids_are_unique_and_every_reference_exists(tables: dict[str, pd.DataFrame]) -> None:
    owners, companies = tables["crm/owners.csv"], tables["crm/companies.csv"]
    crm, ma = tables["crm/contacts.csv"], tables["ma/contacts.csv"]
    for name, key in [
        ("crm/owners.csv", "owner_id"),
        ("crm/companies.csv", "company_id"),
        ("crm/contacts.csv", "contact_id"),
        ("crm/engagements.csv", "engagement_id"),
        ("crm/deals.csv", "deal_id"),
        ("ma/contacts.csv", "id"),
        ("ma/activity.csv", "id"),
    ]:
        assert tables[name][key].is_unique, name
    assert companies.domain.is_unique
    owner_ids, company_ids = set(owners.owner_id), set(companies.company_id)
    crm_ids, ma_ids = set(crm.contact_id), set(ma.id)

    def present(values: pd.Series) -> set[str]:
        return set(values[values != ""])

    assert present(owners.manager_owner_id) <= owner_ids
    assert present(crm.associatedcompanyid) <= company_ids
    assert present(crm.hubspot_owner_id) <= owner_ids
    assert set(tables["crm/lifecycle_stage_history.csv"].contact_id) <= crm_ids
    assert set(tables["crm/engagements.csv"].contact_id) <= crm_ids
    assert set(tables["crm/engagements.csv"].owner_id) <= owner_ids
    assert set(tables["crm/deals.csv"].contact_id) <= crm_ids
    assert set(tables["crm/deals.csv"].company_id) <= company_ids
    assert set(tables["ma/activity.csv"].lead_id) <= ma_ids
    truth = tables["truth/contacts.csv"]
    assert present(truth.contact_id) == crm_ids
    assert present(truth.ma_id) == ma_ids


def test_no_instant_outside_the_window(tables: dict[str, pd.DataFrame]) -> None:
    for name, columns in TIMESTAMP_COLUMNS.items():
        for column in columns:
            instants = _instants(tables[name][column])
            assert instants.notna().all(), (name, column)
            assert (instants >= START).all(), (name, column)
            assert (instants <= DEFAULT_END).all(), (name, column)


def test_nothing_happens_to_a_contact_before_it_exists(tables: dict[str, pd.DataFrame]) -> None:
    ma = tables["ma/contacts.csv"].set_index("id")
    activity = tables["ma/activity.csv"]
    assert (
        _instants(activity.timestamp).to_numpy() >= _instants(ma.date_added.loc[activity.lead_id]).to_numpy()
    ).all()
    crm = tables["crm/contacts.csv"].set_index("contact_id")
    history = tables["crm/lifecycle_stage_history.csv"]
    assert (
        _instants(history.entered_at).to_numpy()
        >= _instants(crm.createdate.loc[history.contact_id]).to_numpy()
    ).all()


def test_values_come_from_the_tools_vocabularies(tables: dict[str, pd.DataFrame]) -> None:
    assert set(tables["ma/activity.csv"].type) <= EVENT_TYPES
    assert set(tables["crm/engagements.csv"].type) <= {"CALL", "EMAIL", "MEETING", "NOTE", "TASK"}
    assert set(tables["crm/lifecycle_stage_history.csv"].lifecyclestage) <= LIFECYCLE_STAGES
    assert set(tables["crm/contacts.csv"].lifecyclestage) <= LIFECYCLE_STAGES
    assert set(tables["crm/contacts.csv"].hs_email_optout) == {"true", "false"}
    assert set(tables["ma/contacts.csv"].dnc_email) == {"0", "1"}
    assert set(tables["crm/owners.csv"].timezone) == {"Europe/Paris", "America/New_York"}
    assert 3 <= tables["crm/owners.csv"].team.nunique() <= 5
    deals = tables["crm/deals.csv"]
    assert set(deals.dealstage) <= DEAL_STAGES
    closed = deals.dealstage.isin(["closedwon", "closedlost"])
    assert (deals.closedate[closed] != "").all()
    assert (deals.closedate[~closed] == "").all()
    pricing = tables["ma/activity.csv"].query("url.str.startswith('/pricing')")
    assert set(pricing.type) == {"page.hit"}
    assert set(pricing.topic) == {"pricing"}


def test_lifecycle_history_ends_in_the_current_stage_and_records_the_hand_over(
    tables: dict[str, pd.DataFrame],
) -> None:
    history = tables["crm/lifecycle_stage_history.csv"]
    assert not history.duplicated(["contact_id", "lifecyclestage"]).any()
    last = (
        history.assign(t=_instants(history.entered_at))
        .sort_values("t")
        .groupby("contact_id")
        .lifecyclestage.last()
    )
    crm = tables["crm/contacts.csv"].set_index("contact_id")
    assert (last.reindex(crm.index) == crm.lifecyclestage).all()
    handed = history[history.lifecyclestage == "marketingqualifiedlead"].set_index("contact_id").entered_at
    truth = tables["truth/contacts.csv"]
    truth_mql = truth[truth.mql_at != ""].set_index("contact_id").mql_at
    assert handed.sort_index().equals(truth_mql.sort_index())


def _paris_business_hours(start: pd.Timestamp, stop: pd.Timestamp) -> float:
    """Reference: working time between two instants, Mon-Fri 09:00-18:00 Europe/Paris (no holidays)."""
    start, stop = start.tz_convert("Europe/Paris"), stop.tz_convert("Europe/Paris")
    total = 0.0
    day = start.normalize()
    while day <= stop:
        if day.weekday() < 5:
            opens, closes = day + pd.Timedelta(hours=9), day + pd.Timedelta(hours=18)
            total += max((min(stop, closes) - max(start, opens)).total_seconds(), 0) / 3600
        day += pd.Timedelta(days=1)
    return total


def test_first_touch_is_mostly_on_time_sometimes_late_sometimes_never(
    tables: dict[str, pd.DataFrame],
) -> None:
    truth = tables["truth/contacts.csv"]
    mql = truth[truth.mql_at != ""].set_index("contact_id").mql_at.pipe(_instants)
    # Leave out the last week: hand-overs that recent may legitimately still wait for their touch.
    mql = mql[mql < DEFAULT_END - timedelta(days=7)]
    touches = tables["crm/engagements.csv"].query("type in @TOUCHES")
    touches = touches.assign(t=_instants(touches.timestamp), mql=touches.contact_id.map(mql)).dropna(
        subset=["mql"]
    )
    first = touches[touches.t >= touches.mql].groupby("contact_id").t.min()
    delays = [_paris_business_hours(mql[c], first[c]) for c in first.index]
    on_time = sum(d <= 4 for d in delays) / len(mql)
    late = sum(d > 4 for d in delays) / len(mql)
    never = 1 - len(first) / len(mql)
    assert len(mql) > 200
    assert on_time > 0.55
    assert 0.05 < late < 0.35
    assert 0.03 < never < 0.25


def test_hand_overs_are_worked_by_the_leads_owner(tables: dict[str, pd.DataFrame]) -> None:
    truth = tables["truth/contacts.csv"]
    crm = tables["crm/contacts.csv"].set_index("contact_id")
    handed = set(truth.contact_id[truth.mql_at != ""])
    assert (crm.hubspot_owner_id.loc[sorted(handed)] != "").all()
    engagements = tables["crm/engagements.csv"]
    worked = engagements[engagements.contact_id.isin(handed)]
    assert (worked.owner_id == crm.hubspot_owner_id.loc[worked.contact_id].to_numpy()).all()
    owners = tables["crm/owners.csv"].set_index("owner_id")
    assert (owners.active.loc[worked.owner_id] == "true").all()


def test_hand_overs_reach_their_owner_after_the_mql_and_before_the_first_touch(
    tables: dict[str, pd.DataFrame],
) -> None:
    truth = tables["truth/contacts.csv"]
    crm = tables["crm/contacts.csv"].set_index("contact_id")
    owned = crm.hubspot_owner_id != ""
    assert ((crm.hubspot_owner_assigneddate != "") == owned).all()
    assigned = crm.hubspot_owner_assigneddate[owned].pipe(_instants)
    assert (assigned <= crm.lastmodifieddate[owned].pipe(_instants)).all()
    mql = truth[truth.mql_at != ""].set_index("contact_id").mql_at.pipe(_instants)
    routed = assigned.loc[mql.index] > mql
    # territory owners hold a third of the contacts before any hand-over; the rest are routed at it
    assert 0.4 < routed.mean() < 0.9
    touches = tables["crm/engagements.csv"].query("type in @TOUCHES")
    touches = touches.assign(t=_instants(touches.timestamp), mql=touches.contact_id.map(mql)).dropna(
        subset=["mql"]
    )
    first = touches[touches.t >= touches.mql].groupby("contact_id").t.min()
    worked = first.index.intersection(routed.index[routed])
    assert len(worked) > 50
    assert (assigned.loc[worked] <= first.loc[worked]).all()
    assert (assigned.loc[worked] > mql.loc[worked]).all()


def test_won_deals_have_fitter_more_intent_contacts_than_lost_ones(tables: dict[str, pd.DataFrame]) -> None:
    truth = tables["truth/contacts.csv"].set_index("contact_id")
    deals = tables["crm/deals.csv"]
    score = truth.fit.astype(float) + truth.intent.astype(float)
    won = score.loc[deals.contact_id[deals.dealstage == "closedwon"]]
    lost = score.loc[deals.contact_id[deals.dealstage == "closedlost"]]
    assert len(won) >= 10 and len(lost) >= 10
    assert won.mean() > lost.mean() + 0.05
    assert set(truth.won[truth.won == "1"].index) == set(deals.contact_id[deals.dealstage == "closedwon"])


@pytest.fixture(scope="module")
def deal_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """A world large enough for a few hundred closed deals."""
    root = tmp_path_factory.mktemp("deal_world")
    generate_world(root, contacts=20_000, seed=5, days=300, end=DEFAULT_END)
    names = ("truth/contacts.csv", "crm/deals.csv", "crm/companies.csv", "ma/activity.csv")
    return {name: _read(root, name) for name in names}


def test_deals_are_won_as_planted_by_persona_and_buying_signals_before_the_hand_over(
    deal_world: dict[str, pd.DataFrame],
) -> None:
    """The planted outcome (sales.win_log_odds) is applied to each deal's own contact: recomputed from
    the exports (persona, company size, the activity before the hand-over, the hidden intent) it ranks
    won above lost deals, and each observable part points the planted way."""
    from sklearn.metrics import roc_auc_score

    from smarketing_sandbox import vocab
    from smarketing_sandbox.sales import win_log_odds

    tables = deal_world
    truth = tables["truth/contacts.csv"].set_index("contact_id")
    deals = tables["crm/deals.csv"]
    closed = deals[deals.dealstage.isin(["closedwon", "closedlost"])].drop_duplicates("contact_id")
    people = truth.loc[closed.contact_id]
    won = (closed.dealstage == "closedwon").to_numpy()
    activity = tables["ma/activity.csv"]
    handed_over = people.set_index("ma_id").mql_at
    events = activity[activity.lead_id.isin(handed_over.index)]
    before = _instants(events.timestamp) < _instants(handed_over.reindex(events.lead_id)).to_numpy()
    events = events[before.to_numpy()]
    kinds = {
        "webinar_attended": events.type == "webinar.attended",
        "demo_requested": events.type == "demo.requested",
        "pricing_page_view": events.url.str.startswith("/pricing"),
    }
    signals = np.column_stack(
        [
            events[mask].groupby("lead_id").size().reindex(people.ma_id, fill_value=0)
            for mask in kinds.values()
        ]
    )
    companies = tables["crm/companies.csv"].set_index("company_id").numberofemployees.astype(int)
    employees = companies.loc[closed.company_id].to_numpy()
    persona = people.persona.map({p.id: i for i, p in enumerate(vocab.PERSONAS)}).to_numpy()
    odds = win_log_odds(persona, employees, signals, people.intent.astype(float).to_numpy())
    assert len(closed) >= 400 and 0.25 < won.mean() < 0.45
    assert roc_auc_score(won, odds) > 0.68
    it_leader, practitioner = people.persona == "it_leader", people.persona == "practitioner"
    assert won[it_leader.to_numpy()].mean() > won[practitioner.to_numpy()].mean() + 0.1
    demo = signals[:, 1] > 0
    assert won[demo].mean() > won[~demo].mean() + 0.1


def test_mqls_are_fitter_and_more_engaged_than_the_rest(tables: dict[str, pd.DataFrame]) -> None:
    truth = tables["truth/contacts.csv"]
    is_mql = truth.mql_at != ""
    assert 0.05 < is_mql.sum() / len(truth) < 0.2
    assert truth.intent[is_mql].astype(float).mean() > truth.intent[~is_mql].astype(float).mean() + 0.05
    assert truth.fit[is_mql].astype(float).mean() > truth.fit[~is_mql].astype(float).mean()


def test_about_seventy_percent_of_addresses_are_in_both_systems(tables: dict[str, pd.DataFrame]) -> None:
    def normalised(s: pd.Series) -> set[str]:
        return set(s.str.strip().str.lower())

    crm, ma = tables["crm/contacts.csv"].email, tables["ma/contacts.csv"].email
    shared, union = normalised(crm) & normalised(ma), normalised(crm) | normalised(ma)
    assert 0.65 < len(shared) / len(union) < 0.75
    # Some addresses are typed differently in the two tools: only normalisation matches them.
    assert len(set(crm) & set(ma)) < len(shared) * 0.95
    assert normalised(crm) == set(crm.str.strip().str.lower()) and crm.str.strip().str.lower().is_unique


def test_engagement_is_skewed_and_about_twenty_events_per_contact(tables: dict[str, pd.DataFrame]) -> None:
    per_contact = tables["ma/activity.csv"].groupby("lead_id").size()
    assert 15 < len(tables["ma/activity.csv"]) / CONTACTS < 26
    assert per_contact.quantile(0.99) > 3 * per_contact.median()


def test_untidy_but_valid_fields(tables: dict[str, pd.DataFrame]) -> None:
    titles = tables["crm/contacts.csv"].jobtitle
    assert (titles != titles.str.strip()).any()
    assert titles.str.strip().str.lower().isin(["cto", "it director", "head of it"]).any()
    free = (
        tables["crm/contacts.csv"]
        .email.str.strip()
        .str.lower()
        .str.split("@")
        .str[1]
        .isin(["gmail.com", "yahoo.fr", "hotmail.com", "outlook.com", "gmx.de"])
    )
    assert 0.05 < free.mean() < 0.25
    tags = tables["ma/contacts.csv"].tags
    assert tags.str.contains(",").any()
    employees = tables["crm/companies.csv"].numberofemployees.astype(int)
    assert employees.max() > 20 * employees.median()


@pytest.mark.parametrize(("contacts", "days"), [(1, 1), (7, 3), (60, 30)])
def test_tiny_worlds_are_valid(tmp_path: Path, contacts: int, days: int) -> None:
    rows = generate_world(tmp_path, contacts=contacts, seed=3, days=days, end=DEFAULT_END)
    assert rows["truth/contacts.csv"] == contacts
    start = DEFAULT_END - timedelta(days=days)
    for name, columns in TIMESTAMP_COLUMNS.items():
        table = _read(tmp_path, name)
        for column in columns:
            instants = _instants(table[column])
            assert ((instants >= start) & (instants <= DEFAULT_END)).all(), (name, column)


def test_end_must_be_an_aware_instant(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_world(tmp_path, contacts=10, seed=1, days=10, end=datetime(2026, 11, 16))
    other_zone = datetime(2026, 11, 16, 1, tzinfo=UTC).astimezone()
    assert generate_world(tmp_path, contacts=10, seed=1, days=10, end=other_zone)["truth/contacts.csv"] == 10


def _utc(text: str, zone: str) -> int:
    return int(pd.Timestamp(text, tz=zone).tz_convert("UTC").timestamp())


@pytest.mark.parametrize(
    ("zone", "start", "hours", "expected"),
    [
        ("Europe/Paris", "2026-10-09 17:30", 1.0, "2026-10-12 09:30"),  # Friday evening to Monday
        ("Europe/Paris", "2026-07-13 17:30", 1.0, "2026-07-15 09:30"),  # over Bastille Day
        ("Europe/Paris", "2026-10-23 16:00", 3.0, "2026-10-26 10:00"),  # over the end of summer time
        ("Europe/Paris", "2026-10-10 11:00", 0.0, "2026-10-12 09:00"),  # Saturday snaps to Monday opening
        ("America/New_York", "2026-11-25 17:00", 2.0, "2026-11-27 10:00"),  # over Thanksgiving
    ],
)
def test_reps_act_within_their_own_business_hours(zone: str, start: str, hours: float, expected: str) -> None:
    got = add_seconds(calendars_for((zone,))[zone], np.array([_utc(start, zone)]), hours * 3600)
    assert got[0] == _utc(expected, zone)
