"""The binary COPY used to stage clock readings: every value, NULL and odd text survives the trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from smarketing.sla.copybin import copy_native, copy_numeric, encode

pytestmark = pytest.mark.integration


def test_round_trip(warehouse_dsn: str) -> None:
    frame = pd.DataFrame(
        {
            "id": np.array([1, 2, 3], dtype=np.int64),
            "at": pd.to_datetime(
                ["2026-03-29 01:59:59.999999", None, "1999-12-31 23:00:00.000001"], utc=True
            ),
            "share": [0.1, np.nan, -1e300],
            "label": ['tab\there, "quoted", comma', None, "pâté — ünïcode"],
            "count": pd.array([7, None, -2], dtype="Int64"),
        }
    )
    encoded = encode(frame, times=("at",), texts=("label",))
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute(
            sql.SQL("CREATE TEMP TABLE staged ({})").format(
                sql.SQL(", ").join(sql.SQL(f"{c} {encoded.staging_type(c)}") for c in frame.columns)
            )
        )
        copy_numeric(conn, "staged", encoded)
        decoded = sql.SQL(", ").join(encoded.decode(c) for c in frame.columns)
        rows = conn.execute(sql.SQL("SELECT {} FROM staged ORDER BY id").format(decoded)).fetchall()
    assert rows[0][1] == pd.Timestamp("2026-03-29 01:59:59.999999", tz="UTC").to_pydatetime()
    assert rows[0][2:] == (0.1, 'tab\there, "quoted", comma', 7)
    assert rows[1][1:] == (None, None, None, None)
    assert rows[2][1] == pd.Timestamp("1999-12-31 23:00:00.000001", tz="UTC").to_pydatetime()
    assert rows[2][2:] == (-1e300, "pâté — ünïcode", -2)


def test_empty_frame(warehouse_dsn: str) -> None:
    frame = pd.DataFrame({"id": pd.Series([], dtype=np.int64), "label": pd.Series([], dtype=object)})
    encoded = encode(frame, texts=("label",))
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute("CREATE TEMP TABLE staged (id bigint, label bigint)")
        copy_numeric(conn, "staged", encoded)
        assert conn.execute("SELECT count(*) FROM staged").fetchone() == (0,)


def test_native_layout_round_trip(warehouse_dsn: str) -> None:
    frame = pd.DataFrame(
        {
            "id": np.array([1, 2, 3], dtype=np.int64),
            "at": pd.to_datetime(
                ["2026-03-29 01:59:59.999999", None, "1999-12-31 23:00:00.000001"], utc=True
            ),
            "share": [0.1, np.nan, -1e300],
            "label": ['tab\there, "quoted", comma', None, "pâté — ünïcode"],
            "empty": ["", "x", None],
            "count": pd.array([7, None, -2], dtype="Int64"),
        }
    )
    encoded = encode(frame, times=("at",), texts=("label", "empty"))
    with psycopg.connect(warehouse_dsn) as conn:
        conn.execute(
            "CREATE TEMP TABLE native (id bigint, at timestamptz, share double precision, label text,"
            " empty text, count bigint)"
        )
        copy_native(conn, sql.Identifier("native"), encoded)
        rows = conn.execute("SELECT * FROM native ORDER BY id").fetchall()
    assert rows[0][1:] == (
        pd.Timestamp("2026-03-29 01:59:59.999999", tz="UTC").to_pydatetime(),
        0.1,
        'tab\there, "quoted", comma',
        "",
        7,
    )
    assert rows[1][1:] == (None, None, None, "x", None)
    assert rows[2][1:] == (
        pd.Timestamp("1999-12-31 23:00:00.000001", tz="UTC").to_pydatetime(),
        -1e300,
        "pâté — ünïcode",
        None,
        -2,
    )
