"""The sandbox world as the APIs see it: in-memory tables the sandbox server pages through and mutates.

`ApiWorld.load(world_dir)` reads the CSV exports `world.generate_world` wrote and turns them into one
`ApiTable` per API object (HubSpot contacts, companies, deals, calls, emails, meetings, notes, tasks,
owners; Mautic contacts and activity). Columns are numpy / Arrow arrays, so a 200k-contact world loads
in seconds and a page is a `take` of 200 rows. Times are epoch milliseconds.

The world can change while it is served (`mutate`): records are updated (their modified time becomes
"now" on the world's clock), created, archived, merged, and new activity happens, so incremental pulls
are tested against a moving target. `load(..., housekeeping=True)` (the served demo world) starts with a
few contacts deleted and a few duplicates merged, as any real CRM has. Every change goes through one lock; readers work on consistent arrays.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.vocabulary import LIFECYCLE_STAGES
from smarketing_sandbox.vocab import FORM_PAGES

Clock = Callable[[], float]
ENGAGEMENT_OBJECTS = {
    "CALL": "calls",
    "EMAIL": "emails",
    "MEETING": "meetings",
    "NOTE": "notes",
    "TASK": "tasks",
}
HUBSPOT_OBJECTS = ("contacts", "companies", "deals", *ENGAGEMENT_OBJECTS.values())
# Mautic's stages (the world's names) and tags get small integer ids like the real tool's.
MAUTIC_STAGES = ("Subscriber", "Lead", "MQL", "SQL", "Customer", "Nurture", "Disqualified")


def lifecycle_property(stage: str) -> str:
    return f"hs_lifecyclestage_{stage}_date"


def iso_ms(ms: np.ndarray, *, z: bool = True) -> list[str | None]:
    """Epoch ms → `2026-11-03T14:05:00.000Z` (HubSpot) or `2026-11-03T14:05:00+00:00` (Mautic)."""
    ms = np.asarray(ms, dtype=np.int64)
    valid = ms >= 0
    text = np.datetime_as_string(np.where(valid, ms, 0).astype("datetime64[ms]"), unit="ms" if z else "s")
    suffix = "Z" if z else "+00:00"
    return [f"{t}{suffix}" if ok else None for t, ok in zip(text.tolist(), valid.tolist(), strict=True)]


def _ms(values: pd.Series) -> np.ndarray:
    parsed = pd.to_datetime(values.replace("", None), utc=True, format="ISO8601")
    out = np.full(len(values), -1, dtype=np.int64)
    present = parsed.notna().to_numpy()
    out[present] = parsed[present].dt.tz_convert(None).astype("datetime64[ms]").to_numpy().view(np.int64)
    return out


def _strings(values: pd.Series | Sequence[str | None]) -> pa.Array:
    arr = pa.array(list(values) if not isinstance(values, pd.Series) else values, pa.string())
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


@dataclass
class ApiTable:
    """One API object. Row order is arbitrary; `order()` gives rows by (modified, id)."""

    name: str
    ids: np.ndarray
    modified: np.ndarray
    created: np.ndarray
    props: dict[str, pa.Array]
    links: dict[str, np.ndarray] = field(default_factory=dict)  # association target id per row, -1 none
    archived_at: np.ndarray | None = None
    _by_time: np.ndarray | None = None
    _by_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.archived_at is None:
            self.archived_at = np.full(len(self.ids), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def order(self, by: str = "modified") -> np.ndarray:
        """Row indexes sorted by (modified, id) or by id; cached until the next change."""
        if by == "id":
            if self._by_id is None:
                self._by_id = np.argsort(self.ids, kind="stable")
            return self._by_id
        if self._by_time is None:
            self._by_time = np.lexsort((self.ids, self.modified))
        return self._by_time

    def changed(self) -> None:
        self._by_time = self._by_id = None

    def prop(self, name: str, rows: np.ndarray) -> list[str | None]:
        arr = self.props.get(name)
        if arr is None:
            return [None] * len(rows)
        return arr.take(pa.array(rows, pa.int64())).to_pylist()

    def set_props(self, rows: np.ndarray, values: dict[str, Sequence[str | None]]) -> None:
        rows = np.asarray(rows)
        order = np.argsort(rows, kind="stable")
        mask = np.zeros(len(self.ids), dtype=bool)
        mask[rows] = True
        for name, new in values.items():
            replacement = pa.array([new[i] for i in order.tolist()], pa.string())
            base = self.props.get(name, pa.nulls(len(self.ids), pa.string())).cast(pa.string())
            self.props[name] = pc.replace_with_mask(base, pa.array(mask), replacement)

    def append(
        self,
        ids: np.ndarray,
        modified: np.ndarray,
        created: np.ndarray,
        props: dict[str, Sequence[str | None]],
        links: dict[str, np.ndarray] | None = None,
    ) -> None:
        n = len(ids)
        self.ids = np.concatenate([self.ids, ids])
        self.modified = np.concatenate([self.modified, modified])
        self.created = np.concatenate([self.created, created])
        assert self.archived_at is not None
        self.archived_at = np.concatenate([self.archived_at, np.full(n, -1, dtype=np.int64)])
        for name in set(self.props) | set(props):
            base = self.props.get(name, pa.nulls(len(self.ids) - n, pa.string()))
            extra = pa.array(list(props.get(name, [None] * n)), pa.string())
            self.props[name] = pa.concat_arrays([base.cast(pa.string()), extra])
        for name in set(self.links) | set(links or {}):
            base_link = self.links.get(name, np.full(len(self.ids) - n, -1, dtype=np.int64))
            new_link = (links or {}).get(name, np.full(n, -1, dtype=np.int64))
            self.links[name] = np.concatenate([base_link, new_link])
        self.changed()

    def keep(self, mask: np.ndarray) -> int:
        """Drop every row where `mask` is False (a permanent delete, unlike archiving); rows dropped."""
        dropped = int((~mask).sum())
        if dropped:
            self.ids, self.modified, self.created = self.ids[mask], self.modified[mask], self.created[mask]
            assert self.archived_at is not None
            self.archived_at = self.archived_at[mask]
            self.props = {name: values.filter(pa.array(mask)) for name, values in self.props.items()}
            self.links = {name: values[mask] for name, values in self.links.items()}
            self.changed()
        return dropped


def with_duplicates(rows: np.ndarray, offset: int, chosen: np.ndarray, count: int) -> np.ndarray:
    """A page that repeats records: the previous page's last ones, or (first page) its own first ones."""
    if count <= 0 or len(chosen) == 0:
        return chosen
    if offset > 0:
        return np.concatenate([rows[max(0, offset - count) : offset], chosen])
    return np.concatenate([chosen, chosen[:count]])


@dataclass(frozen=True)
class MutationCounts:
    updated: int = 0
    created: int = 0
    archived: int = 0
    events: int = 0
    merged: int = 0


class ApiWorld:
    """Every API object of the sandbox world, with a lock and a clock (epoch seconds)."""

    def __init__(self, tables: dict[str, ApiTable], *, clock: Clock = time.time, seed: int = 7) -> None:
        self.tables = tables
        self.clock = clock
        self.lock = threading.RLock()
        self.rng = np.random.default_rng(seed)
        self.owner_ids = tables["hubspot.owners"].ids.copy() if "hubspot.owners" in tables else np.array([])

    def table(self, key: str) -> ApiTable:
        return self.tables[key]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- loading ----------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, world_dir: Path | str, *, clock: Clock = time.time, seed: int = 7, housekeeping: bool = False
    ) -> ApiWorld:
        """The world's exports as API objects; with `housekeeping`, HOUSEKEEPING_SHARE of the contacts
        deleted and as many merged into another contact (at load, on the world's clock)."""
        root = Path(world_dir)

        def read(name: str) -> pd.DataFrame:
            return pd.read_csv(root / name, dtype=str, keep_default_na=False)

        tables: dict[str, ApiTable] = {}
        tables["hubspot.owners"] = _owners(read("crm/owners.csv"))
        tables["hubspot.companies"] = _companies(read("crm/companies.csv"))
        tables["hubspot.contacts"] = _contacts(
            read("crm/contacts.csv"), read("crm/lifecycle_stage_history.csv")
        )
        tables["hubspot.deals"] = _deals(read("crm/deals.csv"))
        tables.update(_engagements(read("crm/engagements.csv")))
        tables["mautic.contacts"] = _mautic_contacts(read("ma/contacts.csv"))
        tables["mautic.activity"] = _mautic_activity(read("ma/activity.csv"))
        every = np.arange(len(tables["mautic.activity"]))
        tables["hubspot.email_events"] = email_events(tables, every)
        tables["hubspot.form_submissions"] = form_submissions(tables, every)
        world = cls(tables, clock=clock, seed=seed)
        if housekeeping:
            count = max(1, int(len(tables["hubspot.contacts"]) * HOUSEKEEPING_SHARE))
            world.archive("hubspot.contacts", count)
            world.merge(count)
        return world

    # -- changes ----------------------------------------------------------------------------------
    def touch(self, key: str, count: int) -> int:
        """Modify `count` random live records of one object now (a field changes, modified moves)."""
        with self.lock:
            table = self.tables[key]
            assert table.archived_at is not None
            live = np.flatnonzero(table.archived_at < 0)
            if count <= 0 or len(live) == 0:
                return 0
            rows = self.rng.choice(live, size=min(count, len(live)), replace=False)
            now = self.now_ms()
            if key.startswith("mautic."):
                now -= now % 1000  # Mautic keeps times to the second
            table.modified[rows] = now
            stamp = iso_ms(np.full(len(rows), now), z=not key.startswith("mautic."))
            if key == "hubspot.contacts":
                table.set_props(rows, {"lastmodifieddate": stamp, "hs_lastmodifieddate": stamp})
                titles = self.rng.choice(["Head of IT", "CTO", "Marketing Manager", "Analyst"], len(rows))
                table.set_props(rows, {"jobtitle": titles.tolist()})
            elif key.startswith("hubspot."):
                table.set_props(rows, {"hs_lastmodifieddate": stamp})
            elif key == "mautic.contacts":
                points = pc.cast(table.props["points"].take(pa.array(rows)), pa.int64()).to_numpy(
                    zero_copy_only=False
                )
                table.set_props(rows, {"points": [str(int(p) + 5) for p in points]})
            table.changed()
            return len(rows)

    def create_contacts(self, count: int) -> int:
        """New contacts in both tools (same e-mail), created and modified now."""
        if count <= 0:
            return 0
        with self.lock:
            now = self.now_ms()
            hs = self.tables["hubspot.contacts"]
            ids = np.arange(count, dtype=np.int64) + int(hs.ids.max()) + 1
            emails = [f"new.{int(i)}@sandbox-new.example" for i in ids]
            stamp = iso_ms(np.full(count, now))
            owners = self.rng.choice(self.owner_ids, count) if len(self.owner_ids) else np.full(count, -1)
            hs.append(
                ids,
                np.full(count, now),
                np.full(count, now),
                {
                    "email": emails,
                    "firstname": ["New"] * count,
                    "lastname": [f"Contact {int(i)}" for i in ids],
                    "jobtitle": ["Head of IT"] * count,
                    "country": ["FR"] * count,
                    "lifecyclestage": ["lead"] * count,
                    "hubspot_owner_id": [str(int(o)) for o in owners],
                    "hubspot_owner_assigneddate": stamp,
                    "createdate": stamp,
                    "lastmodifieddate": stamp,
                    "hs_lastmodifieddate": stamp,
                    "hs_email_optout": ["false"] * count,
                    lifecycle_property("lead"): stamp,
                },
            )
            ma = self.tables["mautic.contacts"]
            ma_ids = np.arange(count, dtype=np.int64) + int(ma.ids.max()) + 1
            ma.append(
                ma_ids,
                np.full(count, now - now % 1000),
                np.full(count, now - now % 1000),
                {
                    "email": emails,
                    "firstname": ["New"] * count,
                    "lastname": [f"Contact {int(i)}" for i in ids],
                    "position": ["Head of IT"] * count,
                    "country": ["France"] * count,
                    "points": ["0"] * count,
                    "dnc_email": ["0"] * count,
                },
            )
            return count

    def merge(self, count: int) -> int:
        """Merge `count` pairs of live contacts, as a rep cleaning duplicates does: the merged-away one
        is archived, and the survivor (modified now) names it in hs_merged_object_ids, with every id it
        named itself (HubSpot keeps the list transitive)."""
        with self.lock:
            table = self.tables["hubspot.contacts"]
            assert table.archived_at is not None
            live = np.flatnonzero(table.archived_at < 0)
            pairs = min(count, len(live) // 2)
            if pairs <= 0:
                return 0
            rows = self.rng.choice(live, size=2 * pairs, replace=False)
            gone, kept = rows[:pairs], rows[pairs:]
            now = self.now_ms()
            named = [
                ";".join(filter(None, (before, earlier, str(int(i)))))
                for before, earlier, i in zip(
                    table.prop("hs_merged_object_ids", kept),
                    table.prop("hs_merged_object_ids", gone),
                    table.ids[gone].tolist(),
                    strict=True,
                )
            ]
            table.archived_at[gone] = now
            table.modified[kept] = now
            stamp = iso_ms(np.full(pairs, now))
            table.set_props(
                kept, {"hs_merged_object_ids": named, "lastmodifieddate": stamp, "hs_lastmodifieddate": stamp}
            )
            table.changed()
            return pairs

    def forget_contact(self, system: str, contact_id: int | None = None, email: str | None = None) -> int:
        """Delete a contact for good, with everything about them the system holds (a GDPR delete):
        by id, or (HubSpot) by e-mail. Returns how many contacts went (0: none matched)."""
        with self.lock:
            contacts = self.tables[f"{system}.contacts"]
            if email is not None:
                spelled = pc.utf8_lower(pc.utf8_trim_whitespace(contacts.props["email"].cast(pa.string())))
                hit = pc.fill_null(pc.equal(spelled, email.strip().lower()), False).to_numpy(
                    zero_copy_only=False
                )
            else:
                hit = contacts.ids == contact_id
            if not hit.any():
                return 0
            gone_ids = contacts.ids[hit]
            gone_emails = {e.strip().lower() for e in contacts.prop("email", np.flatnonzero(hit)) if e}
            for key, table in self.tables.items():
                if key.startswith(f"{system}.") and table is not contacts:
                    self._forget_rows(table, gone_ids, gone_emails)
            return contacts.keep(~hit)

    @staticmethod
    def _forget_rows(table: ApiTable, ids: np.ndarray, emails: set[str]) -> None:
        mask = np.ones(len(table), dtype=bool)
        for link in ("contact", "contacts"):
            if link in table.links:
                mask &= ~np.isin(table.links[link], ids)
        for prop in ("email", "recipient"):
            if prop in table.props and emails:
                spelled = pc.utf8_lower(pc.utf8_trim_whitespace(table.props[prop].cast(pa.string())))
                found = pc.fill_null(pc.is_in(spelled, pa.array(sorted(emails))), False)
                mask &= ~found.to_numpy(zero_copy_only=False)
        table.keep(mask)

    def archive(self, key: str, count: int) -> int:
        """Archive (delete) `count` random live records: gone from search, listed with archived=true."""
        with self.lock:
            table = self.tables[key]
            assert table.archived_at is not None
            live = np.flatnonzero(table.archived_at < 0)
            if count <= 0 or len(live) == 0:
                return 0
            rows = self.rng.choice(live, size=min(count, len(live)), replace=False)
            now = self.now_ms()
            table.archived_at[rows] = now
            table.changed()
            return len(rows)

    def add_activity(
        self,
        count: int,
        kinds: Sequence[str] = ("page.hit", "email.read", "form.submitted"),
        contacts: np.ndarray | None = None,
    ) -> int:
        """New marketing activity (page hits, e-mail reads, form submissions) by existing Mautic
        contacts, happening now; HubSpot's e-mail events and form submissions follow it. With
        `contacts` (one Mautic contact id per activity), those contacts act, taking `kinds` in turn."""
        if count <= 0:
            return 0
        with self.lock:
            act = self.tables["mautic.activity"]
            now = self.now_ms() // 1000 * 1000
            ids = np.arange(count, dtype=np.int64) + int(act.ids.max()) + 1
            if contacts is None:
                drawn = self.rng.choice(list(kinds), count).tolist()
                contacts = self.rng.choice(self.tables["mautic.contacts"].ids, count)
            else:
                drawn = [kinds[i % len(kinds)] for i in range(count)]
            act.append(
                ids,
                np.full(count, now),
                np.full(count, now),
                {
                    "type": drawn,
                    "campaign_id": [None if k == "page.hit" else "CMP-NEW" for k in drawn],
                    "url": [_new_activity_url(k, i) for k, i in zip(drawn, ids.tolist(), strict=True)],
                    "topic": ["pricing"] * count,
                },
                links={"contact": np.asarray(contacts, dtype=np.int64)},
            )
            fresh_rows = np.arange(len(act) - count, len(act))
            for key, derive in (
                ("hubspot.email_events", email_events),
                ("hubspot.form_submissions", form_submissions),
            ):
                fresh = derive(self.tables, fresh_rows)
                self.tables[key].append(
                    fresh.ids,
                    fresh.modified,
                    fresh.created,
                    {k: v.to_pylist() for k, v in fresh.props.items()},
                )
            return count

    def mutate(
        self, *, updates: int = 0, creates: int = 0, archives: int = 0, events: int = 0, merges: int = 0
    ) -> MutationCounts:
        """A slice of life in both tools: updated and new contacts, activity, deletions."""
        with self.lock:
            updated = sum(
                self.touch(key, share)
                for key, share in (
                    ("hubspot.contacts", updates),
                    ("hubspot.companies", updates // 4),
                    ("hubspot.deals", updates // 8),
                    ("mautic.contacts", updates),
                )
            )
            return MutationCounts(
                updated=updated,
                created=self.create_contacts(creates),
                archived=self.archive("hubspot.contacts", archives),
                merged=self.merge(merges),
                events=self.add_activity(events),
            )


# Contacts deleted, and as many merged away, in a served world (`ApiWorld.load(housekeeping=True)`).
HOUSEKEEPING_SHARE = 0.005

# HubSpot's marketing e-mail event types for the marketing tool's e-mail activity.
EMAIL_EVENT_TYPES = {
    "email.sent": "SENT",
    "email.read": "OPEN",
    "email.clicked": "CLICK",
    "email.bounced": "BOUNCE",
}


def _activity_of(
    tables: dict[str, ApiTable], rows: np.ndarray, kinds: Sequence[str]
) -> tuple[np.ndarray, pd.Series]:
    """The activity rows of some kinds by contacts the CRM knows too (same e-mail), and per row the
    e-mail as the CRM spells it."""
    activity, ma, crm = tables["mautic.activity"], tables["mautic.contacts"], tables["hubspot.contacts"]
    rows = rows[pd.Series(activity.prop("type", rows), dtype=object).isin(list(kinds)).to_numpy()]
    ma_email = pd.Series(ma.props["email"].to_pylist(), index=ma.ids).str.strip().str.lower()
    crm_email = pd.Series(crm.props["email"].to_pylist()).str.strip().str.lower()
    crm_spelled = dict(zip(crm_email.tolist(), crm.props["email"].to_pylist(), strict=True))
    emails = ma_email.reindex(activity.links["contact"][rows]).map(crm_spelled).reset_index(drop=True)
    known = emails.notna().to_numpy()
    return rows[known], emails[known].reset_index(drop=True)


def email_events(tables: dict[str, ApiTable], rows: np.ndarray) -> ApiTable:
    """The e-mail activity of contacts the CRM knows too (same e-mail), as HubSpot e-mail events.

    Only for accounts that send their marketing e-mail from HubSpot: with the marketing tool also
    pulled, the same opens would be counted twice, so the object is off by default.
    """
    activity = tables["mautic.activity"]
    rows, recipients = _activity_of(tables, rows, list(EMAIL_EVENT_TYPES))
    kinds = pd.Series(activity.prop("type", rows), dtype=object)
    campaigns = pd.Series(activity.prop("campaign_id", rows), dtype=object).str.extract(r"(\d+)")[0]
    return ApiTable(
        "email_events",
        ids=activity.ids[rows].copy(),
        modified=activity.modified[rows].copy(),
        created=activity.modified[rows].copy(),
        props={
            "type": pa.array(kinds.map(EMAIL_EVENT_TYPES).tolist(), pa.string()),
            "recipient": pa.array(recipients.tolist(), pa.string()),
            "emailCampaignId": pa.array(
                [str(int(c)) if isinstance(c, str) else None for c in campaigns], pa.string()
            ),
        },
    )


# The company's website: HubSpot gives a submission's page as a full URL.
SITE_URL = "https://www.sandbox-company.example"
FORM_SUBMITTED = "form.submitted"


def form_id(path: str) -> str:
    """A form's GUID: one HubSpot form per form page of the website, stable across worlds."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, SITE_URL + path))


def _new_activity_url(kind: str, activity_id: int) -> str | None:
    if kind == "page.hit":
        return "/pricing"
    if kind == FORM_SUBMITTED:
        # Spread over the forms without a draw, so the world's random stream stays as it was.
        return FORM_PAGES[activity_id % len(FORM_PAGES)].url
    return None


def form_submissions(tables: dict[str, ApiTable], rows: np.ndarray) -> ApiTable:
    """The marketing tool's form submissions by contacts the CRM knows, as HubSpot keeps them: per
    form, the submitter's e-mail and the page's full URL. (HubSpot makes every submitter a contact;
    the world's contacts that only the marketing tool has never used a HubSpot form.)"""
    activity, ma = tables["mautic.activity"], tables["mautic.contacts"]
    rows, emails = _activity_of(tables, rows, [FORM_SUBMITTED])
    paths = pd.Series(activity.prop("url", rows), dtype=object).fillna(FORM_PAGES[0].url)
    first = pd.Series(ma.props["firstname"].to_pylist(), index=ma.ids, dtype=object)
    # HubSpot keeps milliseconds where the marketing tool keeps seconds (taken off, never in the future).
    submitted = activity.modified[rows] - activity.ids[rows] % 1000
    return ApiTable(
        "form_submissions",
        ids=activity.ids[rows].copy(),
        modified=submitted,
        created=submitted.copy(),
        props={
            "form_id": pa.array(paths.map(form_id).tolist(), pa.string()),
            "page_url": pa.array((SITE_URL + paths).tolist(), pa.string()),
            "email": _strings(emails),
            "firstname": _strings(first.reindex(activity.links["contact"][rows])),
        },
    )


# -- CSV → tables ---------------------------------------------------------------------------------
def _owners(df: pd.DataFrame) -> ApiTable:
    updated = _ms(df["updated_at"])
    table = ApiTable(
        "owners",
        ids=df["owner_id"].astype(np.int64).to_numpy(),
        modified=updated,
        created=updated,
        props={
            "email": _strings(df["email"]),
            "firstName": _strings(df["first_name"]),
            "lastName": _strings(df["last_name"]),
            "team": _strings(df["team"]),
        },
    )
    # Inactive owners are what HubSpot calls archived (deactivated users).
    inactive = (df["active"].str.lower() != "true").to_numpy()
    assert table.archived_at is not None
    table.archived_at[inactive] = updated[inactive]
    return table


def _companies(df: pd.DataFrame) -> ApiTable:
    modified = _ms(df["hs_lastmodifieddate"])
    props = {name: _strings(df[name]) for name in df.columns if name != "company_id"}
    props["createdate"] = pa.array(iso_ms(modified), pa.string())
    props["hs_lastmodifieddate"] = pa.array(iso_ms(modified), pa.string())
    return ApiTable(
        "companies",
        ids=df["company_id"].astype(np.int64).to_numpy(),
        modified=modified,
        created=modified,
        props=props,
    )


def _contacts(df: pd.DataFrame, stages: pd.DataFrame) -> ApiTable:
    modified = _ms(df["lastmodifieddate"])
    created = _ms(df["createdate"])
    ids = df["contact_id"].astype(np.int64).to_numpy()
    props = {name: _strings(df[name]) for name in df.columns if name not in {"contact_id"}}
    props["createdate"] = pa.array(iso_ms(created), pa.string())
    props["lastmodifieddate"] = pa.array(iso_ms(modified), pa.string())
    props["hs_lastmodifieddate"] = props["lastmodifieddate"]
    # HubSpot keeps one "became a <stage> date" property per lifecycle stage (the first entry).
    entered = stages.assign(at=_ms(stages["entered_at"]), cid=stages["contact_id"].astype(np.int64))
    first = entered.groupby(["cid", "lifecyclestage"], sort=False)["at"].min().reset_index()
    position = pd.Series(np.arange(len(ids)), index=ids)
    for stage in LIFECYCLE_STAGES:
        rows = first[first["lifecyclestage"] == stage]
        values = np.full(len(ids), -1, dtype=np.int64)
        values[position.loc[rows["cid"].to_numpy()].to_numpy()] = rows["at"].to_numpy()
        props[lifecycle_property(stage)] = pa.array(iso_ms(values), pa.string())
    return ApiTable("contacts", ids=ids, modified=modified, created=created, props=props)


def _deals(df: pd.DataFrame) -> ApiTable:
    modified = _ms(df["hs_lastmodifieddate"])
    created = _ms(df["createdate"])
    props = {name: _strings(df[name]) for name in ("amount", "dealstage")}
    props["createdate"] = pa.array(iso_ms(created), pa.string())
    props["closedate"] = pa.array(iso_ms(_ms(df["closedate"])), pa.string())
    props["hs_lastmodifieddate"] = pa.array(iso_ms(modified), pa.string())
    props["pipeline"] = pa.array(["default"] * len(df), pa.string())
    props["dealname"] = pa.array([f"Deal {d}" for d in df["deal_id"]], pa.string())
    return ApiTable(
        "deals",
        ids=df["deal_id"].astype(np.int64).to_numpy(),
        modified=modified,
        created=created,
        props=props,
        links={
            "contacts": df["contact_id"].replace("", "-1").astype(np.int64).to_numpy(),
            "companies": df["company_id"].replace("", "-1").astype(np.int64).to_numpy(),
        },
    )


def _engagements(df: pd.DataFrame) -> dict[str, ApiTable]:
    out: dict[str, ApiTable] = {}
    for kind, name in ENGAGEMENT_OBJECTS.items():
        part = df[df["type"] == kind]
        at = _ms(part["timestamp"])
        stamp = pa.array(iso_ms(at), pa.string())
        out[f"hubspot.{name}"] = ApiTable(
            name,
            ids=part["engagement_id"].astype(np.int64).to_numpy(),
            modified=at.copy(),
            created=at.copy(),
            props={
                "hs_timestamp": stamp,
                "hs_createdate": stamp,
                "hs_lastmodifieddate": stamp,
                "hubspot_owner_id": _strings(part["owner_id"]),
            },
            links={"contacts": part["contact_id"].astype(np.int64).to_numpy()},
        )
    return out


def _mautic_contacts(df: pd.DataFrame) -> ApiTable:
    props = {
        name: _strings(df[name])
        for name in ("email", "firstname", "lastname", "company", "position", "country", "points")
    }
    props.update({name: _strings(df[name]) for name in ("stage", "tags", "dnc_email")})
    props["last_active"] = pa.array(iso_ms(_ms(df["last_active"]), z=False), pa.string())
    return ApiTable(
        "contacts",
        ids=df["id"].astype(np.int64).to_numpy(),
        modified=_ms(df["date_modified"]),
        created=_ms(df["date_added"]),
        props=props,
    )


def _mautic_activity(df: pd.DataFrame) -> ApiTable:
    at = _ms(df["timestamp"])
    return ApiTable(
        "activity",
        ids=df["id"].astype(np.int64).to_numpy(),
        modified=at,
        created=at.copy(),
        props={name: _strings(df[name]) for name in ("type", "campaign_id", "url", "topic")},
        links={"contact": df["lead_id"].astype(np.int64).to_numpy()},
    )
