"""The sandbox world: a deterministic synthetic B2B software company, exported like the real tools.

`generate_world` writes what a CRM (HubSpot-like) and a marketing-automation tool (Mautic-like) would
export for the `days` days up to `end`, plus the hidden truth behind it:

    crm/owners.csv                  owner_id, first_name, last_name, email, team, manager_owner_id, timezone, active, updated_at
    crm/companies.csv               company_id, name, domain, industry, numberofemployees, annualrevenue, country, hs_lastmodifieddate
    crm/contacts.csv                contact_id, email, firstname, lastname, jobtitle, country, associatedcompanyid, lifecyclestage,
                                    hubspot_owner_id, createdate, lastmodifieddate, hs_email_optout,
                                    hubspot_owner_assigneddate
    crm/lifecycle_stage_history.csv contact_id, lifecyclestage, entered_at
    crm/engagements.csv             engagement_id, contact_id, owner_id, type, timestamp
    crm/deals.csv                   deal_id, contact_id, company_id, amount, dealstage, createdate, closedate, hs_lastmodifieddate
    ma/contacts.csv                 id, email, firstname, lastname, company, position, country, points, stage, tags, dnc_email,
                                    date_added, date_modified, last_active
    ma/activity.csv                 id, lead_id, type, timestamp, campaign_id, url, topic
    truth/contacts.csv              contact_id, ma_id, fit, intent, mql_at, won, intent_peak_at, persona (never ingested)
    world.json                      parameters and row counts

The same arguments give byte-identical files: every random draw comes from numpy generators seeded with
(seed, stream, batch), the batch size is a constant, and numbers and instants have fixed text formats
(UTC, `2026-11-03T14:05:00Z`). Nothing is invalid on purpose (no bad dates, no orphans, nothing after
`end`); only the untidiness real exports have: case and spacing in job titles and e-mail addresses,
industry spellings, free-mail addresses, missing optional fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing_sandbox import csvout, marketing, population, sales, vocab
from smarketing_sandbox.bizhours import calendars_for
from smarketing_sandbox.population import DAY, TIMEZONES, Companies, Contacts, Owners, Window

DEFAULT_END = datetime(2026, 11, 16, tzinfo=UTC)
FORMAT_VERSION = 1
# Contacts simulated per batch of marketing events: bounds memory, and is part of what the bytes depend on.
BATCH_CONTACTS = 50_000
STREAMS = {"owners": 1, "companies": 2, "contacts": 3, "marketing": 4, "sales": 5, "exports": 6}


def _columns(header: str) -> tuple[str, ...]:
    return tuple(header.split(","))


# Export headers, exactly as the source mappings (config/sources/sandbox_*.yaml) expect them.
OWNERS_COLUMNS = _columns(
    "owner_id,first_name,last_name,email,team,manager_owner_id,timezone,active,updated_at"
)
COMPANIES_COLUMNS = _columns(
    "company_id,name,domain,industry,numberofemployees,annualrevenue,country,hs_lastmodifieddate"
)
CRM_CONTACTS_COLUMNS = _columns(
    "contact_id,email,firstname,lastname,jobtitle,country,associatedcompanyid,"
    "lifecyclestage,hubspot_owner_id,createdate,lastmodifieddate,hs_email_optout,hubspot_owner_assigneddate"
)
LIFECYCLE_COLUMNS = _columns("contact_id,lifecyclestage,entered_at")
ENGAGEMENTS_COLUMNS = _columns("engagement_id,contact_id,owner_id,type,timestamp")
DEALS_COLUMNS = _columns(
    "deal_id,contact_id,company_id,amount,dealstage,createdate,closedate,hs_lastmodifieddate"
)
MA_CONTACTS_COLUMNS = _columns(
    "id,email,firstname,lastname,company,position,country,points,stage,tags,"
    "dnc_email,date_added,date_modified,last_active"
)
MA_ACTIVITY_COLUMNS = _columns("id,lead_id,type,timestamp,campaign_id,url,topic")
TRUTH_COLUMNS = _columns("contact_id,ma_id,fit,intent,mql_at,won,intent_peak_at,persona")

# The marketing tool's stage names for the CRM lifecycle stages (a coarser copy of them).
MA_STAGES = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "marketingqualifiedlead": "MQL",
    "salesqualifiedlead": "SQL",
    "opportunity": "SQL",
    "customer": "Customer",
    "evangelist": "Customer",
    "other": "Lead",
    "nurturing": "Nurture",
    "disqualified": "Disqualified",
}
# Indexed like sales.LIFECYCLE_STAGES (the runtime vocabulary's list).
MA_STAGE_NAMES = tuple(MA_STAGES[stage] for stage in sales.LIFECYCLE_STAGES)


@dataclass
class MarketingView:
    """Per contact (all contacts, -1/0 outside the marketing tool): what the event batches added up to."""

    points: np.ndarray
    last_active: np.ndarray
    unsubscribed_at: np.ndarray
    tags: np.ndarray
    mql_at: np.ndarray
    signals: np.ndarray  # (contacts, len(marketing.SIGNALS)) before the hand-over


def _rng(seed: int, stream: str, batch: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed % (1 << 64), STREAMS[stream], batch])


def _epoch(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("end must be timezone-aware (UTC)")
    return int(instant.astimezone(UTC).timestamp())


def generate_world(out_dir: Path, *, contacts: int, seed: int, days: int, end: datetime) -> dict[str, int]:
    """Write the world's exports under `out_dir`; returns the rows written per file ("crm/contacts.csv": n)."""
    if contacts < 1 or days < 1:
        raise ValueError("contacts and days must be at least 1")
    end_s = _epoch(end)
    window = Window(start=end_s - days * DAY, end=end_s)
    out_dir = Path(out_dir)
    owners = population.generate_owners(_rng(seed, "owners"), contacts, window)
    companies = population.generate_companies(_rng(seed, "companies"), contacts, owners, window)
    people = population.generate_contacts(_rng(seed, "contacts"), contacts, companies, window)
    catalogue = marketing.build_catalogue(window)

    rows: dict[str, int] = {}
    view = _write_activity(out_dir, seed, people, companies, catalogue, window, rows)
    calendars = calendars_for(TIMEZONES)
    world_sales = sales.simulate(
        _rng(seed, "sales"), people, companies, owners, view.mql_at, view.signals, calendars, window
    )
    exports = _rng(seed, "exports")
    rows["crm/owners.csv"] = _write_owners(out_dir, owners)
    rows["crm/companies.csv"] = _write_companies(out_dir, companies)
    rows["crm/contacts.csv"] = _write_crm_contacts(
        out_dir, exports, people, companies, owners, world_sales, view, window
    )
    rows["crm/lifecycle_stage_history.csv"] = _write_lifecycle(out_dir, people, world_sales)
    rows["crm/engagements.csv"] = _write_engagements(out_dir, people, owners, world_sales)
    rows["crm/deals.csv"] = _write_deals(out_dir, people, companies, world_sales)
    rows["ma/contacts.csv"] = _write_ma_contacts(out_dir, exports, people, companies, world_sales, view)
    rows["truth/contacts.csv"] = _write_truth(out_dir, people, world_sales, view)
    rows = dict(sorted(rows.items()))
    _write_manifest(
        out_dir,
        contacts=contacts,
        seed=seed,
        days=days,
        window=window,
        rows=rows,
        people=people,
        owners=owners,
        companies=companies,
        world_sales=world_sales,
        view=view,
    )
    return rows


# -- marketing events ---------------------------------------------------------------------------
def _profile_points(people: Contacts, companies: Companies) -> np.ndarray:
    """Marketing's points for what a form tells it: the job title's persona and the company size."""
    persona_points = np.array(vocab.PERSONA_MQL_POINTS)[people.persona]
    no_title = np.asarray(pc.equal(people.job_title, ""), dtype=bool)
    employees = companies.employees[people.company]
    size_points = np.select([(employees >= 50) & (employees <= 1000), employees > 1000], [10, 5], 0)
    return np.where(no_title, 0, persona_points) + size_points


def _write_activity(
    out_dir: Path,
    seed: int,
    people: Contacts,
    companies: Companies,
    catalogue: marketing.Catalogue,
    window: Window,
    rows: dict[str, int],
) -> MarketingView:
    n = len(people.created)
    view = MarketingView(
        points=np.zeros(n, np.int64),
        last_active=np.full(n, -1, np.int64),
        unsubscribed_at=np.full(n, -1, np.int64),
        tags=np.zeros(n, np.int64),
        mql_at=np.full(n, -1, np.int64),
        signals=np.zeros((n, len(marketing.SIGNALS)), np.int64),
    )
    in_ma = np.flatnonzero(people.in_ma)
    order = in_ma[np.argsort(people.ma_id[in_ma], kind="stable")]
    profile = _profile_points(people, companies)
    non_buyer = people.persona == [p.id for p in vocab.PERSONAS].index("non_buyer")
    with csvout.CsvWriter(out_dir / "ma" / "activity.csv", MA_ACTIVITY_COLUMNS) as out:
        for batch, first in enumerate(range(0, len(order), BATCH_CONTACTS)):
            idx = order[first : first + BATCH_CONTACTS]
            audience = marketing.Audience(
                ma_id=people.ma_id[idx],
                created=people.ma_created[idx],
                intent=people.intent[idx],
                peak=people.intent_peak[idx],
                width=people.intent_width[idx],
                non_buyer=non_buyer[idx],
                consent=people.consent[idx],
                wants_out=people.wants_out[idx],
                can_hand_over=people.system[idx] == population.SYSTEM_BOTH,
                crm_created=people.crm_created[idx],
                profile_points=profile[idx],
            )
            events, outcome = marketing.simulate(_rng(seed, "marketing", batch), audience, catalogue, window)
            out.write(
                [
                    csvout.integers(out.rows + 1 + np.arange(len(events))),
                    csvout.integers(audience.ma_id[events.lead]),
                    csvout.categories(events.kind, marketing.EVENT_TYPES),
                    csvout.timestamps(events.at),
                    csvout.categories(events.campaign, catalogue.campaign_ids),
                    csvout.categories(events.url, catalogue.urls),
                    csvout.categories(marketing.topic_of(events, catalogue), vocab.TOPICS),
                ]
            )
            view.points[idx] = outcome.points
            view.last_active[idx] = outcome.last_active
            view.unsubscribed_at[idx] = outcome.unsubscribed_at
            view.tags[idx] = outcome.tags
            view.mql_at[idx] = outcome.mql_at
            view.signals[idx] = outcome.signals
    rows["ma/activity.csv"] = out.rows
    return view


# -- CRM ----------------------------------------------------------------------------------------
def _write_owners(out_dir: Path, owners: Owners) -> int:
    has_manager = owners.manager >= 0
    with csvout.CsvWriter(out_dir / "crm" / "owners.csv", OWNERS_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(owners.owner_id),
                owners.first_name,
                owners.last_name,
                owners.email,
                csvout.categories(owners.team, owners.team_names),
                csvout.integers(owners.owner_id[np.maximum(owners.manager, 0)], has_manager),
                csvout.categories(owners.timezone, TIMEZONES),
                pa.array(owners.active),
                csvout.timestamps(owners.updated_at),
            ]
        )


def _write_companies(out_dir: Path, companies: Companies) -> int:
    with csvout.CsvWriter(out_dir / "crm" / "companies.csv", COMPANIES_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(companies.company_id),
                companies.name,
                companies.domain,
                companies.industry_label,
                csvout.integers(companies.employees),
                csvout.integers(companies.annual_revenue, companies.has_revenue),
                csvout.categories(companies.country, [c.code for c in vocab.COUNTRIES]),
                csvout.timestamps(companies.updated_at),
            ]
        )


def _crm_rows(people: Contacts) -> np.ndarray:
    rows = np.flatnonzero(people.in_crm)
    return rows[np.argsort(people.crm_id[rows], kind="stable")]


def _scatter_max(target: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    np.maximum.at(target, index, values)


def _write_crm_contacts(
    out_dir: Path,
    rng: np.random.Generator,
    people: Contacts,
    companies: Companies,
    owners: Owners,
    world_sales: sales.Sales,
    view: MarketingView,
    window: Window,
) -> int:
    n = len(people.created)
    unsubscribed = (view.unsubscribed_at >= 0) & people.in_crm
    # The opt-out reaches the CRM with the next sync of the marketing tool.
    optout_synced = np.where(
        unsubscribed, np.minimum(view.unsubscribed_at + rng.integers(60, 900, n), window.end - 1), -1
    )
    modified = np.maximum(people.crm_created, optout_synced)
    _scatter_max(modified, world_sales.stages.contact, world_sales.stages.at)
    _scatter_max(modified, world_sales.activities.contact, world_sales.activities.at)
    assigned = world_sales.owner_assigned_at
    np.maximum(modified, assigned, out=modified, where=people.in_crm)  # an assignment modifies the contact
    # Contacts at a free-mail address are often not associated with their company.
    associated = ~people.free_mail | (rng.random(n) < 0.5)
    r = _crm_rows(people)
    owner = world_sales.owner[r]
    with csvout.CsvWriter(out_dir / "crm" / "contacts.csv", CRM_CONTACTS_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(people.crm_id[r]),
                people.crm_email.take(pa.array(r)),
                people.first_name.take(pa.array(r)),
                people.last_name.take(pa.array(r)),
                people.job_title.take(pa.array(r)),
                csvout.categories(people.country[r], [c.code for c in vocab.COUNTRIES]),
                csvout.integers(companies.company_id[people.company[r]], associated[r]),
                csvout.categories(world_sales.current_stage[r], sales.LIFECYCLE_STAGES),
                csvout.integers(owners.owner_id[np.maximum(owner, 0)], owner >= 0),
                csvout.timestamps(people.crm_created[r]),
                csvout.timestamps(modified[r]),
                pa.array(~people.consent[r] | unsubscribed[r]),
                csvout.timestamps(assigned[r], assigned[r] >= 0),
            ]
        )


def _write_lifecycle(out_dir: Path, people: Contacts, world_sales: sales.Sales) -> int:
    st = world_sales.stages
    order = np.lexsort((st.at, people.crm_id[st.contact]))
    with csvout.CsvWriter(out_dir / "crm" / "lifecycle_stage_history.csv", LIFECYCLE_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(people.crm_id[st.contact[order]]),
                csvout.categories(st.stage[order], sales.LIFECYCLE_STAGES),
                csvout.timestamps(st.at[order]),
            ]
        )


def _write_engagements(out_dir: Path, people: Contacts, owners: Owners, world_sales: sales.Sales) -> int:
    act = world_sales.activities
    with csvout.CsvWriter(out_dir / "crm" / "engagements.csv", ENGAGEMENTS_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(sales.ENGAGEMENT_ID_BASE + 1 + np.arange(len(act.at))),
                csvout.integers(people.crm_id[act.contact]),
                csvout.integers(owners.owner_id[act.owner]),
                csvout.categories(act.kind, sales.ENGAGEMENT_TYPES),
                csvout.timestamps(act.at),
            ]
        )


def _write_deals(out_dir: Path, people: Contacts, companies: Companies, world_sales: sales.Sales) -> int:
    d = world_sales.deals
    closed = d.closed >= 0
    with csvout.CsvWriter(out_dir / "crm" / "deals.csv", DEALS_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(sales.DEAL_ID_BASE + 1 + np.arange(len(d.created))),
                csvout.integers(people.crm_id[d.contact]),
                csvout.integers(companies.company_id[d.company]),
                csvout.decimals(d.amount, 2),
                csvout.categories(d.stage, sales.DEAL_STAGES),
                csvout.timestamps(d.created),
                csvout.timestamps(d.closed, closed),
                csvout.timestamps(d.modified),
            ]
        )


# -- marketing tool -----------------------------------------------------------------------------
def _tag_labels() -> list[str]:
    names = marketing.TAG_NAMES
    return [
        ",".join(name for bit, name in enumerate(names) if mask >> bit & 1) for mask in range(1 << len(names))
    ]


def _maybe_blank(rng: np.random.Generator, values: pa.Array, share: float) -> pa.Array:
    """Optional form fields people leave empty."""
    return population.where(rng.random(len(values)) < share, "", values)


def _write_ma_contacts(
    out_dir: Path,
    rng: np.random.Generator,
    people: Contacts,
    companies: Companies,
    world_sales: sales.Sales,
    view: MarketingView,
) -> int:
    r = np.flatnonzero(people.in_ma)
    r = r[np.argsort(people.ma_id[r], kind="stable")]
    n = len(r)
    take = pa.array(r)
    crm_stage = world_sales.current_stage[r]
    newsletter = (view.tags[r] & marketing.TAG_NEWSLETTER) > 0
    stage = np.where(crm_stage >= 0, crm_stage, np.where(newsletter, sales.SUBSCRIBER, sales.LEAD))
    # Many marketing-tool contacts never get a stage set until they matter to sales.
    unset = np.isin(stage, (sales.SUBSCRIBER, sales.LEAD)) & (rng.random(n) < 0.2)
    stage = np.where(unset, -1, stage)
    tags = view.tags[r] | np.where(world_sales.won[r], marketing.TAG_CUSTOMER, 0)
    unsubscribed = view.unsubscribed_at[r]
    modified = np.maximum.reduce([people.ma_created[r], view.last_active[r], unsubscribed, view.mql_at[r]])
    with csvout.CsvWriter(out_dir / "ma" / "contacts.csv", MA_CONTACTS_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(people.ma_id[r]),
                people.ma_email.take(take),
                _maybe_blank(rng, people.first_name.take(take), 0.03),
                _maybe_blank(rng, people.last_name.take(take), 0.03),
                _maybe_blank(rng, companies.name.take(pa.array(people.company[r])), 0.08),
                people.job_title.take(take),
                _maybe_blank(
                    rng, population.take([c.name for c in vocab.COUNTRIES], people.country[r]), 0.05
                ),
                csvout.integers(view.points[r]),
                csvout.categories(stage, MA_STAGE_NAMES),
                csvout.categories(tags, _tag_labels()),
                csvout.integers((~people.consent[r] | (unsubscribed >= 0)).astype(np.int64)),
                csvout.timestamps(people.ma_created[r]),
                csvout.timestamps(modified),
                csvout.timestamps(view.last_active[r], view.last_active[r] >= 0),
            ]
        )


# -- truth and manifest -------------------------------------------------------------------------
def _write_truth(out_dir: Path, people: Contacts, world_sales: sales.Sales, view: MarketingView) -> int:
    with csvout.CsvWriter(out_dir / "truth" / "contacts.csv", TRUTH_COLUMNS) as out:
        return out.write(
            [
                csvout.integers(people.crm_id, people.crm_id >= 0),
                csvout.integers(people.ma_id, people.ma_id >= 0),
                csvout.decimals(people.fit, 4),
                csvout.decimals(people.intent, 4),
                csvout.timestamps(view.mql_at, view.mql_at >= 0),
                csvout.integers(world_sales.won.astype(np.int64)),
                csvout.timestamps(people.intent_peak),
                csvout.categories(people.persona, [p.id for p in vocab.PERSONAS]),
            ]
        )


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_manifest(
    out_dir: Path,
    *,
    contacts: int,
    seed: int,
    days: int,
    window: Window,
    rows: dict[str, int],
    people: Contacts,
    owners: Owners,
    companies: Companies,
    world_sales: sales.Sales,
    view: MarketingView,
) -> None:
    deals = world_sales.deals
    manifest = {
        "generator": "smarketing_sandbox.world",
        "format_version": FORMAT_VERSION,
        "parameters": {
            "contacts": contacts,
            "seed": seed,
            "days": days,
            "start": _iso(window.start),
            "end": _iso(window.end),
        },
        "rows": rows,
        "population": {
            "contacts_in_both_systems": int((people.system == population.SYSTEM_BOTH).sum()),
            "contacts_in_crm_only": int((people.system == population.SYSTEM_CRM_ONLY).sum()),
            "contacts_in_marketing_only": int((people.system == population.SYSTEM_MA_ONLY).sum()),
            "companies": len(companies.company_id),
            "owners": len(owners.owner_id),
            "teams": list(owners.team_names),
            "mqls": int((view.mql_at >= 0).sum()),
            "deals": len(deals.created),
            "deals_won": int((deals.stage == sales.CLOSED_WON).sum()),
            "deals_lost": int((deals.stage == sales.CLOSED_LOST).sum()),
        },
        "conventions": {
            "timestamps": "UTC, ISO 8601 (YYYY-MM-DDTHH:MM:SSZ)",
            "sales_business_hours": "each rep's time zone, Mon-Fri 09:00-18:00, local public holidays off",
            "pricing_page_views": "ma/activity.csv page.hit rows whose url starts with /pricing",
        },
    }
    (out_dir / "world.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
