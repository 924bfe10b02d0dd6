"""The monthly review report: one self-contained HTML file from the kpi tables (docs/review.md).

`render_report` reads `kpi.*` with a few set-based queries in one read-only snapshot (a KPI build running
meanwhile never shows half its tables), computes each section's observations, draws its charts (inline
SVG) and writes the page through a jinja2 template with autoescaping on. Nothing in the file reaches the
network: it opens, and prints, anywhere.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import jinja2
import psycopg
from markupsafe import Markup

from smarketing import __version__
from smarketing.errors import SmarketingError
from smarketing.kpi.report import channels, conversion, funnel, outcomes, progress, teams
from smarketing.kpi.report.model import Months, Section, display, raw
from smarketing.paths import report_dir, report_file_name
from smarketing.warehouse.connection import connect

log = logging.getLogger(__name__)

SectionBuilder = Callable[[psycopg.Connection, Months], Section]
SECTIONS: tuple[SectionBuilder, ...] = (
    funnel.headline_section,
    funnel.funnel_section,
    conversion.cohort_section,
    conversion.velocity_section,
    channels.attribution_section,
    teams.sla_section,
    teams.delivery_section,
    channels.engagement_section,
    outcomes.nurture_section,
    outcomes.score_quality_section,
    progress.goals_section,
    progress.data_quality_section,
)
TEMPLATE = "review.html.j2"


class ReportUnavailable(SmarketingError):
    """The warehouse cannot give a report (its kpi tables do not exist)."""


@dataclass(frozen=True)
class ReportResult:
    """A rendered report: `path` of the file, `month` reviewed (its first day), the `sections` it has and
    those of them that had no data (`empty_sections`, by id)."""

    path: Path
    month: date
    sections: tuple[str, ...]
    empty_sections: tuple[str, ...]


def default_report_path(month: date) -> Path:
    """Where a month's report goes unless told otherwise: `report_dir()/review-YYYY-MM.html`."""
    return report_dir() / report_file_name(month.replace(day=1))


def render_report(dsn: str, month: date, out: Path | None = None) -> ReportResult:
    """Write the review report of `month` (any day of it) read from the warehouse at `dsn`.

    `out`: the HTML file to write (default `default_report_path(month)`); its folder is created and the
    file replaced whole (written aside, then renamed), so a reader never sees half a report. A month
    without data renders with "no data" sections. Returns what was written.
    """
    started = time.monotonic()
    months = Months.of(month)
    target = Path(out) if out is not None else default_report_path(months.month)
    sections, built_as_of = read_sections(dsn, months)
    html = render_html(months, sections, built_as_of)
    _write_whole(target, html)
    empty = tuple(s.id for s in sections if s.empty)
    log.info(
        "review report %s: %d sections (%d without data) in %.1f s -> %s",
        f"{months.month:%Y-%m}",
        len(sections),
        len(empty),
        time.monotonic() - started,
        target,
    )
    return ReportResult(target, months.month, tuple(s.id for s in sections), empty)


def read_sections(dsn: str, months: Months) -> tuple[list[Section], datetime | None]:
    """Every section of `months`, and the moment the KPI tables were last built as of, read in one
    read-only snapshot. A warehouse without the kpi tables is a `ReportUnavailable`."""
    with connect(dsn) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with conn.transaction():
                sections = [build(conn, months) for build in SECTIONS]
                built_as_of = conn.execute("SELECT max(as_of) FROM ops.kpi_state").fetchone()[0]  # type: ignore[index]
        except psycopg.errors.UndefinedTable as exc:
            raise ReportUnavailable(
                f"the warehouse has no KPI tables ({exc.diag.message_primary}): run `smarketing db upgrade`, "
                "then `smarketing kpi build`"
            ) from exc
    return sections, built_as_of


def render_html(months: Months, sections: list[Section], built_as_of: datetime | None) -> str:
    """The page for `sections` (the template is `review.html.j2` next to this module)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["display"] = display
    env.filters["raw"] = raw
    env.filters["svg"] = Markup  # matplotlib's own SVG output: its text is XML-escaped by matplotlib
    return env.get_template(TEMPLATE).render(
        month=months.month,
        previous=months.previous,
        sections=sections,
        built_as_of=built_as_of,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        version=__version__,
    )


def _write_whole(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, aside = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(aside, 0o644)
        os.replace(aside, target)
    except BaseException:
        Path(aside).unlink(missing_ok=True)
        raise
