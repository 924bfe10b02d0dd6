"""What-if: replay history under a candidate model next to the active one, day by day.

For every UTC day from `start` to `end` both models score every lead as of the end of that day — the
same kernel as the nightly runs, stepped in memory (yesterday's values rescaled, plus the day's events,
minus events leaving the window). A lead becomes an MQL on the first day it meets the MQL rule; per
month the report counts those first crossings and how many of those leads later won a deal.

Fit uses today's lead and company fields (the warehouse keeps no history of them), so a backtest
answers "which leads would this model have handed over, and when", not "what did sales see then".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from psycopg import sql

from smarketing.scoring.kernel import (
    US_PER_DAY,
    EventArrays,
    capped_values,
    evaluate_fit,
    full_signs,
    grades_for,
    mql_flags,
    rule_sums,
    summed_cents,
)
from smarketing.scoring.model import ScoringModel
from smarketing.scoring.runner import MAX_ID, MIN_ID
from smarketing.scoring.warehouse import Shard, read_history, read_leads, to_us
from smarketing.warehouse.connection import connect
from smarketing.warehouse.copy import copy_out_fixed


@dataclass
class Replay:
    lead_ids: np.ndarray
    first_mql_day: np.ndarray  # days since the epoch, -1 when never


def _day_values(
    model: ScoringModel, events: EventArrays, n: int, days: np.ndarray
) -> dict[str, list[np.ndarray]]:
    """Uncapped rule values at the end of each day, per profile, stepped from day to day."""
    out: dict[str, list[np.ndarray]] = {}
    ordered = events
    for profile in model.profiles:
        engagement = profile.engagement
        # Which events count never depends on the scoring time: decide it once on the whole history.
        counted_all = rule_sums_by_event(ordered, engagement)
        by_time = np.argsort(ordered.t, kind="stable")
        t_sorted = ordered.t[by_time]
        values = np.zeros((n, len(engagement.rules)))
        previous: int | None = None
        series = []
        for day in days:
            t1 = int((day + 1) * US_PER_DAY - 1)
            if previous is None:
                values = rule_sums(ordered, n, engagement, t1, full_signs(ordered, t1, engagement))
            else:
                if engagement.half_life_days is not None:
                    values *= np.exp2(-(t1 - previous) / (engagement.half_life_days * US_PER_DAY))
                lo, hi = np.searchsorted(t_sorted, [previous, t1], side="right")
                values += _window_sum(ordered, by_time[lo:hi], counted_all, engagement, n, t1, +1)
                if engagement.window_days is not None:
                    width = engagement.window_days * US_PER_DAY
                    # In the window at `previous` (t >= previous - width), out of it at t1 (t < t1 - width).
                    a, b = np.searchsorted(t_sorted, [previous - width, t1 - width], side="left")
                    leaving = by_time[a:b]
                    leaving = leaving[ordered.t[leaving] <= previous]
                    values += _window_sum(ordered, leaving, counted_all, engagement, n, t1, -1)
            previous = t1
            series.append(values.copy())
        out[profile.profile_id] = series
    return out


def rule_sums_by_event(events: EventArrays, engagement) -> list[np.ndarray]:
    """Per rule: a boolean per event, true when the event counts for the rule."""
    from smarketing.scoring.kernel import counted

    flags = []
    for rule in engagement.rules:
        selected = np.flatnonzero(events.mask & (np.int64(1) << np.int64(rule.predicate)))
        mine = np.zeros(len(events), dtype=bool)
        mine[selected[counted(events, selected, rule.max_per_day)]] = True
        flags.append(mine)
    return flags


def _window_sum(
    events: EventArrays,
    index: np.ndarray,
    counted_all: list[np.ndarray],
    engagement,
    n: int,
    t1: int,
    sign: int,
) -> np.ndarray:
    values = np.zeros((n, len(engagement.rules)))
    if not len(index):
        return values
    weights = (
        np.ones(len(index))
        if engagement.half_life_days is None
        else np.exp2((events.t[index] - t1) / (engagement.half_life_days * US_PER_DAY))
    )
    for r, rule in enumerate(engagement.rules):
        keep = counted_all[r][index]
        values[:, r] = (
            sign * rule.points * np.bincount(events.lead[index[keep]], weights=weights[keep], minlength=n)
        )
    return values


def replay(
    model: ScoringModel, leads: pd.DataFrame, created: np.ndarray, events: EventArrays, days: np.ndarray
) -> Replay:
    n = len(leads)
    fit_by_profile = {p: f.sum(axis=1, dtype=np.int64) for p, f in evaluate_fit(model, leads).items()}
    grades = {p: grades_for(fit, model) for p, fit in fit_by_profile.items()}
    first = np.full(n, -1, dtype=np.int64)
    series = _day_values(model, events, n, days)
    for k, day in enumerate(days):
        exists = created <= (day + 1) * US_PER_DAY - 1
        qualified = np.zeros(n, dtype=bool)
        for profile in model.profiles:
            pid = profile.profile_id
            engagement = summed_cents(capped_values(series[pid][k], profile.engagement)) / 100
            if profile.engagement.floor is not None:
                engagement = np.maximum(engagement, profile.engagement.floor)
            qualified |= mql_flags(np.round(fit_by_profile[pid] + engagement, 2), grades[pid], model)
        new = qualified & exists & (first < 0)
        first[new] = day
    return Replay(leads["lead_id"].to_numpy(np.int64), first)


def _days(start: date, end: date) -> np.ndarray:
    epoch = date(1970, 1, 1)
    return np.arange((start - epoch).days, (end - epoch).days + 1)


def first_crossings(dsn: str, model: ScoringModel, start: date, end: date) -> pd.DataFrame:
    """Lead id and UTC day (days since the epoch) of each lead's first MQL day between start and end."""
    if end < start:
        raise ValueError(f"--to ({end}) is before --from ({start})")
    t_end = to_us(datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)) - 1
    everything = Shard(0, MIN_ID, MAX_ID)
    with connect(dsn) as conn:
        leads = read_leads(conn, model, everything, t_end)
        ids = leads["lead_id"].to_numpy(np.int64)
        events = read_history(conn, model, everything, ids, t_end)
        created = copy_out_fixed(
            conn,
            sql.SQL(
                "SELECT lead_id, COALESCE((extract(epoch FROM created_at) * 1000000)::int8, %(min)s) AS created "
                "FROM core.leads ORDER BY lead_id"
            ),
            (("lead_id", "int8"), ("created", "int8")),
            {"min": MIN_ID},
        )
    born = created["created"][np.searchsorted(created["lead_id"], ids)] if len(ids) else np.zeros(0, np.int64)
    result = replay(model, leads, born, events, _days(start, end))
    mask = result.first_mql_day >= 0
    return pd.DataFrame({"lead_id": result.lead_ids[mask], "day": result.first_mql_day[mask]})


# Stages that mean sales accepted the lead (an SQL) or went further.
SALES_STAGES = ("salesqualifiedlead", "opportunity", "customer")


def _first_days(dsn: str, query: str, params: dict | None = None) -> pd.Series:
    with connect(dsn) as conn:
        rows = conn.execute(query, params or {}).fetchall()
    return pd.DataFrame(rows, columns=["lead_id", "day"]).set_index("lead_id")["day"]


def backtest(
    dsn: str,
    candidate: ScoringModel,
    active: ScoringModel,
    start: date,
    end: date,
    *,
    sales_stages: tuple[str, ...] = SALES_STAGES,
) -> pd.DataFrame:
    """Per month and model: MQLs produced (first crossings), how many later won a deal (`converted`,
    `conversion_rate`: MQL to won) and how many later reached a sales stage (`to_sql`, `sql_rate`)."""
    won_day = _first_days(
        dsn,
        "SELECT lead_id, (min(COALESCE(closed_at, created_at)) AT TIME ZONE 'UTC')::date - DATE '1970-01-01' "
        "FROM core.deals WHERE is_won AND lead_id IS NOT NULL AND deleted_at IS NULL GROUP BY lead_id",
    )
    sql_day = _first_days(
        dsn,
        "SELECT lead_id, (min(entered_at) AT TIME ZONE 'UTC')::date - DATE '1970-01-01' "
        "FROM core.lifecycle_history WHERE stage = ANY(%(stages)s) GROUP BY lead_id",
        {"stages": list(sales_stages)},
    )
    rows = []
    for name, model in (("candidate", candidate), ("active", active)):
        frame = first_crossings(dsn, model, start, end)
        frame["month"] = pd.to_datetime(frame["day"], unit="D").dt.strftime("%Y-%m")
        for column, days in (("converted", won_day), ("to_sql", sql_day)):
            later = days.reindex(frame["lead_id"]).to_numpy(dtype="float64", na_value=np.nan)
            frame[column] = later >= frame["day"].to_numpy()
        summary = (
            frame.groupby("month")
            .agg(mqls=("lead_id", "size"), converted=("converted", "sum"), to_sql=("to_sql", "sum"))
            .reset_index()
        )
        summary.insert(0, "model", name)
        rows.append(summary)
    report = pd.concat(rows, ignore_index=True)
    months = pd.period_range(start, end, freq="M").strftime("%Y-%m")
    full = pd.MultiIndex.from_product([["candidate", "active"], months], names=["model", "month"])
    report = report.set_index(["model", "month"]).reindex(full, fill_value=0).reset_index()
    per_mql = report["mqls"].where(report["mqls"] > 0)
    for count, rate in (("converted", "conversion_rate"), ("to_sql", "sql_rate")):
        report[count] = report[count].astype(int)
        report[rate] = (report[count] / per_mql).round(4)
    report["model_version"] = report["model"].map({"candidate": candidate.version, "active": active.version})
    return report


def outcome_auc(dsn: str, model: ScoringModel, start: date, end: date) -> dict[str, float | int | None]:
    """How well the model's scores as of `start` rank the deals decided from `start` to `end`: AUC of
    won against lost among leads with no deal opened before `start` (None with only one kind)."""
    from sklearn.metrics import roc_auc_score

    from smarketing.scoring.runner import scores_as_of

    moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
    until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    with connect(dsn) as conn:
        decided = pd.DataFrame(
            conn.execute(
                "SELECT lead_id, bool_or(is_won) AS won FROM core.deals "
                "WHERE lead_id IS NOT NULL AND deleted_at IS NULL AND is_won IS NOT NULL "
                "GROUP BY lead_id HAVING min(created_at) >= %(start)s AND max(closed_at) < %(until)s",
                {"start": moment, "until": until},
            ).fetchall(),
            columns=["lead_id", "won"],
        )
    scores = scores_as_of(dsn, model, moment).set_index("lead_id")["total"]
    decided = decided[decided["lead_id"].isin(scores.index)]
    kinds = decided["won"].nunique()
    auc = float(roc_auc_score(decided["won"], scores.reindex(decided["lead_id"]))) if kinds == 2 else None
    return {
        "auc": None if auc is None else round(auc, 4),
        "leads": len(decided),
        "won": int(decided["won"].sum()),
    }
