"""HubSpot form submissions → `form_submission` marketing events.

Submissions come from `/form-integrations/v1/submissions/forms/{id}` for every form of
`/marketing/v3/forms`, live and archived, all types. They have no modified time; their id is derived
from what identifies a submission, `<form id>:<submittedAt ms>:<first 16 hex of sha256(trimmed
lower-case e-mail)>` (the answer's `conversionId` is kept under attributes), stable across pulls (two
submissions of one form by one address in the same millisecond are one); they are de-duplicated on it
alone. Under attributes: `form_id`, `form_name`, `form_type`, `page_url`, `conversion_id`, `email_sha256`
and `contact`; never the e-mail itself nor the other submitted values (HubSpot copies those onto the
contact, pulled with contacts). The contact is the one the batch read by e-mail finds, else the latest
contact landed in raw with that address (a deleted contact, which the batch read no longer finds). A
submission whose address matches no contact at all still lands, with a null `lead_source_id` and
`contact = "unmatched"`: the quality gate quarantines it (kept, with the reason) and core counts it as
an orphan. A submission without an e-mail names nobody the pipeline could match: it is counted
(`without_email`), not landed. The API lists submissions newest first with no time filter, so each
form is read from its newest submission back to `watermark - overlap` (`paging.pull_newest_first`),
landing those up to `now - lag` (a submitter's contact appears moments after the submission); its
watermark (`ops.sync_state` object `form_submissions.<form id>`) moves only once the pull got there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.sources.http import ApiClient
from smarketing.sources.hubspot.reads import contacts_for, email_digests, list_pages
from smarketing.sources.hubspot.settings import HubSpotSettings
from smarketing.sources.paging import PullStats, RecentFetcher, RecentPage, Window, pull_newest_first
from smarketing.sources.records import canonical_table, strings, timestamps_ms

log = logging.getLogger(__name__)

FORMS_LIMIT = 50
SUBMISSIONS_LIMIT = 50  # the submissions endpoint's maximum


def submitted_email(submission: Mapping[str, Any]) -> str:
    """The `email` value of a submission, trimmed and lower-cased ('' without one)."""
    values = submission.get("values") or []
    return next((str(v.get("value") or "") for v in values if v.get("name") == "email"), "").strip().lower()


def form_submissions_table(
    form: Mapping[str, Any], submissions: Sequence[Mapping[str, Any]], contacts: Mapping[str, str]
) -> pa.Table:
    """`form_submission` events of one form; `contacts` maps lower-cased e-mails to contact ids."""
    n = len(submissions)
    emails = [submitted_email(s) for s in submissions]
    digests = strings(email_digests(emails))
    lead = strings([contacts.get(e) for e in emails])
    submitted = timestamps_ms(strings([s.get("submittedAt") for s in submissions]))

    def constant(value: Any) -> pa.Array:
        return strings([value] * n)

    return canonical_table(
        source_id=pc.binary_join_element_wise(
            constant(form.get("id")),
            submitted.cast(pa.string()),
            pc.coalesce(pc.utf8_slice_codeunits(digests, 0, 16), pa.scalar("-")),
            ":",
        ),
        updated_ms=None,  # a submission never changes: de-duplicated on its id alone
        fields={
            "lead_source_id": ("text", lead),
            "event_type": ("text", constant("form_submission")),
            "occurred_at": ("timestamp", submitted),
        },
        attributes={
            "form_id": constant(form.get("id")),
            "form_name": constant(form.get("name")),
            "form_type": constant(form.get("formType")),
            "page_url": strings([s.get("pageUrl") for s in submissions]),
            "conversion_id": strings([s.get("conversionId") for s in submissions]),
            "email_sha256": digests,
            "contact": pc.if_else(pc.is_valid(lead), "matched", "unmatched"),
        },
    )


def list_forms(client: ApiClient) -> list[dict[str, Any]]:
    """Every form, live and archived (an archived form's submissions remain), of every type."""
    found: list[dict[str, Any]] = []
    for archived in ("false", "true"):
        params = {"limit": FORMS_LIMIT, "archived": archived, "formTypes": "all"}
        for _, results in list_pages(client, "/marketing/v3/forms", params, "form_submissions"):
            found += [f for f in results if f.get("id")]
    return found


def _submissions_fetcher(client: ApiClient, form_id: str, limit: int) -> RecentFetcher:
    """`fetch(after)` of one form's submissions, newest first."""
    path = f"/form-integrations/v1/submissions/forms/{form_id}"

    def fetch(after: str | None) -> RecentPage:
        data = client.get_json(path, params={"limit": limit, **({"after": after} if after else {})})
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise ValueError("the answer has no results list")
        times = timestamps_ms(strings([r.get("submittedAt") for r in results]))
        if times.null_count:
            raise ValueError(f"{times.null_count} submission(s) without a readable submittedAt")
        return RecentPage(
            records=results,
            times=times.to_numpy(zero_copy_only=False).astype(np.int64),
            next_position=((data.get("paging") or {}).get("next") or {}).get("after"),
            origin=f"GET {path} after {after}",
        )

    return fetch


class _SubmissionConverter:
    """Submissions of one pull → raw tables; counts those without an e-mail (never landed)."""

    def __init__(self, conn: psycopg.Connection, client: ApiClient, source_system: str) -> None:
        self.conn, self.client, self.source_system = conn, client, source_system
        self.without_email = 0

    def __call__(self, form: Mapping[str, Any], records: list[dict[str, Any]]) -> dict[str, pa.Table]:
        # Without an e-mail a submission names nobody the pipeline could ever match: it is counted, not
        # landed (in raw it would only stop the quality gate, which requires a lead).
        kept = [r for r in records if submitted_email(r)]
        self.without_email += len(records) - len(kept)
        emails = [submitted_email(r) for r in kept]
        contacts = contacts_for(self.conn, self.client, self.source_system, emails)
        return {"marketing_events": form_submissions_table(form, kept, contacts)} if kept else {}


def pull_form_submissions(
    conn: psycopg.Connection,
    client: ApiClient,
    settings: HubSpotSettings,
    window: Window,
    *,
    run_id: str | None,
) -> dict[str, Any]:
    """Every form's submissions of the window, form by form; returns counts and the forms read."""
    forms = list_forms(client)
    totals = PullStats()
    limit = min(settings.page_limit, SUBMISSIONS_LIMIT)
    convert = _SubmissionConverter(conn, client, settings.source_system)
    for form in forms:
        stats = pull_newest_first(
            conn,
            _submissions_fetcher(client, str(form["id"]), limit),
            lambda records, form=form: convert(form, records),
            source_system=settings.source_system,
            key=f"form_submissions.{form['id']}",
            window=window,
            run_id=run_id,
        )
        totals.pages += stats.pages
        totals.received += stats.received
        totals.landed += stats.landed
        # Every form is complete up to the lowest of their watermarks.
        if stats.watermark_ms is not None:
            totals.watermark_ms = min(totals.watermark_ms or stats.watermark_ms, stats.watermark_ms)
    if convert.without_email:
        log.info(
            "%s/form_submissions: %d submission(s) without an e-mail left out",
            settings.source_system,
            convert.without_email,
        )
    return {**totals.as_dict(), "forms": len(forms), "without_email": convert.without_email}
