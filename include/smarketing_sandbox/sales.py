"""What sales does with the hand-overs: first touches, follow-ups, qualification, deals, lifecycle.

Every rep action happens within the rep's own working hours (its time zone, Mon-Fri 09:00-18:00, local
public holidays off). Each rep has a habit: most hand-overs are touched within four business hours, a
share late, a share never. Qualification and opportunity chances rise with the contact's hidden fit and
intent.

Whether a deal is won is the world's planted outcome (`win_log_odds`), what a calibration on outcomes
should recover: good-fit personas (read from the job title) and companies of the ideal size win more,
and so do contacts who showed buying signals before marketing handed them over (webinars attended, a
demo requested, pricing pages viewed); the hidden intent adds what no field or event shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from smarketing.sla.calendar import BusinessCalendar
from smarketing.vocabulary import LIFECYCLE_STAGES
from smarketing_sandbox.bizhours import HOUR, add_seconds
from smarketing_sandbox.population import DAY, TIMEZONES, Companies, Contacts, Owners, Window
from smarketing_sandbox.vocab import PERSONA_WIN_LOG_ODDS

ENGAGEMENT_TYPES: tuple[str, ...] = ("CALL", "EMAIL", "MEETING", "NOTE", "TASK")
CALL, EMAIL, MEETING, NOTE, TASK = range(len(ENGAGEMENT_TYPES))
# Stages are indexes into the runtime vocabulary's list (one list for the pipeline and the sandbox);
# the sandbox company never makes anyone an evangelist.
_AT = LIFECYCLE_STAGES.index
SUBSCRIBER, LEAD, MQL, SQL = (
    _AT("subscriber"),
    _AT("lead"),
    _AT("marketingqualifiedlead"),
    _AT("salesqualifiedlead"),
)
OPPORTUNITY, CUSTOMER, OTHER = _AT("opportunity"), _AT("customer"), _AT("other")
NURTURING, DISQUALIFIED = _AT("nurturing"), _AT("disqualified")
DEAL_STAGES: tuple[str, ...] = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "contractsent",
    "closedwon",
    "closedlost",
)
CLOSED_WON, CLOSED_LOST = 4, 5
FIRST_TOUCH_WITHIN = 4 * HOUR
# Routing a hand-over to its rep (a round robin, a manager's pick) takes a share of the time before the
# first touch, at most an hour of the rep's business time.
ROUTING_SHARE, ROUTING_CAP = 0.25, 1 * HOUR
ENGAGEMENT_ID_BASE = 30_000_000_000
DEAL_ID_BASE = 9_100_000_000


@dataclass
class Activities:
    contact: np.ndarray
    owner: np.ndarray
    kind: np.ndarray  # index into ENGAGEMENT_TYPES
    at: np.ndarray


@dataclass
class Stages:
    contact: np.ndarray
    stage: np.ndarray  # index into LIFECYCLE_STAGES
    at: np.ndarray


@dataclass
class Deals:
    contact: np.ndarray
    company: np.ndarray
    amount: np.ndarray
    stage: np.ndarray  # index into DEAL_STAGES
    created: np.ndarray
    closed: np.ndarray  # -1 while open
    modified: np.ndarray


@dataclass
class Sales:
    activities: Activities  # sorted by time
    stages: Stages  # sorted by contact, then time
    deals: Deals  # sorted by creation time
    owner: np.ndarray  # CRM owner per contact, -1 for none
    owner_assigned_at: np.ndarray  # when the owner got it (hubspot_owner_assigneddate), -1 for none
    won: np.ndarray  # per contact: won a deal inside the window
    current_stage: np.ndarray  # per contact, -1 when not in the CRM


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# The planted outcome, in log-odds of a deal being won (a closed deal; about 36% are won).
WIN_BASE = -2.9
# Company size (employees): below 10, 10-49, 50-1,000 (the ideal customer), 1,001-5,000, larger.
WIN_SIZE_BOUNDS = (10, 50, 1001, 5001)
WIN_SIZE_LOG_ODDS = (-0.8, -0.3, 0.4, 0.1, -0.2)
# Per buying signal before the hand-over (marketing.SIGNALS), and the count beyond which more adds nothing.
WIN_SIGNAL_LOG_ODDS = (1.4, 1.8, 0.5)
WIN_SIGNAL_CAPS = (2, 1, 4)
WIN_INTENT_LOG_ODDS = 2.5  # per unit of hidden intent, centred on 0.5


def win_log_odds(
    persona: np.ndarray, employees: np.ndarray, signals: np.ndarray, intent: np.ndarray
) -> np.ndarray:
    """Log-odds that a deal is won: persona (`vocab.PERSONA_WIN_LOG_ODDS`) + company size + capped buying
    signals before the hand-over + hidden intent. Additive: no interaction is planted."""
    size = np.array(WIN_SIZE_LOG_ODDS)[np.searchsorted(WIN_SIZE_BOUNDS, employees, side="right")]
    capped = np.minimum(signals, np.array(WIN_SIGNAL_CAPS)[None, :])
    return (
        WIN_BASE
        + np.array(PERSONA_WIN_LOG_ODDS)[persona]
        + size
        + capped @ np.array(WIN_SIGNAL_LOG_ODDS)
        + WIN_INTENT_LOG_ODDS * (intent - 0.5)
    )


class RepClock:
    """Business-hours arithmetic on each acting rep's own calendar."""

    def __init__(self, owners: Owners, calendars: dict[str, BusinessCalendar]) -> None:
        self.tz_of_owner = owners.timezone
        self.calendars = [calendars[tz] for tz in TIMEZONES]

    def add(self, owner: np.ndarray, t: np.ndarray, business_seconds: np.ndarray | float) -> np.ndarray:
        out = np.empty(len(t), dtype=np.int64)
        seconds = np.broadcast_to(np.asarray(business_seconds, dtype=np.float64), (len(t),))
        tz = self.tz_of_owner[owner]
        for code, calendar in enumerate(self.calendars):
            rows = np.flatnonzero(tz == code)
            if len(rows):
                out[rows] = add_seconds(calendar, t[rows], seconds[rows])
        return out


class _Collector:
    """Accumulates (contact, ..., time) rows from the simulation steps, dropping those past the window."""

    def __init__(self, end: int) -> None:
        self.end = end
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, mask: np.ndarray, *columns: np.ndarray | int) -> None:
        *values, at = columns
        at = np.asarray(at)
        keep = mask & (at < self.end)
        self.parts.append(tuple(np.broadcast_to(np.asarray(v), keep.shape)[keep] for v in (*values, at)))

    def arrays(self, width: int) -> list[np.ndarray]:
        if not self.parts:
            return [np.zeros(0, dtype=np.int64) for _ in range(width)]
        return [np.concatenate([p[i] for p in self.parts]).astype(np.int64) for i in range(width)]


def _initial_stage(rng: np.random.Generator, contacts: Contacts) -> np.ndarray:
    """Stage each CRM record is created with: most are leads, some newsletter subscribers or 'other'."""
    n = len(contacts.created)
    u = rng.random(n)
    crm_only = contacts.system == 1
    stage = np.where(crm_only, np.where(u < 0.15, OTHER, LEAD), np.where(u < 0.2, SUBSCRIBER, LEAD))
    return np.where(contacts.in_crm, stage, -1)


def _deal_amount(rng: np.random.Generator, employees: np.ndarray) -> np.ndarray:
    raw = 2000 * np.clip(employees, 5, 50_000) ** 0.35 * rng.lognormal(0, 0.4, len(employees))
    return np.maximum(np.round(raw, -2), 1000)


@dataclass
class _Handovers:
    """The MQLs being worked: contact index, owning rep, hidden truth and hand-over instant."""

    contact: np.ndarray
    rep: np.ndarray
    fit: np.ndarray
    intent: np.ndarray
    at: np.ndarray

    def __len__(self) -> int:
        return len(self.contact)


def simulate(
    rng: np.random.Generator,
    contacts: Contacts,
    companies: Companies,
    owners: Owners,
    mql_at: np.ndarray,
    signals: np.ndarray,
    calendars: dict[str, BusinessCalendar],
    window: Window,
) -> Sales:
    """Sales' side of the world for every hand-over (`mql_at` >= 0) and the CRM's lifecycle records;
    `signals` (contacts x marketing.SIGNALS): buying signals before the hand-over."""
    n = len(contacts.created)
    clock = RepClock(owners, calendars)
    acts = _Collector(window.end)
    stages = _Collector(window.end)
    territory = companies.owner[contacts.company]
    in_crm = contacts.in_crm

    stages.add(in_crm, np.arange(n), _initial_stage(rng, contacts), contacts.crm_created)
    _prospecting(rng, contacts, territory, mql_at, clock, window, acts)
    q = np.flatnonzero(mql_at >= 0)
    h = _Handovers(q, territory[q], contacts.fit[q], contacts.intent[q], mql_at[q])
    stages.add(np.ones(len(h), bool), h.contact, MQL, h.at)
    first_touch, touched, routed = _first_touches(rng, h, owners, clock, window, acts)
    _follow_ups(rng, h, first_touch, touched, clock, acts)
    decided, sql = _qualification(rng, h, first_touch, touched, clock, window, stages)
    deals = _opportunities(rng, h, contacts, companies, signals, decided, sql, clock, window, acts, stages)

    act_contact, act_owner, act_kind, act_at = acts.arrays(4)
    order = np.lexsort((act_kind, act_contact, act_at))
    history = _history(stages)
    won = np.zeros(n, dtype=bool)
    won[deals.contact[deals.stage == CLOSED_WON]] = True
    owner = np.where(in_crm & (contacts.owned_early | (mql_at >= 0)), territory, -1)
    return Sales(
        activities=Activities(act_contact[order], act_owner[order], act_kind[order], act_at[order]),
        stages=history,
        deals=deals,
        owner=owner,
        owner_assigned_at=_assignments(contacts, owner, h, routed, window),
        won=won,
        current_stage=_current_stage(history, n),
    )


def _assignments(
    contacts: Contacts, owner: np.ndarray, h: _Handovers, routed: np.ndarray, window: Window
) -> np.ndarray:
    """Territory owners hold their contacts from the CRM record's creation; the others are routed to
    the territory's rep at hand-over, a while after it."""
    assigned = np.where(owner >= 0, contacts.crm_created, -1)
    late = ~contacts.owned_early[h.contact] & (owner[h.contact] >= 0)
    routed_at = np.maximum(np.minimum(routed, window.end - 1), contacts.crm_created[h.contact])
    assigned[h.contact[late]] = routed_at[late]
    return assigned


def _prospecting(
    rng: np.random.Generator,
    contacts: Contacts,
    territory: np.ndarray,
    mql_at: np.ndarray,
    clock: RepClock,
    window: Window,
    acts: _Collector,
) -> None:
    """Reps reach out to a few of their accounts' contacts before marketing hands anyone over."""
    n = len(contacts.created)
    p = np.flatnonzero(contacts.in_crm & contacts.owned_early & (rng.random(n) < 0.08))
    created = contacts.crm_created[p]
    when = clock.add(
        territory[p], created + np.floor(rng.random(len(p)) * (window.end - created)).astype(np.int64), 0
    )
    before_mql = (mql_at[p] < 0) | (when < mql_at[p])
    acts.add(before_mql, p, territory[p], np.where(rng.random(len(p)) < 0.6, CALL, EMAIL), when)


def _first_touches(
    rng: np.random.Generator, h: _Handovers, owners: Owners, clock: RepClock, window: Window, acts: _Collector
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each rep's habit decides: on time (within 4 business hours), late, or never. Returns (at, touched,
    routed): routed is when the hand-over reached the rep, before any touch."""
    m = len(h)
    # The CRM workflow opens a follow-up task for the owner at hand-over: a task is not a touch.
    acts.add(rng.random(m) < 0.7, h.contact, h.rep, TASK, h.at + rng.integers(5, 180, m))
    u = rng.random(m)
    never = u < owners.untouched_share[h.rep]
    late = ~never & (u < owners.untouched_share[h.rep] + owners.late_share[h.rep])
    delay = np.where(
        late, 4.2 * HOUR + rng.gamma(1.5, 8 * HOUR, m), 0.02 * HOUR + 3.9 * HOUR * rng.beta(1.1, 2.2, m)
    )
    first_touch = clock.add(h.rep, h.at, delay)
    # from the touch delay, so the world's other draws stay as they were
    routed = clock.add(h.rep, h.at, np.minimum(ROUTING_SHARE * delay, ROUTING_CAP))
    touched = ~never & (first_touch < window.end)
    kind = np.where(rng.random(m) < 0.55, CALL, EMAIL)
    acts.add(touched, h.contact, h.rep, kind, first_touch)
    noted = touched & (kind == CALL) & (rng.random(m) < 0.4)
    acts.add(noted, h.contact, h.rep, NOTE, first_touch + rng.integers(60, 600, m))
    return first_touch, touched, routed


def _follow_ups(
    rng: np.random.Generator,
    h: _Handovers,
    first_touch: np.ndarray,
    touched: np.ndarray,
    clock: RepClock,
    acts: _Collector,
) -> None:
    """More calls, e-mails and meetings, a business day or so apart; keener contacts get more."""
    follow = np.where(touched, rng.poisson(0.8 + 2.5 * h.intent), 0)
    k = np.repeat(np.arange(len(h)), follow)
    gaps = rng.uniform(4, 30, len(k)) * HOUR
    # Running total of the gaps within each hand-over's own follow-ups.
    firsts = np.r_[0, np.cumsum(follow)[:-1]][follow > 0]
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[firsts] - gaps[firsts], follow[follow > 0])
    at = clock.add(h.rep[k], first_touch[k], elapsed)
    kind = rng.choice(3, len(k), p=[0.4, 0.45, 0.15])
    acts.add(np.ones(len(k), bool), h.contact[k], h.rep[k], kind, at)


def _qualification(
    rng: np.random.Generator,
    h: _Handovers,
    first_touch: np.ndarray,
    touched: np.ndarray,
    clock: RepClock,
    window: Window,
    stages: _Collector,
) -> tuple[np.ndarray, np.ndarray]:
    """After the first conversations: sales-qualified, disqualified or back to nurturing. Returns (at, sql)."""
    m = len(h)
    decided = clock.add(h.rep, first_touch, rng.uniform(2, 40, m) * HOUR)
    decided_in = touched & (decided < window.end)
    sql = decided_in & (rng.random(m) < sigmoid(-5.0 + 4.0 * h.fit + 5.0 * h.intent))
    rejected = decided_in & ~sql
    disqualify = rejected & (rng.random(m) < 0.6 * (1 - h.fit))
    stages.add(sql, h.contact, SQL, decided)
    stages.add(disqualify, h.contact, DISQUALIFIED, decided)
    stages.add(rejected & ~disqualify & (rng.random(m) < 0.75), h.contact, NURTURING, decided)
    # Marketing takes back hand-overs nobody touched after a few weeks.
    recycled_at = h.at + rng.integers(14 * DAY, 30 * DAY, m)
    stages.add(~touched & (rng.random(m) < 0.4), h.contact, NURTURING, recycled_at)
    return decided, sql


def _opportunities(
    rng: np.random.Generator,
    h: _Handovers,
    contacts: Contacts,
    companies: Companies,
    signals: np.ndarray,
    decided: np.ndarray,
    sql: np.ndarray,
    clock: RepClock,
    window: Window,
    acts: _Collector,
    stages: _Collector,
) -> Deals:
    """Qualified leads become opportunities (with a deal) or stall; deals close won or lost, or stay open."""
    m = len(h)
    opened_at = clock.add(h.rep, decided, rng.uniform(4, 80, m) * HOUR)
    chance = sigmoid(-2.3 + 2.0 * h.fit + 3.0 * h.intent)
    opportunity = sql & (opened_at < window.end) & (rng.random(m) < chance)
    stalled = sql & ~opportunity & (rng.random(m) < 0.4)
    stages.add(
        stalled, h.contact, NURTURING, clock.add(h.rep, decided + rng.integers(10 * DAY, 40 * DAY, m), 0)
    )
    stages.add(opportunity, h.contact, OPPORTUNITY, opened_at)
    acts.add(opportunity & (rng.random(m) < 0.8), h.contact, h.rep, MEETING, opened_at)

    o = np.flatnonzero(opportunity)
    deals = _deals(rng, contacts, companies, signals, h.contact[o], h.rep[o], opened_at[o], clock, window)
    won = deals.stage == CLOSED_WON
    stages.add(won, deals.contact, CUSTOMER, deals.closed + rng.integers(60, 3600, len(won)))
    lost = (deals.stage == CLOSED_LOST) & (rng.random(len(won)) < 0.5)
    stages.add(lost, deals.contact, NURTURING, deals.closed + rng.integers(DAY, 10 * DAY, len(won)))
    return deals


def _history(stages: _Collector) -> Stages:
    contact, stage, at = stages.arrays(3)
    order = np.lexsort((at, contact))
    return Stages(contact[order], stage[order], at[order])


def _current_stage(history: Stages, n: int) -> np.ndarray:
    """The stage each contact entered last (-1 for contacts not in the CRM)."""
    current = np.full(n, -1, dtype=np.int64)
    c = history.contact
    last = np.flatnonzero(np.r_[c[1:] != c[:-1], True]) if len(c) else c
    current[c[last]] = history.stage[last]
    return current


def _deals(
    rng: np.random.Generator,
    contacts: Contacts,
    companies: Companies,
    signals: np.ndarray,
    contact: np.ndarray,
    rep: np.ndarray,
    created: np.ndarray,
    clock: RepClock,
    window: Window,
) -> Deals:
    """One deal per opportunity; larger companies buy more and take longer to decide."""
    d = len(contact)
    company = contacts.company[contact]
    employees = companies.employees[company]
    cycle_days = np.clip(rng.lognormal(np.log(30 * (np.maximum(employees, 1) / 200) ** 0.15), 0.5, d), 5, 240)
    # Deals close at some point of the rep's working day, not at opening time.
    close_at = clock.add(rep, created + (cycle_days * DAY).astype(np.int64), rng.uniform(0, 9, d) * HOUR)
    closed = close_at < window.end
    odds = win_log_odds(contacts.persona[contact], employees, signals[contact], contacts.intent[contact])
    won = rng.random(d) < sigmoid(odds)
    progress = np.clip((window.end - created) / np.maximum(close_at - created, 1), 0, 0.999)
    stage = np.where(closed, np.where(won, CLOSED_WON, CLOSED_LOST), np.floor(progress * 4).astype(np.int64))
    modified = np.where(
        closed,
        close_at,
        created + np.floor(rng.uniform(0.3, 1.0, d) * (window.end - created)).astype(np.int64),
    )
    order = np.argsort(created, kind="stable")
    return Deals(
        contact=contact[order],
        company=company[order],
        amount=_deal_amount(rng, employees)[order],
        stage=stage[order],
        created=created[order],
        closed=np.where(closed, close_at, -1)[order],
        modified=np.minimum(modified, window.end - 1)[order],
    )
