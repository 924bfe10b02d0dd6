"""Running expectation suites with Great Expectations (GX Core 1.x) against PostgreSQL.

One in-memory GX context per validation; its PostgreSQL data source points at the staged tables, so
every expectation is a set-based query in the database and only counts come back (result format
BASIC, no unexpected values: nothing personal leaves the database). Keys of failing rows are found
with the SQL query GX writes for each failing row-level expectation; when that query is unusable (GX
renders some literals, such as datetimes, as Python text) a second pass asks GX for the key list.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from smarketing.quality.expectations import Check
from smarketing.quality.staging import SCHEMA
from smarketing.tasklog import quiet_third_party
from smarketing.warehouse.migrate import sqlalchemy_url

log = logging.getLogger(__name__)
# Great Expectations logs hundreds of INFO lines per validation (decorator registration, data source
# set-up): task logs keep its warnings and errors only.
quiet_third_party()

# Hash aggregates of a million keys (uniqueness) must not spill to disk.
WORK_MEM = "256MB"
_BASIC = {"result_format": "BASIC", "partial_unexpected_count": 0, "return_unexpected_index_query": True}


@dataclass
class CheckResult:
    check: Check
    success: bool
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    exception: str | None = None
    index_query: str | None = None  # GX's SELECT of the failing rows; never persisted

    @property
    def failed(self) -> bool:
        return not self.success

    @property
    def quarantines(self) -> bool:
        return (
            self.failed and self.check.names_rows and self.check.severity == "critical" and not self.exception
        )


@dataclass
class SuiteRun:
    """One expectation suite validated against one staged table."""

    suite: str
    source_system: str
    scope: str
    stage: str
    key_columns: tuple[str, ...]
    rows: int
    results: list[CheckResult]
    gx_suite_name: str
    checks: list[Check]
    gx_result: Any = None
    gx_key: Any = None  # the result's key in GX's validation results store (Data Docs use it)
    sample_keys: dict[str, list[str]] = field(default_factory=dict)

    def failures(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results if r.failed and (severity is None or r.check.severity == severity)]

    @property
    def label(self) -> str:
        source = f" of {self.source_system}" if self.source_system else ""
        return f"{self.suite}{source} ({self.scope})"


class GxSession:
    """A GX context with the warehouse as a PostgreSQL data source, for one validation."""

    def __init__(self, dsn: str, *, run_name: str, run_time: datetime) -> None:
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self._gx = gx
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.datasource = self.context.data_sources.add_postgres(
            "warehouse",
            connection_string=sqlalchemy_url(dsn),
            kwargs={"connect_args": {"options": f"-c work_mem={WORK_MEM}"}},
        )
        self.run_id = RunIdentifier(run_name=run_name, run_time=run_time)
        self._suites: dict[str, Any] = {}
        self._batches: dict[str, Any] = {}
        self._key_definitions: dict[str, Any] = {}

    def close(self) -> None:
        # The data source keeps a SQLAlchemy engine (a connection pool): release it with the session.
        engine = getattr(self.datasource, "_cached_engine", None) or getattr(self.datasource, "_engine", None)
        if engine is not None:
            engine.dispose()

    def _batch_definition(self, stage: str, asset_name: str) -> Any:
        if stage not in self._batches:
            asset = self.datasource.add_table_asset(name=asset_name, table_name=stage, schema_name=SCHEMA)
            self._batches[stage] = asset.add_batch_definition_whole_table("all")
        return self._batches[stage]

    def _suite(self, name: str, checks: Sequence[Check]) -> Any:
        # The same suite can differ by one column between a one-batch stage and a several-batch one
        # (the uniqueness key): the suite is then replaced, its earlier results keep their own copy.
        signature = tuple((c.check_id, repr(sorted(c.kwargs.items()))) for c in checks)
        cached = self._suites.get(name)
        if cached is None or cached[0] != signature:
            if cached is not None:
                self.context.suites.delete(name)
            suite = self._gx.ExpectationSuite(name=name, expectations=[c.build() for c in checks])
            self._suites[name] = (signature, self.context.suites.add(suite))
        return self._suites[name][1]

    def validate(
        self,
        *,
        suite: str,
        source_system: str,
        scope: str,
        stage: str,
        rows: int,
        checks: Sequence[Check],
        key_columns: Sequence[str],
    ) -> SuiteRun:
        gx_suite_name = f"{suite}.{source_system}" if source_system else suite
        definition = self.context.validation_definitions.add(
            self._gx.ValidationDefinition(
                name=f"{gx_suite_name}@{stage}",
                data=self._batch_definition(stage, _asset_name(gx_suite_name, scope)),
                suite=self._suite(gx_suite_name, checks),
            )
        )
        store = self.context.validation_results_store
        before = set(store.list_keys())
        result = definition.run(
            result_format={**_BASIC, "unexpected_index_column_names": list(key_columns)}, run_id=self.run_id
        )
        added = [key for key in store.list_keys() if key not in before]
        by_id = {c.check_id: c for c in checks}
        results = [_check_result(by_id, r) for r in result.results]
        return SuiteRun(
            suite=suite,
            source_system=source_system,
            scope=scope,
            stage=stage,
            key_columns=tuple(key_columns),
            rows=rows,
            results=results,
            gx_suite_name=gx_suite_name,
            checks=list(checks),
            gx_result=result,
            gx_key=added[0] if added else None,
        )

    def failing_rows(self, run: SuiteRun, result: CheckResult) -> CheckResult:
        """For a failed table-level check with a row-level twin: the twin's result (rows, row query).

        The table-level result takes the twin's counts, so messages say how many rows failed.
        """
        twin = result.check.rows_check()
        name = f"{run.gx_suite_name}.{twin.check_id}.rows@{run.stage}"
        suite = self.context.suites.add(self._gx.ExpectationSuite(name=name, expectations=[twin.build()]))
        definition = self.context.validation_definitions.add(
            self._gx.ValidationDefinition(name=name, data=self._batch_definition(run.stage, ""), suite=suite)
        )
        found = definition.run(
            result_format={**_BASIC, "unexpected_index_column_names": list(run.key_columns)}
        ).results[0]
        rows = _check_result({twin.check_id: twin}, found)
        result.element_count = rows.element_count
        result.unexpected_count = rows.unexpected_count
        result.unexpected_percent = rows.unexpected_percent
        return rows

    def failing_keys(self, run: SuiteRun, check: Check, limit: int) -> list[tuple[Any, ...]]:
        """Keys of (up to `limit`) rows failing `check`, asked of GX one expectation at a time."""
        name = f"{run.gx_suite_name}.{check.check_id}.keys@{run.stage}"
        if name not in self._key_definitions:
            suite = self.context.suites.add(
                self._gx.ExpectationSuite(name=name, expectations=[check.build()])
            )
            self._key_definitions[name] = self.context.validation_definitions.add(
                self._gx.ValidationDefinition(
                    name=name, data=self._batch_definition(run.stage, ""), suite=suite
                )
            )
        result = self._key_definitions[name].run(
            result_format={
                "result_format": "COMPLETE",
                "partial_unexpected_count": max(limit, 1),
                "unexpected_index_column_names": list(run.key_columns),
                "exclude_unexpected_values": True,
                "return_unexpected_index_query": False,
            }
        )
        return _key_rows(result.results[0].result.get("unexpected_index_list") or [], run.key_columns)


def _key_rows(found: list[dict[str, Any]], key_columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """GX gives keys row by row, or (without values) as one dict of columns: rows either way."""
    if len(found) == 1 and all(isinstance(found[0].get(k), list) for k in key_columns):
        return list(zip(*(found[0][k] for k in key_columns), strict=True))
    return [tuple(row[k] for k in key_columns) for row in found]


# Data Docs name a result's page after its asset; file systems refuse names over 255 bytes.
MAX_ASSET_NAME = 64


def _asset_name(suite: str, scope: str) -> str:
    """What Data Docs call the batch: the suite and what was checked (e.g. raw.leads.hubspot.batches_12),
    cut to MAX_ASSET_NAME characters with a digest of the whole name when longer."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{suite}.{scope}")
    if len(name) <= MAX_ASSET_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_ASSET_NAME - 11]}~{digest}"


def _exception_text(info: Any) -> str | None:
    """GX reports errors either flat or per metric; either way, the first message."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "error")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "error")
    return None


def _check_result(by_id: dict[str, Check], result: Any) -> CheckResult:
    meta = result.expectation_config.meta or {}
    check = by_id[meta["check_id"]]
    data = result.result or {}
    exception = _exception_text(result.exception_info)
    return CheckResult(
        check=check,
        success=bool(result.success) and exception is None,
        element_count=data.get("element_count"),
        unexpected_count=data.get("unexpected_count"),
        unexpected_percent=data.get("unexpected_percent"),
        observed_value=data.get("observed_value"),
        exception=exception,
        index_query=data.get("unexpected_index_query"),
    )
