"""The outcome of a validation: what failed, how many rows, and whether downstream work may go on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from smarketing.errors import SmarketingError
from smarketing.quality.engine import CheckResult, SuiteRun
from smarketing.tasklog import count, duration


class QualityGateFailed(SmarketingError):
    """A critical check failed: the message says what failed and how many rows; `report` has the rest."""

    exit_code = 3

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.summary)


class QualityCheckError(SmarketingError):
    """An expectation could not be evaluated (the data were not checked): retry, do not pass them on."""


@dataclass
class ValidationReport:
    run_id: str
    layer: str
    validation_run_id: int
    batch_ids: list[int] = field(default_factory=list)
    rows_checked: int = 0
    rows_quarantined: int = 0
    rows_released: int = 0
    rejected_batches: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_docs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    # Seconds spent per phase (stage, gx, keys, write, docs): for logs and benchmarks.
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[phase] = round(self.timings.get(phase, 0.0) + time.perf_counter() - started, 3)

    @property
    def success(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        """JSON for XCom and the CLI: ids, counts and messages only."""
        data = asdict(self)
        data["success"] = self.success
        return data

    def headline(self) -> str:
        """The validation on one line (a task log's summary): verdict, counts, time, Data Docs index."""
        scope = f"{count(len(self.batch_ids), 'batch', 'batches')}, " if self.layer == "raw" else ""
        verdict = "FAILED" if self.failures else "passed"
        rejected = (
            f", {count(len(self.rejected_batches), 'batch', 'batches')} rejected"
            if self.rejected_batches
            else ""
        )
        docs = f"; Data Docs {self.data_docs['index']}" if self.data_docs.get("index") else ""
        return (
            f"{self.layer} validation {verdict}: {scope}{count(self.rows_checked, 'row')} checked, "
            f"{count(self.rows_quarantined)} quarantined, {count(self.rows_released)} released"
            f"{rejected}, {count(len(self.warnings), 'warning')} in {duration(sum(self.timings.values()))}{docs}"
        )

    def finalize(self) -> str:
        head = f"{self.layer} validation of run {self.run_id}"
        counts = (
            f"{self.rows_checked:,} row(s) checked, {self.rows_quarantined:,} quarantined, "
            f"{self.rows_released:,} released, {len(self.warnings)} warning(s)"
        )
        if self.failures:
            lines = [f"{head} FAILED ({counts}); downstream work for this data is stopped:"]
            lines += [f"  - {failure}" for failure in self.failures]
        else:
            lines = [f"{head} passed ({counts})."]
        if self.warnings:
            lines.append("Warnings:")
            lines += [f"  - {warning}" for warning in self.warnings]
        if self.data_docs.get("index"):
            lines.append(f"Data Docs: {self.data_docs['index']}")
        self.summary = "\n".join(lines)
        return self.summary


def describe(run: SuiteRun, result: CheckResult) -> str:
    """One line naming the table, the check, its severity and the rows that failed."""
    check = result.check
    where = run.label
    if result.exception:
        return (
            f"{where}: {check.check_id} [{check.severity}] could not be evaluated: {result.exception[:300]}"
        )
    if check.names_rows and result.unexpected_count is not None:
        total = result.element_count or 0
        # Of every row checked: GX's unexpected_percent counts only the non-empty values (17 of 20 rows
        # with 3 empty would read 100%).
        share = f" ({result.unexpected_count / total:.1%})" if total else ""
        keys = run.sample_keys.get(check.check_id) or []
        example = f"; e.g. {', '.join(keys[:3])}" if keys else ""
        return (
            f"{where}: {check.check_id} [{check.severity}] failed for {result.unexpected_count:,} of {total:,} "
            f"row(s){share} — expected: {check.description}{example}"
        )
    observed = f" (observed {result.observed_value})" if result.observed_value is not None else ""
    return f"{where}: {check.check_id} [{check.severity}] failed{observed} — expected: {check.description}"
