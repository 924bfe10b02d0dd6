"""The one COPY module against a real PostgreSQL: every layout in and out, NULLs, odd text, streaming,
errors that leave the connection usable, and a failing producer that loads nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from smarketing.warehouse.copy import (
    MAX_LAYOUTS,
    NULL_INT,
    copy_in_columns,
    copy_in_fixed,
    copy_in_frame,
    copy_in_stream,
    copy_out_bytes,
    copy_out_csv,
    copy_out_fixed,
    copy_out_stream,
    encode,
    escape_text,
    escape_text_value,
    text_buffer,
    utc,
)

pytestmark = pytest.mark.integration

ODD_TEXT = ['tab\there, "quoted", comma', "new\nline\r\\N back\\slash", "pâté — ünïcode 🚀", "", "NULL"]


def _values(column: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in column]


@pytest.fixture()
def conn(warehouse_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(warehouse_dsn) as connection:
        yield connection
        connection.rollback()


def test_fixed_width_round_trip_keeps_every_type_and_extreme(conn: psycopg.Connection) -> None:
    columns = [("a", "int2"), ("b", "int4"), ("c", "int8"), ("d", "float8"), ("e", "timestamptz")]
    at = pd.to_datetime(
        ["1970-01-01", "1999-12-31 23:59:59.999999", "2262-04-11"], utc=True, format="ISO8601"
    )
    arrays = {
        "a": np.array([-32768, 0, 32767], dtype=np.int16),
        "b": np.array([-(2**31), 1, 2**31 - 1], dtype=np.int32),
        "c": np.array([-(2**63) + 1, 2, 2**63 - 1], dtype=np.int64),
        "d": np.array([-1e300, 0.1, np.inf]),
        "e": at.as_unit("us").asi8,
    }
    conn.execute("CREATE TEMP TABLE fixed (a int2, b int4, c int8, d float8, e timestamptz)")
    assert copy_in_fixed(conn, "fixed", columns, arrays) == 3
    back = copy_out_fixed(conn, sql.SQL("SELECT a, b, c, d, e FROM fixed ORDER BY b"), columns)
    for name, _ in columns:
        np.testing.assert_array_equal(back[name], arrays[name])
    assert list(utc(back["e"])) == list(at)
    assert conn.execute("SELECT e FROM fixed ORDER BY b LIMIT 1").fetchone()[0] == datetime(
        1970, 1, 1, tzinfo=UTC
    )


def test_fixed_width_read_refuses_null_and_other_layouts(conn: psycopg.Connection) -> None:
    with pytest.raises(ValueError, match="NULL"):
        copy_out_fixed(conn, sql.SQL("SELECT 1::int8 AS a UNION ALL SELECT NULL"), [("a", "int8")])
    with pytest.raises(ValueError, match="expected columns"):
        copy_out_fixed(conn, sql.SQL("SELECT 1::int2 AS a, 2::int2 AS b"), [("a", "int8")])
    assert copy_out_fixed(conn, sql.SQL("SELECT 1::int8 AS a WHERE false"), [("a", "int8")])["a"].size == 0


def test_columns_with_nulls_and_text_round_trip_natively(conn: psycopg.Connection) -> None:
    frame = pd.DataFrame(
        {
            "id": np.arange(1, 6, dtype=np.int64),
            "at": pd.to_datetime(
                ["2026-03-29 01:59:59.999999", None, "1999-12-31 23:00:00.000001", None, "2000-01-01"],
                utc=True,
                format="ISO8601",
            ),
            "share": [0.1, np.nan, -1e300, 2.5, np.nan],
            "label": ODD_TEXT,
            "maybe": [None, "x", None, "", "x"],
            "count": pd.array([7, None, -2, 2**62, None], dtype="Int64"),
        }
    )
    encoded = encode(frame, times=("at",), texts=("label", "maybe"))
    conn.execute(
        "CREATE TEMP TABLE native (id bigint, at timestamptz, share double precision, label text,"
        " maybe text, count bigint)"
    )
    assert copy_in_columns(conn, "native", encoded) == 5
    back = copy_out_csv(
        conn, sql.SQL("SELECT * FROM native ORDER BY id"), types={"at": pa.timestamp("us", "UTC")}
    )
    assert back["label"].tolist() == ODD_TEXT
    assert _values(back["maybe"]) == [None, "x", None, "", "x"]
    assert back["share"].isna().tolist() == [False, True, False, False, True]
    assert back["at"].isna().tolist() == [False, True, False, True, False]
    assert back.loc[0, "at"] == frame.loc[0, "at"]
    assert conn.execute("SELECT count FROM native WHERE id = 4").fetchone()[0] == 2**62


def test_encoded_numbers_staged_and_decoded_in_sql(conn: psycopg.Connection) -> None:
    frame = pd.DataFrame(
        {
            "id": np.array([1, 2], dtype=np.int64),
            "at": pd.to_datetime(["2026-03-29 01:59:59.999999", None], utc=True, format="ISO8601"),
            "label": [ODD_TEXT[0], None],
            "share": [0.5, np.nan],
        }
    )
    encoded = encode(frame, times=("at",), texts=("label",))
    conn.execute(
        sql.SQL("CREATE TEMP TABLE staged ({})").format(
            sql.SQL(", ").join(sql.SQL(f"{c} {encoded.staging_type(c)}") for c in frame.columns)
        )
    )
    copy_in_fixed(conn, "staged", encoded.staged_columns(), encoded.arrays)
    decoded = sql.SQL(", ").join(encoded.decode(c) for c in frame.columns)
    rows = conn.execute(sql.SQL("SELECT {} FROM staged ORDER BY id").format(decoded)).fetchall()
    assert rows == [(1, frame.loc[0, "at"].to_pydatetime(), ODD_TEXT[0], 0.5), (2, None, None, None)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(),
                st.text(
                    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                    max_size=12,
                ),
            ),
            st.one_of(st.none(), st.integers(-(2**62), 2**62)),
        ),
        max_size=40,
    )
)
def test_any_text_and_null_survive_both_writers(conn: psycopg.Connection, rows: list) -> None:
    frame = pd.DataFrame(
        {
            "k": np.arange(len(rows), dtype=np.int64),
            "t": [r[0] for r in rows],
            "n": pd.array([r[1] for r in rows], "Int64"),
        }
    )
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS prop (k bigint, t text, n bigint)")
    conn.execute("TRUNCATE prop")
    copy_in_columns(conn, "prop", encode(frame, texts=("t",)))
    assert conn.execute("SELECT t, n FROM prop ORDER BY k").fetchall() == [tuple(r) for r in rows]
    conn.execute("TRUNCATE prop")
    copy_in_frame(conn, "prop", frame)
    assert conn.execute("SELECT t, n FROM prop ORDER BY k").fetchall() == [tuple(r) for r in rows]


def test_frame_round_trip_as_csv(conn: psycopg.Connection) -> None:
    frame = pd.DataFrame(
        {
            "id": [3, 1, 2],
            "rule": pd.Categorical(["fit", "decay", "fit"]),
            "label": [ODD_TEXT[0], None, ""],
            "flag": [True, False, True],
            "at": pd.to_datetime(
                ["2026-01-01 10:00", "2026-01-02 00:00", "2026-01-03 00:00"], utc=True, format="ISO8601"
            ),
        }
    )
    conn.execute("CREATE TEMP TABLE framed (id int8, rule text, label text, flag bool, at timestamptz)")
    assert copy_in_frame(conn, "framed", frame) == 3
    assert copy_in_frame(conn, "framed", frame.iloc[:0]) == 0
    query = sql.SQL("SELECT id, rule, label, flag, at FROM framed ORDER BY id")
    typed = copy_out_csv(
        conn, query, types={"id": pa.int64(), "flag": pa.bool_(), "at": pa.timestamp("us", "UTC")}
    )
    assert typed["id"].tolist() == [1, 2, 3]
    assert _values(typed["label"]) == [None, "", ODD_TEXT[0]]
    assert typed["flag"].tolist() == [False, True, True]
    assert typed["at"].tolist() == frame.sort_values("id")["at"].tolist()
    # Untyped columns are text unless asked to infer; inferred integers are exact nullable Int64.
    assert copy_out_csv(conn, query)["id"].tolist() == ["1", "2", "3"]
    inferred = copy_out_csv(
        conn,
        sql.SQL("SELECT id, (CASE WHEN id > 1 THEN 2^62 END)::int8 AS big FROM framed ORDER BY id"),
        infer=True,
    )
    assert str(inferred["big"].dtype) == "Int64"
    assert inferred["big"].tolist()[1:] == [2**62, 2**62] and inferred["big"].isna().tolist()[0]
    assert copy_out_csv(conn, sql.SQL("SELECT 1 AS a WHERE false")).empty


def test_stream_out_in_blocks_and_early_stop_leaves_the_connection_usable(conn: psycopg.Connection) -> None:
    statement = sql.SQL("COPY (SELECT g, repeat('x', 100) FROM generate_series(1, %(n)s) g) TO STDOUT")
    assert copy_out_bytes(conn, sql.SQL("COPY (SELECT 1) TO STDOUT")) == b"1\n"
    # Like any statement on a connection without autocommit, the read runs inside its transaction.
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    whole = copy_out_bytes(conn, statement, {"n": 20_000})
    blocks = list(copy_out_stream(conn, statement, {"n": 20_000}, block_size=64 << 10))
    assert len(blocks) > 10 and bytes(b"".join(blocks)) == bytes(whole)
    assert whole.count(b"\n") == 20_000
    stream = copy_out_stream(conn, statement, {"n": 20_000}, block_size=1 << 10)
    next(stream)
    stream.close()  # the rest is drained: the connection answers the next query
    assert conn.execute("SELECT 42").fetchone() == (42,)


def test_stream_out_error_raises_and_the_connection_recovers(warehouse_dsn: str) -> None:
    with psycopg.connect(warehouse_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            copy_out_bytes(conn, sql.SQL("COPY (SELECT * FROM no_such_table) TO STDOUT"))
        with pytest.raises(psycopg.errors.DivisionByZero):
            copy_out_bytes(
                conn, sql.SQL("COPY (SELECT 1 / (g - 5000) FROM generate_series(1, 10000) g) TO STDOUT")
            )
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_text_stream_in_with_escaping_and_a_failing_producer_loads_nothing(conn: psycopg.Connection) -> None:
    conn.execute("CREATE TEMP TABLE lines (id int8, body text)")
    values = pa.array(ODD_TEXT)
    ids = pa.array([str(i) for i in range(len(ODD_TEXT))])
    lines = pa.compute.binary_join_element_wise(ids, "\t", escape_text(values), "\n", "")
    assert copy_in_stream(conn, "lines", ["id", "body"], [text_buffer(lines)]) > 0
    assert [r[0] for r in conn.execute("SELECT body FROM lines ORDER BY id")] == ODD_TEXT
    assert escape_text_value("a\tb\\") == "a\\tb\\\\"

    def producer() -> Iterator[bytes]:
        yield b"100\tfirst\n"
        raise RuntimeError("source broke mid-stream")

    conn.commit()
    with pytest.raises(RuntimeError, match="mid-stream"), conn.transaction():
        copy_in_stream(conn, "lines", ["id", "body"], producer())
    assert conn.execute("SELECT count(*) FROM lines WHERE id = 100").fetchone() == (0,)


def test_columns_in_the_tables_own_types_round_trip(conn: psycopg.Connection) -> None:
    """int4, boolean, date, numeric from cents and fixed-length arrays, straight into their columns."""
    cents = np.array([0, 1, -1, 12_345, -999_999_999_999, 999_999_999_999, 50], dtype=np.int64)
    n = len(cents)
    state = np.array([[0.1 * i, -1e-300, 2.0**i] for i in range(n)])
    encoded = (
        encode(pd.DataFrame({"id": np.arange(n, dtype=np.int64)}))
        .plus("small", "int4", np.array([-(2**31), 0, 2**31 - 1, 5, 6, 7, NULL_INT]))
        .plus("flag", "bool", np.array([0, 1, 1, 0, 0, 1, NULL_INT]))
        .plus("day", "date", np.array([0, -1, 10_957, 20_000, 1, 2, 3]))
        .plus("amount", "cents", cents)
        .plus("fits", "int4[]", np.arange(n, dtype=np.int32)[:, None])
        .plus("state", "float8[]", state)
        .plus("empty", "float8[]", np.zeros((n, 0)))
        .plus("label", "text", np.zeros(n, dtype=np.int64), ["same"])
    )
    conn.execute(
        "CREATE TEMP TABLE typed (id bigint, small int4, flag boolean, day date, amount numeric(12,2),"
        " fits int4[], state float8[], empty float8[], label text)"
    )
    assert copy_in_columns(conn, "typed", encoded) == n
    rows = conn.execute("SELECT * FROM typed ORDER BY id").fetchall()
    assert [r[1] for r in rows] == [-(2**31), 0, 2**31 - 1, 5, 6, 7, None]
    assert [r[2] for r in rows] == [False, True, True, False, False, True, None]
    assert [r[3].isoformat() for r in rows[:4]] == ["1970-01-01", "1969-12-31", "2000-01-01", "2024-10-04"]
    assert [int(r[4] * 100) for r in rows] == cents.tolist()
    assert [str(r[4]) for r in rows[:4]] == ["0.00", "0.01", "-0.01", "123.45"]
    assert [r[5] for r in rows] == [[i] for i in range(n)]
    assert np.array_equal(np.array([r[6] for r in rows]), state)
    assert {tuple(r[7]) for r in rows} == {()} and {r[8] for r in rows} == {"same"}


def test_rows_of_many_layouts_round_trip(conn: psycopg.Connection) -> None:
    """Rows are written grouped by layout (each column's byte length), or scattered one by one when a
    block has more layouts than MAX_LAYOUTS: both, with NULLs, empty texts and multi-byte characters."""
    n = 3 * MAX_LAYOUTS
    words = [None if i % 7 == 3 else "é" * (i % 5) + "x" * i for i in range(n)]
    frame = pd.DataFrame({"id": np.arange(n, dtype=np.int64), "few": [None, "a", "bb"] * MAX_LAYOUTS})
    conn.execute("CREATE TEMP TABLE layouts (id bigint, few text, many text, amount numeric(12,2))")
    for many in (False, True):  # 4 layouts; then more than MAX_LAYOUTS (one per length)
        texts = words if many else ["same"] * n
        encoded = encode(frame.assign(many=texts), texts=("few", "many")).plus(
            "amount", "cents", np.arange(n, dtype=np.int64) - 50
        )
        conn.execute("TRUNCATE layouts")
        assert copy_in_columns(conn, "layouts", encoded) == n
        rows = conn.execute("SELECT id, few, many, amount FROM layouts ORDER BY id").fetchall()
        assert [r[0] for r in rows] == list(range(n))
        assert [r[1] for r in rows] == [None, "a", "bb"] * MAX_LAYOUTS
        assert [r[2] for r in rows] == texts
        assert [int(r[3] * 100) for r in rows] == [i - 50 for i in range(n)]
