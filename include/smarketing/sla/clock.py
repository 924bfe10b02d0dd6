"""The follow-up clock of every handed-over MQL, computed for whole arrays of leads at once.

Two clocks start at the MQL moment (the handover):

* **first touch** — the tier's deadline (`due_at`, business or calendar time on the owner's clock). The
  first qualifying touch at or after the MQL moment stops it: `met` on time, `breached_late` after.
  Until then it is `pending`, `at_risk` once the agreed share of the allowed time is used, and
  `breached_open` past due. A disqualification, a rejection or an unsubscribe before the deadline and
  before any touch stops it as `excluded` (with the reason); one after a missed deadline leaves the
  status `breached_open` but records the reason, which resolves the breach.
* **accept/reject** — sales enters an SQL stage (accepted) or the recycle / a disqualified stage
  (rejected) within the agreed business time. `accept_status` mirrors the first-touch statuses.

The inputs are already read "as of" the evaluation moment, but the clock masks anything recorded after
it again, so a replay never sees the future whatever fed it. Times are int64 nanoseconds internally, with
"never happened" as int64 max so that `min` and `<=` need no special cases.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from smarketing.sla.calendar import NS_PER_MINUTE, BusinessCalendar, CalendarSet, from_ns, to_ns
from smarketing.sla.settings import SlaSettings

NEVER = np.iinfo(np.int64).max
_NAT = np.iinfo(np.int64).min

INPUT_COLUMNS = (
    "lead_id",
    "mql_at",
    "mql_source",
    "owner_id",
    "owner_assigned_at",
    "owner_timezone",
    "persona_id",
    "score",
    "grade",
    "first_touch_at",
    "accepted_at",
    "accept_stage",
    "rejected_at",
    "reject_stage",
    "unsubscribed_at",
)
OUTPUT_COLUMNS = (
    "lead_id",
    "mql_at",
    "mql_source",
    "owner_id",
    "assigned_at",
    "tier",
    "allowed_minutes",
    "due_at",
    "first_touch_at",
    "status",
    "excluded_reason",
    "excluded_at",
    "used_share",
    "business_minutes_to_touch",
    "routing_minutes",
    "rep_minutes",
    "accept_due_at",
    "decision",
    "decided_at",
    "decision_stage",
    "accept_status",
    "escalate_at",
    "accept_escalate_at",
    "evaluated_at",
)
FIRST_TOUCH_STATUSES = ("pending", "at_risk", "met", "breached_late", "breached_open", "excluded")


def calendars_for(settings: SlaSettings) -> CalendarSet:
    return CalendarSet(BusinessCalendar(settings.calendar))


def _events(values: pd.Series, as_of: int, not_before: np.ndarray) -> np.ndarray:
    """Instants as ns; missing, before the MQL moment or after the evaluation moment become NEVER."""
    t = to_ns(values)
    return np.where((t == _NAT) | (t > as_of) | (t < not_before), NEVER, t)


def _tier_index(frame: pd.DataFrame, settings: SlaSettings) -> np.ndarray:
    """Index of the first tier whose conditions hold (the last tier has none and catches the rest)."""
    score = pd.to_numeric(frame["score"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    grade = frame["grade"].astype("string")
    persona = frame["persona_id"].astype("string")
    conditions = []
    for tier in settings.tiers:
        ok = np.ones(len(frame), dtype=bool)
        if tier.min_score is not None:
            ok &= np.nan_to_num(score, nan=-np.inf) >= tier.min_score
        if tier.min_grade is not None:
            # Grades are consecutive letters from A, so alphabetical order is rank order.
            ok &= (grade <= tier.min_grade).fillna(False).to_numpy(dtype=bool)
        if tier.personas is not None:
            ok &= persona.isin(tier.personas).fillna(False).to_numpy(dtype=bool)
        conditions.append(ok)
    return np.select(conditions, np.arange(len(settings.tiers)), default=len(settings.tiers) - 1)


def _add(
    calendars: CalendarSet, zones: object, t: np.ndarray, minutes: np.ndarray, business: np.ndarray
) -> np.ndarray:
    out = t + minutes * NS_PER_MINUTE
    if business.any():
        out[business] = calendars.add_ns(
            t[business], minutes[business] * NS_PER_MINUTE, None if zones is None else zones[business]
        )
    return out


def _minutes(calendars: CalendarSet, zones: object, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Business minutes from a to b (NaN where b is NEVER or a is missing)."""
    ok = (b != NEVER) & (a != NEVER) & (a != _NAT)
    out = np.full(len(a), np.nan)
    if ok.any():
        diff = calendars.clock_diff_ns(a[ok], b[ok], None if zones is None else zones[ok])
        out[ok] = diff / NS_PER_MINUTE
    return out


def _text(values: np.ndarray) -> pd.Series:
    # Object dtype as it is: inferring pandas' string dtype for 200k values costs more than the arithmetic.
    return pd.Series(values, dtype=object)


def _ts(ns: np.ndarray) -> pd.Series:
    return pd.Series(from_ns(np.where(ns == NEVER, _NAT, ns)))


def evaluate_clocks(
    frame: pd.DataFrame,
    settings: SlaSettings,
    as_of: pd.Timestamp,
    calendars: CalendarSet | None = None,
) -> pd.DataFrame:
    """One row per MQL in `frame` (columns INPUT_COLUMNS) with its clocks read at `as_of` (OUTPUT_COLUMNS)."""
    calendars = calendars or calendars_for(settings)
    n = len(frame)
    now = int(pd.Timestamp(as_of).tz_convert("UTC").as_unit("ns").value)
    mql = to_ns(frame["mql_at"])
    zones = (
        frame["owner_timezone"].astype("object").where(frame["owner_timezone"].notna(), None).to_numpy()
        if settings.owner_time_zones
        else None
    )

    # -- ownership at the evaluation moment --------------------------------------------------------
    owner = frame["owner_id"].astype("object").where(frame["owner_id"].notna(), None).to_numpy()
    assigned = to_ns(frame["owner_assigned_at"])
    assigned = np.where(assigned == _NAT, mql, np.maximum(assigned, mql))
    not_yet = assigned > now  # the current owner got the lead after the moment being replayed
    has_owner = frame["owner_id"].notna().to_numpy() & ~not_yet
    owner = np.where(has_owner, owner, None)
    assigned = np.where(has_owner, assigned, NEVER)

    # -- the tier and its deadline -----------------------------------------------------------------
    tier_ix = _tier_index(frame, settings)
    tiers = settings.tiers
    allowed = np.array([t.within_minutes for t in tiers], dtype=np.int64)[tier_ix]
    business = np.array([t.business_clock for t in tiers], dtype=bool)[tier_ix]
    due = _add(calendars, zones, mql, allowed, business)

    # -- what happened, as of the evaluation moment --------------------------------------------------
    touch = _events(frame["first_touch_at"], now, mql)
    accepted = _events(frame["accepted_at"], now, mql)
    rejected = _events(frame["rejected_at"], now, mql)
    unsubscribed = _events(frame["unsubscribed_at"], now, mql)
    reject_stage = frame["reject_stage"].astype("object").to_numpy()
    disqualified = np.isin(reject_stage, np.array(settings.disqualified_stages, dtype=object))

    # First-touch exclusion: the earliest of rejection and unsubscribe, when it comes before any touch.
    stop = np.minimum(rejected, unsubscribed)
    reason = np.where(
        unsubscribed < rejected, "unsubscribed", np.where(disqualified, "disqualified", "rejected")
    )
    stopped = (stop != NEVER) & (stop < touch)
    excluded = stopped & (stop <= due)
    touched = (touch != NEVER) & ~excluded
    status = np.select(
        [excluded, touched & (touch <= due), touched, now > due],
        ["excluded", "met", "breached_late", "breached_open"],
        default="pending",
    ).astype(object)
    clock_end = np.minimum(np.minimum(touch, stop), now)
    elapsed = np.where(
        business, _minutes(calendars, zones, mql, clock_end), (clock_end - mql) / NS_PER_MINUTE
    )
    used_share = elapsed / allowed
    status[(status == "pending") & (used_share >= settings.at_risk_share)] = "at_risk"

    # -- delays: routing (MQL -> owner) and rep (owner -> touch), business minutes ------------------
    to_touch = np.where(touched, _minutes(calendars, zones, mql, touch), np.nan)
    routing_end = np.minimum(assigned, np.where(touched, touch, NEVER))
    routing = _minutes(calendars, zones, mql, routing_end)
    rep = np.where(touched & has_owner, to_touch - np.nan_to_num(routing), np.nan)

    # -- accept / reject ------------------------------------------------------------------------------
    decided = np.minimum(accepted, rejected)
    was_accepted = (decided != NEVER) & (accepted <= rejected)
    was_rejected = (decided != NEVER) & ~was_accepted
    decision = np.select([was_accepted, was_rejected], ["accepted", "rejected"], default="").astype(object)
    decision[decided == NEVER] = None
    accept_stage = frame["accept_stage"].astype("object").to_numpy()
    decision_stage = np.where(was_accepted, accept_stage, np.where(was_rejected, reject_stage, None))
    escalate_minutes = settings.escalate_after_minutes
    everyone = np.ones(n, dtype=bool)
    if settings.accept_within_minutes is not None:
        accept_due = _add(calendars, zones, mql, np.full(n, settings.accept_within_minutes), everyone)
        undecided_out = (decided == NEVER) & (unsubscribed <= accept_due)
        accept_status = np.select(
            [decided <= accept_due, decided != NEVER, undecided_out, now > accept_due],
            ["met", "breached_late", "excluded", "breached_open"],
            default="pending",
        ).astype(object)
        accept_escalate = (
            _add(calendars, zones, accept_due, np.full(n, escalate_minutes), everyone)
            if escalate_minutes is not None
            else np.full(n, NEVER)
        )
    else:
        accept_due = np.full(n, NEVER)
        accept_status = np.full(n, None, dtype=object)
        accept_escalate = np.full(n, NEVER)
    escalate = (
        _add(calendars, zones, due, np.full(n, escalate_minutes), everyone)
        if escalate_minutes is not None
        else np.full(n, NEVER)
    )

    return pd.DataFrame(
        {
            "lead_id": frame["lead_id"].to_numpy(dtype=np.int64),
            "mql_at": _ts(mql),
            "mql_source": _text(frame["mql_source"].to_numpy(dtype=object)),
            "owner_id": _text(owner),
            "assigned_at": _ts(assigned),
            "tier": _text(np.array([t.id for t in tiers], dtype=object)[tier_ix]),
            "allowed_minutes": allowed.astype(float),
            "due_at": _ts(due),
            "first_touch_at": _ts(np.where(touched, touch, NEVER)),
            "status": _text(status),
            "excluded_reason": _text(np.where(stopped, reason, None)),
            "excluded_at": _ts(np.where(stopped, stop, NEVER)),
            # Stored once the touch fixes it: a running clock's row then only changes when its status does.
            "used_share": np.where(touched, used_share, np.nan),
            "business_minutes_to_touch": to_touch,
            "routing_minutes": np.where(has_owner | touched, routing, np.nan),
            "rep_minutes": rep,
            "accept_due_at": _ts(accept_due),
            "decision": _text(decision),
            "decided_at": _ts(decided),
            "decision_stage": _text(decision_stage),
            "accept_status": _text(accept_status),
            "escalate_at": _ts(escalate),
            "accept_escalate_at": _ts(accept_escalate),
            "evaluated_at": _ts(np.full(n, now)),
        },
        columns=list(OUTPUT_COLUMNS),
    )
