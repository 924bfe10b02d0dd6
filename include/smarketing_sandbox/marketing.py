"""What marketing sees: campaign e-mails, web and content activity, unsubscribes and MQL hand-overs.

A contact's engagement follows its hidden intent: activity is more frequent the higher the intent,
clusters around the moment intent peaks, and shifts from browsing to buying signals (pricing pages,
demo requests) as the contact gets hot. Events are simulated for a batch of contacts at a time, so the
world never holds all events in memory.

Marketing hands a contact over to sales (MQL) the first time its job-title and company-size points plus
its accumulated engagement points reach a threshold: a deliberately simpler rule than the truth, so a
better scoring model has room to beat it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from smarketing_sandbox import vocab
from smarketing_sandbox.population import DAY, Window
from smarketing_sandbox.vocab import TOPIC_INDEX, Page

EVENT_TYPES: tuple[str, ...] = (
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
)
SENT, READ, CLICKED, BOUNCED, HIT, FORM, DOWNLOAD, WEBINAR_REG, WEBINAR_ATT, UNSUB, DEMO = range(
    len(EVENT_TYPES)
)
# Points per event type in marketing's own scoring (also the marketing tool's contact points).
EVENT_POINTS = np.array([0, 1, 3, 0, 1, 10, 5, 5, 10, -20, 40])
PRICING_HIT_POINTS = 5
CAREERS_HIT_POINTS = 0
MQL_THRESHOLD = 70
# Web activity types drawn for a contact's browsing, with weights base + slope * hotness (demo: slope * hot^2).
WEB_TYPES = (HIT, HIT, FORM, DOWNLOAD, WEBINAR_REG, DEMO)  # the second HIT is a pricing page view
WEB_BASE = np.array([1.0, 0.04, 0.03, 0.03, 0.01, 0.001])
WEB_SLOPE = np.array([0.0, 0.50, 0.12, 0.08, 0.04, 0.06])

TAG_NAMES: tuple[str, ...] = (
    "newsletter",
    "pricing-interest",
    "webinar",
    "content",
    "demo-request",
    "customer",
)
TAG_NEWSLETTER, TAG_PRICING, TAG_WEBINAR, TAG_CONTENT, TAG_DEMO, TAG_CUSTOMER = (1 << i for i in range(6))


@dataclass(frozen=True)
class Catalogue:
    """Campaigns and pages of the world; events refer to them by code."""

    campaign_ids: tuple[str, ...]
    campaign_topic: np.ndarray  # topic code per campaign
    email_send: np.ndarray  # send instant per e-mail campaign (codes 0..n_emails-1)
    email_reach: np.ndarray  # share of the database each e-mail campaign is sent to
    email_landing: np.ndarray  # url code clicks land on
    webinar_first: int  # campaign code of the first webinar
    webinar_at: np.ndarray
    webinar_url: np.ndarray
    ads_first: int  # campaign code of the first monthly ads campaign
    ads_count: int
    urls: tuple[str, ...]
    url_topic: np.ndarray
    generic: np.ndarray  # url codes of GENERIC_PAGES
    careers: np.ndarray  # positions of the careers pages within `generic`
    pricing: np.ndarray
    forms: np.ndarray
    assets: np.ndarray
    demo: int
    newsletter_form: int


def _weekly(start: int, end: int, weekday: int, at_second: int) -> np.ndarray:
    """Instants at `at_second` UTC on every `weekday` (0 = Monday) in [start, end)."""
    first_day = start // DAY
    # 1970-01-01 was a Thursday (weekday 3).
    offset = (weekday - (first_day + 3)) % 7
    days = np.arange(first_day + offset, end // DAY + 1, 7)
    t = days * DAY + at_second
    return t[(t >= start) & (t < end)]


def build_catalogue(window: Window) -> Catalogue:
    urls: list[str] = []
    topics: list[int] = []

    def add(pages: tuple[Page, ...]) -> np.ndarray:
        codes = np.arange(len(urls), len(urls) + len(pages))
        urls.extend(p.url for p in pages)
        topics.extend(TOPIC_INDEX[p.topic] for p in pages)
        return codes

    generic = add(vocab.GENERIC_PAGES)
    pricing = add(vocab.PRICING_PAGES)
    forms = add(vocab.FORM_PAGES)
    assets = add(vocab.ASSET_PAGES)
    demo = int(add((vocab.DEMO_PAGE,))[0])
    landing_topics = tuple(vocab.LANDING_PAGES)
    landing = add(tuple(Page(vocab.LANDING_PAGES[t], t) for t in landing_topics))

    # A weekly newsletter on Tuesdays, a topical campaign on Thursdays.
    newsletters = _weekly(window.start, window.end, 1, 8 * 3600)
    topical = _weekly(window.start, window.end, 3, 9 * 3600)
    send = np.concatenate([newsletters, topical])
    topic_name = ["product"] * len(newsletters) + [
        vocab.EMAIL_TOPIC_CYCLE[i % len(vocab.EMAIL_TOPIC_CYCLE)] for i in range(len(topical))
    ]
    reach = np.r_[np.full(len(newsletters), 0.6), np.full(len(topical), 0.35)]
    order = np.argsort(send, kind="stable")
    send, reach = send[order], reach[order]
    topic_name = [topic_name[i] for i in order]
    email_landing = np.array([landing[landing_topics.index(t)] for t in topic_name], dtype=np.int64)
    campaign_ids = [f"CMP-{i + 1:04d}" for i in range(len(send))]
    campaign_topic = [TOPIC_INDEX[t] for t in topic_name]

    # Webinars every other Thursday afternoon, scheduled beyond the window so late sign-ups have one to join.
    webinar_at = _weekly(window.start + 7 * DAY, window.end + 35 * DAY, 3, 15 * 3600)[::2]
    webinar_first = len(campaign_ids)
    webinar_topic = [
        vocab.WEBINAR_TOPIC_CYCLE[i % len(vocab.WEBINAR_TOPIC_CYCLE)] for i in range(len(webinar_at))
    ]
    webinar_pages = []
    for at, topic in zip(webinar_at, webinar_topic, strict=True):
        day = datetime.fromtimestamp(int(at), tz=UTC).strftime("%Y-%m-%d")
        campaign_ids.append(f"WBN-{day}")
        campaign_topic.append(TOPIC_INDEX[topic])
        webinar_pages.append(Page(f"/webinars/{topic}-{day}", topic))
    webinar_url = add(tuple(webinar_pages))

    # One paid-ads campaign per 30 days of the window.
    ads_first = len(campaign_ids)
    ads_count = max(1, -(-window.seconds // (30 * DAY)))
    for i in range(ads_count):
        campaign_ids.append(f"ADS-{i + 1:03d}")
        campaign_topic.append(TOPIC_INDEX["product"])

    return Catalogue(
        campaign_ids=tuple(campaign_ids),
        campaign_topic=np.array(campaign_topic, dtype=np.int64),
        email_send=send,
        email_reach=reach,
        email_landing=email_landing,
        webinar_first=webinar_first,
        webinar_at=webinar_at,
        webinar_url=webinar_url,
        ads_first=ads_first,
        ads_count=ads_count,
        urls=tuple(urls),
        url_topic=np.array(topics, dtype=np.int64),
        generic=generic,
        careers=np.array(vocab.CAREERS_PAGES),
        pricing=pricing,
        forms=forms,
        assets=assets,
        demo=demo,
        newsletter_form=int(forms[vocab.NEWSLETTER_FORM]),
    )


@dataclass
class Audience:
    """The marketing-tool contacts of one batch (arrays aligned, in marketing-tool id order)."""

    ma_id: np.ndarray
    created: np.ndarray  # date added to the marketing tool
    intent: np.ndarray
    peak: np.ndarray
    width: np.ndarray
    non_buyer: np.ndarray  # job seekers and students browse careers pages
    consent: np.ndarray
    wants_out: np.ndarray
    can_hand_over: np.ndarray  # also in the CRM, so sales can take it
    crm_created: np.ndarray
    profile_points: np.ndarray  # marketing's points for job title and company size


@dataclass
class Events:
    lead: np.ndarray  # position in the Audience
    kind: np.ndarray  # index into EVENT_TYPES
    at: np.ndarray
    campaign: np.ndarray  # campaign code, -1 for none
    url: np.ndarray  # url code, -1 for none

    @classmethod
    def concat(cls, parts: list[Events]) -> Events:
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("lead", "kind", "at", "campaign", "url")
            )
        )

    def take(self, index: np.ndarray) -> Events:
        return Events(
            self.lead[index], self.kind[index], self.at[index], self.campaign[index], self.url[index]
        )

    def __len__(self) -> int:
        return len(self.at)


@dataclass
class Outcome:
    """Per audience contact: what the batch's events mean for it."""

    points: np.ndarray
    last_active: np.ndarray  # -1 when it never did anything itself
    unsubscribed_at: np.ndarray  # -1 when it did not
    tags: np.ndarray  # TAG_* bits
    mql_at: np.ndarray  # -1 when not handed over
    signals: np.ndarray  # (contacts, len(SIGNALS)): buying signals before the hand-over (0 without one)


def hotness(a: Audience, lead: np.ndarray, t: np.ndarray) -> np.ndarray:
    """How strongly a contact wants to buy at instant t, 0..1: its intent, highest around its peak."""
    z = (t - a.peak[lead]) / a.width[lead]
    return a.intent[lead] * (0.3 + 0.7 * np.exp(-0.5 * z * z))


def _events(
    lead: np.ndarray, kind: int | np.ndarray, at: np.ndarray, campaign: np.ndarray, url: np.ndarray
) -> Events:
    n = len(at)
    return Events(
        lead.astype(np.int64),
        np.broadcast_to(np.asarray(kind, dtype=np.int64), (n,)).copy(),
        at.astype(np.int64),
        np.broadcast_to(np.asarray(campaign, dtype=np.int64), (n,)).copy(),
        np.broadcast_to(np.asarray(url, dtype=np.int64), (n,)).copy(),
    )


def _last_per_group(groups: np.ndarray) -> np.ndarray:
    """Positions of the last element of each run of equal, sorted group keys."""
    return np.flatnonzero(np.r_[groups[1:] != groups[:-1], True]) if len(groups) else groups


def _sends(rng: np.random.Generator, a: Audience, cat: Catalogue) -> tuple[np.ndarray, np.ndarray]:
    """(contact, campaign) of every e-mail sent: each campaign reaches a share of the consenting database."""
    send_t = cat.email_send
    receives = (
        (send_t[None, :] >= a.created[:, None])
        & a.consent[:, None]
        & (rng.random((len(a.ma_id), len(send_t))) < cat.email_reach[None, :])
    )
    return np.nonzero(receives)  # sorted by contact, then send time


def _unsubscribes(
    rng: np.random.Generator, a: Audience, lead: np.ndarray, at: np.ndarray, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """Contacts who will opt out do so a few hours after one of the e-mails they got.

    Returns the opt-out instant per contact (-1: none) and, per send, the send that triggered it (bool).
    """
    unsubscribed_at = np.full(len(a.ma_id), -1, dtype=np.int64)
    trigger = np.zeros(len(at), dtype=bool)
    candidates = np.flatnonzero(a.wants_out[lead])
    if len(candidates):
        pick = candidates[np.lexsort((rng.random(len(candidates)), lead[candidates]))]
        pick = pick[_last_per_group(lead[pick])]
        when = at[pick] + np.maximum(rng.lognormal(np.log(3 * 3600), 1.0, len(pick)), 60).astype(np.int64)
        ok = when < window.end
        unsubscribed_at[lead[pick[ok]]] = when[ok]
        trigger[pick[ok]] = True
    return unsubscribed_at, trigger


def _email_events(
    rng: np.random.Generator, a: Audience, cat: Catalogue, window: Window
) -> tuple[Events, np.ndarray]:
    """Campaign sends, then opens, clicks (with their landing page view) and bounces; and unsubscribes."""
    lead, campaign = _sends(rng, a, cat)
    at = cat.email_send[campaign]
    unsubscribed_at, trigger = _unsubscribes(rng, a, lead, at, window)
    # Nothing is sent after an opt-out.
    stop = unsubscribed_at[lead]
    keep = (stop < 0) | (at <= stop)
    lead, campaign, at, trigger = lead[keep], campaign[keep], at[keep], trigger[keep]

    m = len(at)
    h = hotness(a, lead, at)
    u = rng.random(m)
    bounced = u < 0.008
    opened = ~bounced & (u < 0.008 + 0.12 + 0.5 * h)
    open_at = at + np.maximum(rng.lognormal(np.log(2 * 3600), 1.3, m), 30).astype(np.int64)
    opened &= open_at < window.end
    clicked = opened & (rng.random(m) < 0.08 + 0.4 * h)
    click_at = open_at + 5 + rng.exponential(300, m).astype(np.int64)
    clicked &= click_at < window.end
    landed = clicked & (rng.random(m) < 0.9)
    land_at = click_at + rng.integers(2, 40, m)
    landed &= land_at < window.end
    landing = cat.email_landing[campaign]

    parts = [
        _events(lead, SENT, at, campaign, -1),
        _events(lead[bounced], BOUNCED, at[bounced] + 1, campaign[bounced], -1),
        _events(lead[opened], READ, open_at[opened], campaign[opened], -1),
        _events(lead[clicked], CLICKED, click_at[clicked], campaign[clicked], -1),
        _events(lead[landed], HIT, land_at[landed], campaign[landed], landing[landed]),
        _events(lead[trigger], UNSUB, unsubscribed_at[lead[trigger]], campaign[trigger], -1),
    ]
    return Events.concat(parts), unsubscribed_at


def _web_times(rng: np.random.Generator, a: Audience, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(contact, instant) of each web visit: keener contacts visit more, and mostly around their peak."""
    n = len(a.ma_id)
    active_days = (window.end - a.created) / DAY
    rate = (0.02 + 0.35 * a.intent) * rng.gamma(0.8, 1 / 0.8, n)
    lead = np.repeat(np.arange(n), rng.poisson(rate * active_days))
    m = len(lead)
    c, end = a.created[lead], window.end
    near_peak = rng.random(m) < 0.25 + 0.6 * a.intent[lead]
    at = np.where(near_peak, a.peak[lead] + rng.normal(0, 1, m) * a.width[lead], -1).astype(np.int64)
    outside = (at < c) | (at >= end)
    at = np.where(outside, c + np.floor(rng.random(m) * (end - c)).astype(np.int64), at)
    return lead, at


def _web_pages(
    rng: np.random.Generator, a: Audience, cat: Catalogue, lead: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What each visit was (kind, url, webinar session): hotter contacts look at buying pages."""
    m = len(lead)
    h = hotness(a, lead, at)
    weights = WEB_BASE[None, :] + WEB_SLOPE[None, :] * np.c_[h, h, h, h, h, h * h]
    cum = np.cumsum(weights, axis=1)
    pick = (cum < rng.random(m)[:, None] * cum[:, -1:]).sum(axis=1)
    kind = np.array(WEB_TYPES)[pick]

    careers_share = np.where(a.non_buyer[lead], 0.35, 0.03)
    generic = cat.generic[rng.integers(0, len(cat.generic), m)]
    careers = cat.generic[cat.careers[rng.integers(0, len(cat.careers), m)]]
    url = np.where(rng.random(m) < careers_share, careers, generic)
    url = np.where(pick == 1, cat.pricing[rng.integers(0, len(cat.pricing), m)], url)
    url = np.where(kind == FORM, cat.forms[rng.integers(0, len(cat.forms), m)], url)
    url = np.where(kind == DOWNLOAD, cat.assets[rng.integers(0, len(cat.assets), m)], url)
    url = np.where(kind == DEMO, cat.demo, url)
    # A registration is for the next webinar (webinars are scheduled beyond the window: there always is one).
    webinar = np.searchsorted(cat.webinar_at, at, side="right")
    url = np.where(kind == WEBINAR_REG, cat.webinar_url[np.minimum(webinar, len(cat.webinar_url) - 1)], url)
    return kind, url, webinar


def _web_events(rng: np.random.Generator, a: Audience, cat: Catalogue, window: Window) -> Events:
    """Browsing, forms, downloads, webinars and demo requests; paid ads bring some of the visits."""
    lead, at = _web_times(rng, a, window)
    kind, url, webinar = _web_pages(rng, a, cat, lead, at)
    ads = cat.ads_first + np.minimum((at - window.start) // (30 * DAY), cat.ads_count - 1)
    campaign = np.where(rng.random(len(at)) < 0.1, ads, -1)
    campaign = np.where(kind == WEBINAR_REG, cat.webinar_first + webinar, campaign)
    # Attendance is on the webinar's day, when that day is inside the window.
    reg = np.flatnonzero(kind == WEBINAR_REG)
    attend_at = cat.webinar_at[webinar[reg]] + rng.integers(0, 600, len(reg))
    attended = (rng.random(len(reg)) < 0.3 + 0.4 * a.intent[lead[reg]]) & (attend_at < window.end)
    att = reg[attended]
    return Events.concat(
        [
            _events(lead, kind, at, campaign, url),
            _events(lead[att], WEBINAR_ATT, attend_at[attended], campaign[att], url[att]),
        ]
    )


def _points(ev: Events, cat: Catalogue) -> np.ndarray:
    points = EVENT_POINTS[ev.kind]
    hit = ev.kind == HIT
    points = np.where(hit & np.isin(ev.url, cat.pricing), PRICING_HIT_POINTS, points)
    return np.where(hit & np.isin(ev.url, cat.generic[cat.careers]), CAREERS_HIT_POINTS, points)


def _hand_over(
    rng: np.random.Generator, a: Audience, ev: Events, points: np.ndarray, window: Window
) -> np.ndarray:
    """First instant each contact's profile points plus accumulated engagement reach the MQL threshold."""
    n = len(a.ma_id)
    total = np.cumsum(points)
    starts = np.flatnonzero(np.r_[True, ev.lead[1:] != ev.lead[:-1]]) if len(ev) else np.zeros(0, np.int64)
    before = np.repeat(total[starts] - points[starts], np.diff(np.r_[starts, len(ev)]))
    score = a.profile_points[ev.lead] + total - before
    crossing = np.flatnonzero((score >= MQL_THRESHOLD) & a.can_hand_over[ev.lead])
    first_lead, first = np.unique(ev.lead[crossing], return_index=True)
    # The marketing tool's workflow syncs the hand-over a few minutes later, never before the CRM record exists.
    at = ev.at[crossing[first]] + rng.integers(60, 900, len(first))
    at = np.maximum(at, a.crm_created[first_lead] + 60)
    mql_at = np.full(n, -1, dtype=np.int64)
    ok = at < window.end
    mql_at[first_lead[ok]] = at[ok]
    return mql_at


# Buying signals counted before the hand-over: in this world they make a deal more likely to be won
# (`sales.win_log_odds`), so a calibration on outcomes has real engagement to find.
SIGNALS: tuple[str, ...] = ("webinar_attended", "demo_requested", "pricing_page_view")


def _signals(ev: Events, cat: Catalogue, mql_at: np.ndarray) -> np.ndarray:
    """Per contact, how many of each of `SIGNALS` it did before it was handed over to sales."""
    n = len(mql_at)
    before = (mql_at[ev.lead] >= 0) & (ev.at < mql_at[ev.lead])
    kinds = (
        ev.kind == WEBINAR_ATT,
        ev.kind == DEMO,
        (ev.kind == HIT) & np.isin(ev.url, cat.pricing),
    )
    return np.column_stack([np.bincount(ev.lead[before & k], minlength=n) for k in kinds]).astype(np.int64)


def _tags(a: Audience, ev: Events, cat: Catalogue) -> np.ndarray:
    n = len(a.ma_id)
    tags = np.zeros(n, dtype=np.int64)
    flags = (
        (TAG_NEWSLETTER, (ev.kind == FORM) & (ev.url == cat.newsletter_form)),
        (TAG_PRICING, (ev.kind == HIT) & np.isin(ev.url, cat.pricing)),
        (TAG_WEBINAR, ev.kind == WEBINAR_REG),
        (TAG_CONTENT, ev.kind == DOWNLOAD),
        (TAG_DEMO, ev.kind == DEMO),
    )
    for bit, mask in flags:
        tags |= np.where(np.bincount(ev.lead[mask], minlength=n) > 0, bit, 0)
    return tags


def simulate(rng: np.random.Generator, a: Audience, cat: Catalogue, window: Window) -> tuple[Events, Outcome]:
    """All marketing events of one batch of contacts, sorted by contact then time, and what they add up to."""
    email, unsubscribed_at = _email_events(rng, a, cat, window)
    ev = Events.concat([email, _web_events(rng, a, cat, window)])
    ev = ev.take(np.lexsort((ev.kind, ev.at, ev.lead)))
    points = _points(ev, cat)
    own = ~np.isin(ev.kind, [SENT, BOUNCED])
    last_active = np.full(len(a.ma_id), -1, dtype=np.int64)
    own_lead, own_at = ev.lead[own], ev.at[own]
    last = _last_per_group(own_lead)
    last_active[own_lead[last]] = own_at[last]
    mql_at = _hand_over(rng, a, ev, points, window)
    outcome = Outcome(
        points=np.bincount(ev.lead, weights=points, minlength=len(a.ma_id)).astype(np.int64),
        last_active=last_active,
        unsubscribed_at=unsubscribed_at,
        tags=_tags(a, ev, cat),
        mql_at=mql_at,
        signals=_signals(ev, cat, mql_at),
    )
    return ev, outcome


def topic_of(ev: Events, cat: Catalogue) -> np.ndarray:
    """Content topic of each event: the page's topic, else the campaign's, else none (-1)."""
    from_campaign = np.where(ev.campaign >= 0, cat.campaign_topic[np.maximum(ev.campaign, 0)], -1)
    return np.where(ev.url >= 0, cat.url_topic[np.maximum(ev.url, 0)], from_campaign)
