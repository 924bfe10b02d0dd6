"""Marketing's side of the agreement: MQLs delivered per month against the target, at a business-time pace.

The target of a month is spread over its business time (the organisation's calendar: working hours,
public holidays and closed days), so on the evening of the 10th working day of a 20-day month half the
target is expected, whatever the weekends and holidays before it. The forecast extrapolates the pace
delivered so far over the rest of the month's business time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from smarketing.sla.calendar import BusinessCalendar
from smarketing.sla.settings import ALL_SEGMENT, SlaSettings
from smarketing.sla.store import copy_out, mql_query

DELIVERY_COLUMNS = (
    "period",
    "segment",
    "period_end",
    "target",
    "delivered",
    "accepted",
    "elapsed_share",
    "expected_to_date",
    "forecast",
    "status",
    "evaluated_at",
)


@dataclass(frozen=True)
class Period:
    first_day: pd.Timestamp  # local midnight, tz-aware
    next_first_day: pd.Timestamp

    @property
    def start(self) -> pd.Timestamp:
        return self.first_day.tz_convert("UTC")

    @property
    def end(self) -> pd.Timestamp:
        return self.next_first_day.tz_convert("UTC")


def months_around(as_of: pd.Timestamp, timezone: str) -> list[Period]:
    """The month `as_of` falls in and the one before it (closed last hour, or still settling)."""
    local = as_of.tz_convert(timezone)
    current = pd.Timestamp(year=local.year, month=local.month, day=1).tz_localize(timezone)
    previous = (current.tz_localize(None) - pd.offsets.MonthBegin(1)).tz_localize(timezone)
    following = (current.tz_localize(None) + pd.offsets.MonthBegin(1)).tz_localize(timezone)
    return [Period(previous, current), Period(current, following)]


def segment_mask(mqls: pd.DataFrame, segment: str) -> np.ndarray:
    """Which MQLs a segment of the target counts (`all`, `persona:<id>`, `country:<code>`, `industry:<name>`)."""
    if segment == ALL_SEGMENT:
        return np.ones(len(mqls), dtype=bool)
    dimension, _, value = segment.partition(":")
    if dimension == "persona":
        column, wanted = mqls["persona_id"].astype("string"), value
    elif dimension == "country":
        column, wanted = mqls["country"].astype("string").str.upper(), value.upper()
    elif dimension == "industry":
        column, wanted = mqls["industry"].astype("string").str.casefold(), value.casefold()
    else:
        raise ValueError(f"unknown segment dimension in {segment!r}")
    return (column == wanted).fillna(False).to_numpy(dtype=bool)


def pace(
    mqls: pd.DataFrame,
    settings: SlaSettings,
    as_of: pd.Timestamp,
    calendar: BusinessCalendar | None = None,
) -> pd.DataFrame:
    """Delivery rows (DELIVERY_COLUMNS) for the months around `as_of`, from the MQLs handed over in them.

    `mqls` has one row per MQL: mql_at (UTC), accepted (bool, as of `as_of`), persona_id, country, industry.
    """
    calendar = calendar or BusinessCalendar(settings.calendar)
    as_of = pd.Timestamp(as_of).tz_convert("UTC")
    rows = []
    mql_at = pd.DatetimeIndex(pd.to_datetime(mqls["mql_at"], utc=True))
    accepted = mqls["accepted"].fillna(False).to_numpy(dtype=bool)
    for period in months_around(as_of, settings.calendar.timezone):
        until = min(as_of, period.end)
        in_period = np.asarray((mql_at >= period.start) & (mql_at < period.end) & (mql_at <= as_of))
        total, elapsed = calendar.minutes_between([period.start, period.start], [period.end, until])
        share = float(np.clip(elapsed / total, 0.0, 1.0)) if total > 0 else 1.0
        closed = as_of >= period.end
        for segment, target in settings.targets.items():
            counted = in_period & segment_mask(mqls, segment)
            delivered = int(counted.sum())
            expected = target * share
            forecast = delivered / share if share > 0 else None
            if closed:
                status = "met" if delivered >= target else "missed"
            elif delivered < expected * (1 - settings.behind_tolerance):
                status = "behind"
            elif delivered > expected * (1 + settings.behind_tolerance):
                status = "ahead"
            else:
                status = "on_pace"
            rows.append(
                {
                    "period": period.first_day.date(),
                    "segment": segment,
                    "period_end": (period.next_first_day - pd.Timedelta(days=1)).date(),
                    "target": int(target),
                    "delivered": delivered,
                    "accepted": int((counted & accepted).sum()),
                    "elapsed_share": share,
                    "expected_to_date": round(expected, 2),
                    "forecast": None if forecast is None else round(forecast, 2),
                    "status": status,
                    "evaluated_at": as_of,
                }
            )
    return pd.DataFrame(rows, columns=list(DELIVERY_COLUMNS))


def read_mqls_for_pace(conn: psycopg.Connection, settings: SlaSettings, as_of: pd.Timestamp) -> pd.DataFrame:
    periods = months_around(as_of, settings.calendar.timezone)
    query = sql.SQL(
        """
        WITH mql AS ({mql})
        SELECT (extract(epoch FROM m.mql_at) * 1000000)::bigint AS mql_us,
               EXISTS (SELECT 1 FROM core.lifecycle_history h
                       WHERE h.lead_id = m.lead_id AND h.stage = ANY(%(sql_stages)s)
                         AND h.entered_at >= m.mql_at AND h.entered_at <= %(as_of)s) AS accepted,
               l.persona_id, l.country, c.industry
        FROM mql m
        JOIN core.leads l ON l.lead_id = m.lead_id
        LEFT JOIN core.companies c ON c.company_id = l.company_id
        WHERE m.mql_at >= %(start)s AND m.mql_at < %(end)s
          -- marketing's count goes by the leads still live at the moment read
          AND (l.deleted_at IS NULL OR l.deleted_at > %(as_of)s)
        """
    ).format(mql=mql_query(conn, settings))
    frame = copy_out(
        conn,
        query,
        {
            "as_of": as_of.to_pydatetime(),
            "start": periods[0].start.to_pydatetime(),
            "end": periods[-1].end.to_pydatetime(),
            "sql_stages": list(settings.sql_stages),
        },
        text_columns=("persona_id", "country", "industry"),
    )
    if frame.empty:
        return pd.DataFrame(
            {
                "mql_at": pd.Series(dtype="datetime64[ns, UTC]"),
                "accepted": pd.Series(dtype=bool),
                **{c: pd.Series(dtype="object") for c in ("persona_id", "country", "industry")},
            }
        )
    frame["mql_at"] = pd.to_datetime(frame.pop("mql_us"), unit="us", utc=True)
    frame["accepted"] = frame["accepted"].astype(bool)
    return frame


def write_delivery(conn: psycopg.Connection, rows: pd.DataFrame) -> int:
    """Upsert delivery rows (a few per run: plain parameters, no COPY); later readings win."""
    if rows.empty:
        return 0
    columns = list(DELIVERY_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in ("period", "segment"))
    records = [
        tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in row)
        for row in rows[columns].astype(object).itertuples(index=False, name=None)
    ]
    with conn.cursor() as cur:
        cur.executemany(
            f"""
            INSERT INTO sla.marketing_delivery AS d ({", ".join(columns)})
            VALUES ({", ".join(["%s"] * len(columns))})
            ON CONFLICT (period, segment) DO UPDATE SET {updates}
            WHERE d.evaluated_at <= EXCLUDED.evaluated_at
            """,
            records,
        )
    return len(records)
