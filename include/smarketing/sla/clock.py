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

from dataclasses import dataclass

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


@dataclass(frozen=True)
class _Clock:
    """What every step of one evaluation shares: the calendars, the MQL moments, the moment read."""

    calendars: CalendarSet
    zones: object  # per-row owner time zone, or None (the organisation's calendar for everyone)
    mql: np.ndarray  # int64 ns
    now: int  # int64 ns

    @property
    def n(self) -> int:
        return len(self.mql)

    def add(self, t: np.ndarray, minutes: np.ndarray, business: np.ndarray | None = None) -> np.ndarray:
        return _add(
            self.calendars, self.zones, t, minutes, np.ones(self.n, bool) if business is None else business
        )

    def minutes(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _minutes(self.calendars, self.zones, a, b)


def evaluate_clocks(
    frame: pd.DataFrame,
    settings: SlaSettings,
    as_of: pd.Timestamp,
    calendars: CalendarSet | None = None,
) -> pd.DataFrame:
    """One row per MQL in `frame` (columns INPUT_COLUMNS) with its clocks read at `as_of` (OUTPUT_COLUMNS).

    `calendars`: the organisation's and owners' business calendars (built from `settings` when None).
    """
    zones = (
        frame["owner_timezone"].astype("object").where(frame["owner_timezone"].notna(), None).to_numpy()
        if settings.owner_time_zones
        else None
    )
    clock = _Clock(
        calendars or calendars_for(settings),
        zones,
        to_ns(frame["mql_at"]),
        int(pd.Timestamp(as_of).tz_convert("UTC").as_unit("ns").value),
    )
    owner, assigned, has_owner = _ownership(frame, clock)
    events = {c: _events(frame[c], clock.now, clock.mql) for c in _EVENT_INPUTS}
    touch = _first_touch(frame, settings, clock, events, assigned, has_owner)
    accept = _acceptance(frame, settings, clock, events, touch["due"])
    return _output(frame, settings, clock, owner, assigned, has_owner, touch, accept)


_EVENT_INPUTS = ("first_touch_at", "accepted_at", "rejected_at", "unsubscribed_at")


def _ownership(frame: pd.DataFrame, clock: _Clock) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The owner at the moment read, since when (NEVER: none), and whether there is one."""
    owner = frame["owner_id"].astype("object").where(frame["owner_id"].notna(), None).to_numpy()
    assigned = to_ns(frame["owner_assigned_at"])
    assigned = np.where(assigned == _NAT, clock.mql, np.maximum(assigned, clock.mql))
    not_yet = assigned > clock.now  # the current owner got the lead after the moment being replayed
    has_owner = frame["owner_id"].notna().to_numpy() & ~not_yet
    return np.where(has_owner, owner, None), np.where(has_owner, assigned, NEVER), has_owner


def _first_touch(
    frame: pd.DataFrame,
    settings: SlaSettings,
    clock: _Clock,
    events: dict[str, np.ndarray],
    assigned: np.ndarray,
    has_owner: np.ndarray,
) -> dict[str, np.ndarray]:
    """The tier's deadline, the first touch or what excluded it, the status, and the delays."""
    mql, now = clock.mql, clock.now
    tier_ix = _tier_index(frame, settings)
    allowed = np.array([t.within_minutes for t in settings.tiers], dtype=np.int64)[tier_ix]
    business = np.array([t.business_clock for t in settings.tiers], dtype=bool)[tier_ix]
    due = clock.add(mql, allowed, business)
    touch, rejected, unsubscribed = events["first_touch_at"], events["rejected_at"], events["unsubscribed_at"]
    reject_stage = frame["reject_stage"].astype("object").to_numpy()
    disqualified = np.isin(reject_stage, np.array(settings.disqualified_stages, dtype=object))

    # Exclusion: the earliest of rejection and unsubscribe, when it comes before any touch.
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
    elapsed = np.where(business, clock.minutes(mql, clock_end), (clock_end - mql) / NS_PER_MINUTE)
    used_share = elapsed / allowed
    status[(status == "pending") & (used_share >= settings.at_risk_share)] = "at_risk"

    # Delays: routing (MQL -> owner) and rep (owner -> touch), in business minutes.
    to_touch = np.where(touched, clock.minutes(mql, touch), np.nan)
    routing = clock.minutes(mql, np.minimum(assigned, np.where(touched, touch, NEVER)))
    return {
        "tier_ix": tier_ix,
        "allowed": allowed,
        "due": due,
        "touch": np.where(touched, touch, NEVER),
        "touched": touched,
        "status": status,
        "stopped": stopped,
        "reason": reason,
        "stop": stop,
        "used_share": used_share,
        "to_touch": to_touch,
        "routing": np.where(has_owner | touched, routing, np.nan),
        "rep": np.where(touched & has_owner, to_touch - np.nan_to_num(routing), np.nan),
    }


def _acceptance(
    frame: pd.DataFrame, settings: SlaSettings, clock: _Clock, events: dict[str, np.ndarray], due: np.ndarray
) -> dict[str, np.ndarray]:
    """The accept / reject decision, its deadline and status, and both escalation times."""
    n, now = clock.n, clock.now
    accepted, rejected, unsubscribed = events["accepted_at"], events["rejected_at"], events["unsubscribed_at"]
    decided = np.minimum(accepted, rejected)
    was_accepted = (decided != NEVER) & (accepted <= rejected)
    was_rejected = (decided != NEVER) & ~was_accepted
    decision = np.select([was_accepted, was_rejected], ["accepted", "rejected"], default="").astype(object)
    decision[decided == NEVER] = None
    accept_stage = frame["accept_stage"].astype("object").to_numpy()
    reject_stage = frame["reject_stage"].astype("object").to_numpy()
    escalate_minutes = settings.escalate_after_minutes
    never = np.full(n, NEVER)
    if settings.accept_within_minutes is not None:
        accept_due = clock.add(clock.mql, np.full(n, settings.accept_within_minutes))
        undecided_out = (decided == NEVER) & (unsubscribed <= accept_due)
        accept_status = np.select(
            [decided <= accept_due, decided != NEVER, undecided_out, now > accept_due],
            ["met", "breached_late", "excluded", "breached_open"],
            default="pending",
        ).astype(object)
        accept_escalate = (
            clock.add(accept_due, np.full(n, escalate_minutes)) if escalate_minutes is not None else never
        )
    else:
        accept_due, accept_status, accept_escalate = never, np.full(n, None, dtype=object), never
    return {
        "decided": decided,
        "decision": decision,
        "decision_stage": np.where(was_accepted, accept_stage, np.where(was_rejected, reject_stage, None)),
        "accept_due": accept_due,
        "accept_status": accept_status,
        "accept_escalate": accept_escalate,
        "escalate": clock.add(due, np.full(n, escalate_minutes)) if escalate_minutes is not None else never,
    }


def _output(
    frame: pd.DataFrame,
    settings: SlaSettings,
    clock: _Clock,
    owner: np.ndarray,
    assigned: np.ndarray,
    has_owner: np.ndarray,
    touch: dict[str, np.ndarray],
    accept: dict[str, np.ndarray],
) -> pd.DataFrame:
    """The readings as OUTPUT_COLUMNS."""
    tier_ids = np.array([t.id for t in settings.tiers], dtype=object)
    return pd.DataFrame(
        {
            "lead_id": frame["lead_id"].to_numpy(dtype=np.int64),
            "mql_at": _ts(clock.mql),
            "mql_source": _text(frame["mql_source"].to_numpy(dtype=object)),
            "owner_id": _text(owner),
            "assigned_at": _ts(assigned),
            "tier": _text(tier_ids[touch["tier_ix"]]),
            "allowed_minutes": touch["allowed"].astype(float),
            "due_at": _ts(touch["due"]),
            "first_touch_at": _ts(touch["touch"]),
            "status": _text(touch["status"]),
            "excluded_reason": _text(np.where(touch["stopped"], touch["reason"], None)),
            "excluded_at": _ts(np.where(touch["stopped"], touch["stop"], NEVER)),
            # Stored once the touch fixes it: a running clock's row then only changes when its status does.
            "used_share": np.where(touch["touched"], touch["used_share"], np.nan),
            "business_minutes_to_touch": touch["to_touch"],
            "routing_minutes": touch["routing"],
            "rep_minutes": touch["rep"],
            "accept_due_at": _ts(accept["accept_due"]),
            "decision": _text(accept["decision"]),
            "decided_at": _ts(accept["decided"]),
            "decision_stage": _text(accept["decision_stage"]),
            "accept_status": _text(accept["accept_status"]),
            "escalate_at": _ts(accept["escalate"]),
            "accept_escalate_at": _ts(accept["accept_escalate"]),
            "evaluated_at": _ts(np.full(clock.n, clock.now)),
        },
        columns=list(OUTPUT_COLUMNS),
    )
