"""Who is in the sandbox world: sales owners, companies, contacts, and each contact's hidden truth.

All arrays of a dataclass are aligned; strings are Arrow arrays (built with Arrow compute kernels, so
a million contacts cost a few hundred milliseconds and little memory). Times are UTC epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing_sandbox import vocab
from smarketing_sandbox.vocab import COUNTRIES, INDUSTRIES, PERSONAS

DAY = 86_400
PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
TIMEZONES: tuple[str, ...] = (PARIS, NEW_YORK)

SYSTEM_BOTH, SYSTEM_CRM_ONLY, SYSTEM_MA_ONLY = 0, 1, 2
# Share of contacts known to both systems, to the CRM only (added by sales), to the marketing tool only.
SYSTEM_SHARES = (0.70, 0.15, 0.15)
CONTACTS_PER_COMPANY = 6
CRM_CONTACT_ID_BASE = 10_000_000
COMPANY_ID_BASE = 4_100_000_000


@dataclass(frozen=True)
class Window:
    start: int
    end: int

    @property
    def seconds(self) -> int:
        return self.end - self.start


@dataclass
class Owners:
    owner_id: np.ndarray
    first_name: pa.Array
    last_name: pa.Array
    email: pa.Array
    team: np.ndarray  # index into team_names
    manager: np.ndarray  # owner index, -1 for none
    timezone: np.ndarray  # index into TIMEZONES
    active: np.ndarray
    updated_at: np.ndarray
    late_share: np.ndarray  # how often the rep touches a new MQL late (0 for managers)
    untouched_share: np.ndarray  # how often the rep never touches a new MQL
    team_names: tuple[str, ...]
    team_first_rep: np.ndarray  # per team: offset into rep_order of its first active rep
    team_rep_count: np.ndarray
    rep_order: np.ndarray  # active reps, grouped by team


@dataclass
class Companies:
    company_id: np.ndarray
    name: pa.Array
    domain: pa.Array
    industry: np.ndarray  # index into INDUSTRIES (the truth)
    industry_label: pa.Array  # as exported (canonical name or a messy variant)
    employees: np.ndarray
    annual_revenue: np.ndarray
    has_revenue: np.ndarray
    country: np.ndarray  # index into COUNTRIES
    updated_at: np.ndarray
    owner: np.ndarray  # territory rep (owner index)


@dataclass
class Contacts:
    """Contacts in order of first appearance; index i is the same person in every array."""

    created: np.ndarray
    system: np.ndarray  # SYSTEM_*
    company: np.ndarray
    persona: np.ndarray
    job_title: pa.Array
    country: np.ndarray
    first_name: pa.Array
    last_name: pa.Array
    email: pa.Array  # canonical (lower case), unique
    crm_email: pa.Array  # as the CRM exports it
    ma_email: pa.Array  # as the marketing tool exports it
    free_mail: np.ndarray
    consent: np.ndarray  # marketing e-mail consent given at sign-up
    fit: np.ndarray
    intent: np.ndarray
    intent_peak: np.ndarray
    intent_width: np.ndarray  # seconds
    wants_out: np.ndarray  # will unsubscribe after some marketing e-mail
    crm_created: np.ndarray  # -1 when not in the CRM
    ma_created: np.ndarray  # -1 when not in the marketing tool
    crm_id: np.ndarray  # -1 when not in the CRM
    ma_id: np.ndarray  # -1 when not in the marketing tool
    owned_early: np.ndarray  # owner set in the CRM before any hand-over (territory assignment)

    @property
    def in_crm(self) -> np.ndarray:
        return self.system != SYSTEM_MA_ONLY

    @property
    def in_ma(self) -> np.ndarray:
        return self.system != SYSTEM_CRM_ONLY


# -- string helpers -----------------------------------------------------------------------------
def take(labels: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(list(labels), type=pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))


def join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def where(mask: np.ndarray, yes: pa.Array | str, no: pa.Array | str) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), yes, no)


def cumcount(values: pa.Array) -> np.ndarray:
    """0 for the first occurrence of each value, 1 for the second, ... (in array order)."""
    codes = np.asarray(pc.dictionary_encode(values).indices, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    group_start = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    starts = np.repeat(group_start, np.diff(np.r_[group_start, len(codes)]))
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = np.arange(len(codes)) - starts
    return rank


def choose(rng: np.random.Generator, weights: np.ndarray | list[float], size: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=size, p=p / p.sum())


def uniform_times(
    rng: np.random.Generator, low: np.ndarray | int, high: np.ndarray | int, size: int
) -> np.ndarray:
    """Whole seconds in [low, high)."""
    low_a = np.asarray(low, dtype=np.int64)
    span = np.maximum(np.asarray(high, dtype=np.int64) - low_a, 1)
    return low_a + np.floor(rng.random(size) * span).astype(np.int64)


def _name_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    firsts = [vocab.NAME_POOLS[k][0] for k in vocab.NAME_POOL_KEYS]
    lasts = [vocab.NAME_POOLS[k][1] for k in vocab.NAME_POOL_KEYS]
    width = min(min(len(f) for f in firsts), min(len(last) for last in lasts))
    first = np.array([f[:width] for f in firsts], dtype=object)
    last = np.array([v[:width] for v in lasts], dtype=object)
    slug = np.vectorize(vocab.ascii_slug, otypes=[object])
    return first, last, slug(first), slug(last)


FIRST_NAMES, LAST_NAMES, FIRST_SLUGS, LAST_SLUGS = _name_tables()
POOL_OF_COUNTRY = np.array([vocab.NAME_POOL_KEYS.index(c.names) for c in COUNTRIES])


def _names(rng: np.random.Generator, pool: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    n = len(pool)
    fi = rng.integers(0, FIRST_NAMES.shape[1], n)
    li = rng.integers(0, LAST_NAMES.shape[1], n)
    return (
        pa.array(FIRST_NAMES[pool, fi], type=pa.string()),
        pa.array(LAST_NAMES[pool, li], type=pa.string()),
        pa.array(FIRST_SLUGS[pool, fi], type=pa.string()),
        pa.array(LAST_SLUGS[pool, li], type=pa.string()),
    )


# -- owners -------------------------------------------------------------------------------------
def generate_owners(rng: np.random.Generator, n_contacts: int, window: Window) -> Owners:
    """3-5 sales teams, each with a manager; North America works from New York, everyone else from Paris."""
    n_teams = 3 + int(rng.integers(0, 3))
    n_reps = int(np.clip(round(n_contacts / 1500), 2 * n_teams, 80))
    na_reps = max(1, round(0.1 * n_reps))
    others = [t for t in range(n_teams) if t != vocab.TEAM_NORTH_AMERICA]
    rep_team = np.array(
        [vocab.TEAM_NORTH_AMERICA] * na_reps + [others[i % len(others)] for i in range(n_reps - na_reps)]
    )
    rep_team = np.sort(rep_team, kind="stable")
    # Managers first, then reps grouped by team, then one rep who has left (kept, as CRMs keep them).
    team = np.concatenate([np.arange(n_teams), rep_team, [1]])
    n = len(team)
    is_rep = np.r_[np.zeros(n_teams, bool), np.ones(n_reps, bool), [True]]
    active = np.r_[np.ones(n - 1, bool), [False]]
    manager = np.where(is_rep, team, -1)
    timezone = np.where(team == vocab.TEAM_NORTH_AMERICA, TIMEZONES.index(NEW_YORK), TIMEZONES.index(PARIS))
    pool_names = np.array(["fr", "fr", "en", "de", "es"])[np.minimum(team, 4)]
    pool_names = np.where((team <= 1) & (rng.random(n) < 0.3), "en", pool_names)
    pool = np.array([vocab.NAME_POOL_KEYS.index(str(p)) for p in pool_names])
    first, last, first_slug, last_slug = _names(rng, pool)
    local = join(first_slug, ".", last_slug)
    rank = cumcount(local)
    local = where(rank > 0, join(local, pa.array((rank + 1).astype(str))), local)
    email = join(local, "@" + vocab.VENDOR_DOMAIN)
    owner_id = 61_000_000 + np.sort(rng.choice(38_000_000, size=n, replace=False))
    late = np.where(is_rep, rng.uniform(0.06, 0.30, n), 0.0)
    untouched = np.where(is_rep, rng.uniform(0.02, 0.12, n), 0.0)
    rep_order = np.flatnonzero(is_rep & active)
    rep_order = rep_order[np.argsort(team[rep_order], kind="stable")]
    counts = np.bincount(team[rep_order], minlength=n_teams)
    return Owners(
        owner_id=owner_id,
        first_name=first,
        last_name=last,
        email=email,
        team=team,
        manager=manager,
        timezone=timezone,
        active=active,
        updated_at=uniform_times(rng, window.start, window.end, n),
        late_share=late,
        untouched_share=untouched,
        team_names=vocab.TEAM_NAMES[:n_teams],
        team_first_rep=np.r_[0, np.cumsum(counts)[:-1]],
        team_rep_count=counts,
        rep_order=rep_order,
    )


def route(rng: np.random.Generator, owners: Owners, country: np.ndarray, employees: np.ndarray) -> np.ndarray:
    """Territory rep of each company: region teams first, else by company size."""
    n_teams = len(owners.team_names)
    team = np.where(employees >= vocab.ENTERPRISE_MIN_EMPLOYEES, 0, 1)
    code = np.array([c.code for c in COUNTRIES])[country]
    team = np.where(code == "US", vocab.TEAM_NORTH_AMERICA, team)
    if n_teams > vocab.TEAM_DACH:
        team = np.where(np.isin(code, ["DE", "CH"]), vocab.TEAM_DACH, team)
    if n_teams > vocab.TEAM_SOUTHERN_EUROPE:
        team = np.where(np.isin(code, ["ES", "IT"]), vocab.TEAM_SOUTHERN_EUROPE, team)
    slot = np.floor(rng.random(len(team)) * owners.team_rep_count[team]).astype(np.int64)
    return owners.rep_order[owners.team_first_rep[team] + slot]


# -- companies ----------------------------------------------------------------------------------
def _round_employees(raw: np.ndarray) -> np.ndarray:
    """Head counts as people type them: exact when small, two significant digits when large."""
    e = np.maximum(np.round(raw), 1)
    step = 10.0 ** np.maximum(np.floor(np.log10(e)) - 1, 0)
    return np.where(e > 100, np.round(e / step) * step, e).astype(np.int64)


def generate_companies(
    rng: np.random.Generator, n_contacts: int, owners: Owners, window: Window
) -> Companies:
    n = max(1, round(n_contacts / CONTACTS_PER_COMPANY))
    country = choose(rng, [c.weight for c in COUNTRIES], n)
    industry = choose(rng, [i.weight for i in INDUSTRIES], n)
    labels = [[i.name, *i.variants] for i in INDUSTRIES]
    variant = np.where(rng.random(n) < vocab.INDUSTRY_VARIANT_SHARE, rng.integers(1, 4, n), 0)
    flat_labels = [label for row in labels for label in row]
    industry_label = take(flat_labels, industry * 4 + variant)
    # Log-normal head counts with a heavy tail: a few very large groups among many SMEs.
    employees = _round_employees(np.minimum(rng.lognormal(np.log(120), 1.5, n), 400_000))
    revenue = np.round(employees * rng.lognormal(np.log(150_000), 0.5, n), -3).astype(np.int64)
    has_revenue = rng.random(n) >= 0.08
    head = rng.integers(0, len(vocab.COMPANY_NAME_HEADS), n)
    tail = rng.integers(0, len(vocab.COMPANY_NAME_TAILS), n)
    suffix = industry * 4 + rng.integers(0, 4, n)
    suffixes = [s for i in INDUSTRIES for s in i.name_suffixes]
    base = join(take(vocab.COMPANY_NAME_HEADS, head), take(vocab.COMPANY_NAME_TAILS, tail))
    word = take(suffixes, suffix)
    legal_forms = [(ci, form) for ci, c in enumerate(COUNTRIES) for form in c.legal_forms]
    form_count = np.array([len(c.legal_forms) for c in COUNTRIES])
    form_first = np.r_[0, np.cumsum(form_count)[:-1]]
    form = form_first[country] + np.floor(rng.random(n) * form_count[country]).astype(np.int64)
    name = join(base, " ", word)
    name = where(rng.random(n) < 0.7, join(name, " ", take([f for _, f in legal_forms], form)), name)
    slug = pc.utf8_lower(join(base, word))
    tld = take([c.tld for c in COUNTRIES], country)
    rank = cumcount(join(slug, ".", tld))
    domain = join(where(rank > 0, join(slug, pa.array((rank + 1).astype(str))), slug), ".", tld)
    return Companies(
        company_id=COMPANY_ID_BASE + 1 + np.arange(n, dtype=np.int64),
        name=name,
        domain=domain,
        industry=industry,
        industry_label=industry_label,
        employees=employees,
        annual_revenue=revenue,
        has_revenue=has_revenue,
        country=country,
        updated_at=uniform_times(rng, window.start, window.end, n),
        owner=route(rng, owners, country, employees),
    )


def size_fit(employees: np.ndarray) -> np.ndarray:
    """The ideal customer is a company of 50 to 1,000 people."""
    return np.select(
        [employees < 10, employees < 50, employees <= 1000, employees <= 5000], [0.15, 0.5, 1.0, 0.8], 0.6
    )


# -- contacts -----------------------------------------------------------------------------------
def _job_titles(rng: np.random.Generator, persona: np.ndarray) -> pa.Array:
    """A title from the persona's list, with the case and spacing slips of hand-typed CRM fields."""
    n = len(persona)
    counts = np.array([len(p.titles) for p in PERSONAS])
    first = np.r_[0, np.cumsum(counts)[:-1]]
    flat = [t for p in PERSONAS for t in p.titles]
    title = take(flat, first[persona] + np.floor(rng.random(n) * counts[persona]).astype(np.int64))
    slip = np.where(rng.random(n) < 0.12, rng.integers(1, 7, n), 0)
    title = where(slip == 1, pc.utf8_lower(title), title)
    title = where(slip == 2, pc.utf8_upper(title), title)
    title = where(slip == 3, pc.utf8_title(title), title)
    title = where(slip == 4, join(" ", title), title)
    title = where(slip == 5, join(title, " "), title)
    title = where(slip == 6, pc.replace_substring(title, " ", "  ", max_replacements=1), title)
    return where(rng.random(n) < 0.03, "", title)


def _free_mail_domains(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Index into FREE_MAIL_DOMAINS: global providers everywhere, local ones where people use them."""
    out = np.zeros(len(country), dtype=np.int64)
    domains = vocab.FREE_MAIL_DOMAINS
    for ci, c in enumerate(COUNTRIES):
        rows = np.flatnonzero(country == ci)
        weights = np.zeros(len(domains))
        for d, w in vocab.GLOBAL_FREE_MAIL_WEIGHTS.items():
            weights[domains.index(d)] = w
        local = vocab.LOCAL_FREE_MAIL[c.code]
        if local:
            weights *= (1 - vocab.LOCAL_FREE_MAIL_SHARE) / weights.sum()
            for d in local:
                weights[domains.index(d)] += vocab.LOCAL_FREE_MAIL_SHARE / len(local)
        out[rows] = choose(rng, weights, len(rows))
    return out


def _local_parts(
    rng: np.random.Generator, first: pa.Array, last: pa.Array, company_pattern: np.ndarray, free: np.ndarray
) -> pa.Array:
    n = len(first)
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    first_dot_last = join(first, ".", last)
    by_company = [
        first_dot_last,
        join(initial, last),
        first,
        join(first, pc.utf8_slice_codeunits(last, 0, 1)),
        join(first, "_", last),
    ]
    two_digits = pa.array(np.char.zfill(rng.integers(0, 100, n).astype(str), 2))
    birth_year = pa.array(rng.integers(1965, 2006, n).astype(str))
    by_free = [
        first_dot_last,
        join(first, last),
        join(first_dot_last, two_digits),
        join(initial, last, birth_year),
    ]
    free_pattern = choose(rng, [0.3, 0.2, 0.3, 0.2], n)
    local = by_company[0]
    for p, candidate in enumerate(by_company[1:], start=1):
        local = where(~free & (company_pattern == p), candidate, local)
    for p, candidate in enumerate(by_free):
        local = where(free & (free_pattern == p), candidate, local)
    return local


def _unique_emails(local: pa.Array, domain: pa.Array) -> pa.Array:
    """Number the later homonyms at the same domain (jean.martin2@...) until every address is unique."""
    email = join(local, "@", domain)
    for _ in range(10):
        rank = cumcount(email)
        if not rank.any():
            return email
        local = where(rank > 0, join(local, pa.array((rank + 1).astype(str))), local)
        email = join(local, "@", domain)
    raise RuntimeError("could not make contact e-mail addresses unique")


def _exported_email(rng: np.random.Generator, email: pa.Array, share: float) -> pa.Array:
    """The same address as a system stores it when typed by hand: capitalised, upper-case domain, padded."""
    n = len(email)
    slip = np.where(rng.random(n) < share, rng.integers(1, 5, n), 0)
    parts = pc.split_pattern(email, "@", max_splits=1)
    local = pc.list_element(parts, 0)
    domain = pc.list_element(parts, 1)
    out = where(slip == 1, pc.utf8_title(email), email)
    out = where(slip == 2, join(local, "@", pc.utf8_upper(domain)), out)
    out = where(slip == 3, join("  ", pc.utf8_title(email)), out)
    return where(slip == 4, join(email, " "), out)


def _ids_in_order(times: np.ndarray, present: np.ndarray, base: int) -> np.ndarray:
    """Sequential ids in order of creation, as both tools allocate them; -1 where absent."""
    rows = np.flatnonzero(present)
    order = rows[np.argsort(times[rows], kind="stable")]
    ids = np.full(len(times), -1, dtype=np.int64)
    ids[order] = base + 1 + np.arange(len(order), dtype=np.int64)
    return ids


def _sign_up_times(rng: np.random.Generator, n: int, window: Window) -> np.ndarray:
    """Sorted first-appearance instants: any day of the window, mostly during the day."""
    days = window.seconds // DAY
    time_of_day = np.clip(rng.normal(13 * 3600, 3.5 * 3600, n), 0, DAY - 1).astype(np.int64)
    created = np.sort(window.start + rng.integers(0, max(days, 1), n) * DAY + time_of_day)
    return np.minimum(created, window.end - 1)


def _addresses(
    rng: np.random.Generator,
    persona: np.ndarray,
    country: np.ndarray,
    company: np.ndarray,
    companies: Companies,
) -> tuple[pa.Array, pa.Array, np.ndarray, pa.Array]:
    """(first name, last name, free-mail?, unique e-mail): company addresses follow the company's pattern."""
    first, last, first_slug, last_slug = _names(rng, POOL_OF_COUNTRY[country])
    free = rng.random(len(persona)) < np.array([p.free_mail for p in PERSONAS])[persona]
    company_pattern = choose(rng, [0.5, 0.2, 0.1, 0.1, 0.1], len(companies.company_id))[company]
    local = _local_parts(rng, first_slug, last_slug, company_pattern, free)
    free_domain = take(vocab.FREE_MAIL_DOMAINS, _free_mail_domains(rng, country))
    domain = where(free, free_domain, companies.domain.take(pa.array(company)))
    return first, last, free, _unique_emails(local, domain)


def _hidden_truth(
    rng: np.random.Generator,
    persona: np.ndarray,
    company: np.ndarray,
    companies: Companies,
    created: np.ndarray,
    window: Window,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fit, intent, intent peak, peak width): fit from persona, size and industry; intent mostly low."""
    n = len(persona)
    fit = (
        0.45 * np.array([p.fit for p in PERSONAS])[persona]
        + 0.35 * size_fit(companies.employees[company])
        + 0.20 * np.array([i.fit for i in INDUSTRIES])[companies.industry[company]]
        + rng.normal(0, 0.04, n)
    )
    fit = np.clip(fit, 0, 1)
    intent = np.clip(rng.beta(1.3, 3.5, n) + 0.15 * (fit - 0.5), 0, 1)
    peak = uniform_times(rng, created, window.end, n)
    width = rng.uniform(5, 25, n) * DAY
    return fit, intent, peak, width


def _system_dates(
    rng: np.random.Generator, system: np.ndarray, created: np.ndarray, window: Window
) -> tuple[np.ndarray, np.ndarray]:
    """(CRM created, marketing tool created), -1 where absent: a contact in both is synced minutes later."""
    n = len(system)
    sync = rng.integers(30, 900, n)
    crm_first = rng.random(n) < 0.2
    later = np.minimum(created + sync, window.end - 1)
    crm_created = np.where(crm_first | (system == SYSTEM_CRM_ONLY), created, later)
    ma_created = np.where(~crm_first | (system == SYSTEM_MA_ONLY), created, later)
    return (
        np.where(system == SYSTEM_MA_ONLY, -1, crm_created),
        np.where(system == SYSTEM_CRM_ONLY, -1, ma_created),
    )


def generate_contacts(rng: np.random.Generator, n: int, companies: Companies, window: Window) -> Contacts:
    created = _sign_up_times(rng, n, window)
    system = choose(rng, list(SYSTEM_SHARES), n)
    weight = np.minimum(companies.employees, 20_000).astype(np.float64) ** 0.6
    company = choose(rng, weight, n)
    persona = choose(rng, [p.weight for p in PERSONAS], n)
    # Most people work in their company's country.
    at_home = rng.random(n) < 0.92
    country = np.where(at_home, companies.country[company], choose(rng, [c.weight for c in COUNTRIES], n))
    first, last, free, email = _addresses(rng, persona, country, company, companies)
    fit, intent, peak, width = _hidden_truth(rng, persona, company, companies, created, window)
    crm_created, ma_created = _system_dates(rng, system, created, window)
    return Contacts(
        created=created,
        system=system,
        company=company,
        persona=persona,
        job_title=_job_titles(rng, persona),
        country=country,
        first_name=first,
        last_name=last,
        email=email,
        crm_email=_exported_email(rng, email, 0.04),
        ma_email=_exported_email(rng, email, 0.15),
        free_mail=free,
        consent=rng.random(n) >= 0.09,
        fit=fit,
        intent=intent,
        intent_peak=peak,
        intent_width=width,
        wants_out=rng.random(n) < 0.015 + 0.05 * (1 - intent),
        crm_created=crm_created,
        ma_created=ma_created,
        crm_id=_ids_in_order(crm_created, system != SYSTEM_MA_ONLY, CRM_CONTACT_ID_BASE),
        ma_id=_ids_in_order(ma_created, system != SYSTEM_CRM_ONLY, 0),
        owned_early=rng.random(n) < 0.35,
    )
