"""Keys of failing rows: from GX's row query, or from GX's key list when that query cannot be used."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from smarketing.quality import quarantine
from smarketing.quality.engine import GxSession
from smarketing.quality.expectations import Check
from smarketing.warehouse.connection import connect

pytestmark = pytest.mark.integration

CHECK = Check(
    suite="raw.leads",
    check_id="value_ok",
    expectation="ExpectColumnValuesToBeInSet",
    kwargs={"column": "v", "value_set": ["ok"]},
    severity="critical",
    description="v is ok",
)


def test_the_key_list_gives_the_same_keys_as_the_row_query(clean_warehouse: str) -> None:
    dsn = clean_warehouse
    session = GxSession(dsn, run_name="keys", run_time=datetime.now(UTC))
    with connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE UNLOGGED TABLE dq_stage.keys_test AS SELECT g::bigint AS batch_id, g AS record_no,"
            " CASE WHEN g % 3 = 0 THEN 'bad' ELSE 'ok' END AS v FROM generate_series(1, 30) g"
        )
        try:
            run = session.validate(
                suite="raw.leads",
                source_system="test",
                scope="keys",
                stage="keys_test",
                rows=30,
                checks=[CHECK],
                key_columns=("batch_id", "record_no"),
            )
            result = run.results[0]
            assert result.unexpected_count == 10 and result.index_query

            def collected(**limit: int) -> list[tuple[str, str, str]]:
                quarantine.prepare(conn)
                count = quarantine.collect_failing(conn, session, run, result, **limit)
                rows = conn.execute("SELECT k1, k2, check_id FROM _dq_failing ORDER BY k1::int").fetchall()
                assert count == len(rows)
                return rows

            from_query = collected()
            result.index_query = None  # as when GX writes a query PostgreSQL cannot run
            from_key_list = collected()
            first_three = collected(limit=3)
        finally:
            conn.execute("DROP TABLE dq_stage.keys_test")
            session.close()
    assert from_query == [(str(n), str(n), "value_ok") for n in range(3, 31, 3)]
    assert from_key_list == from_query
    assert len(first_three) == 3 and set(first_three) <= set(from_query)
