"""Great Expectations Data Docs: a static HTML site of every suite and validation result.

Validation runs in an in-memory context; afterwards its results are copied into a small filesystem
store (`data_docs.project_dir`) with the per-row details removed (GX's row queries point at scratch
tables that no longer exist), and the site under `data_docs.dir` is rebuilt for those results only.
Results older than `data_docs.keep_days` are pruned so the site stays small. A file lock keeps two
processes from writing the site at once.
"""

from __future__ import annotations

import copy
import fcntl
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smarketing.quality.docsassets import localize_site
from smarketing.quality.engine import SuiteRun
from smarketing.quality.settings import DataDocs

log = logging.getLogger(__name__)

SITE_NAME = "smarketing"
# Per-row details a result may carry; Data Docs need none of them.
_ROW_DETAILS = (
    "unexpected_index_query",
    "unexpected_index_list",
    "partial_unexpected_list",
    "partial_unexpected_index_list",
    "partial_unexpected_counts",
    "unexpected_list",
    "unexpected_rows",
)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _context(settings: DataDocs) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        FilesystemStoreBackendDefaults,
        ProgressBarsConfig,
    )

    store = settings.store_dir()
    config = DataContextConfig(
        store_backend_defaults=FilesystemStoreBackendDefaults(root_directory=str(store)),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(settings.site_dir()),
                },
                # The index reads every result it lists: list the latest ones only.
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": settings.index_limit,
                },
                "site_section_builders": {"profiling": "None"},
            }
        },
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _sanitized(result: Any) -> Any:
    clean = copy.deepcopy(result)
    for item in clean.results:
        for key in _ROW_DETAILS:
            (item.result or {}).pop(key, None)
    return clean


def prune(settings: DataDocs) -> int:
    """Remove stored results and rendered pages older than keep_days; returns files removed."""
    cutoff = time.time() - settings.keep_days * 86400
    removed = 0
    for root in (settings.store_dir() / "uncommitted" / "validations", settings.site_dir() / "validations"):
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def publish(settings: DataDocs, runs: Sequence[SuiteRun]) -> dict[str, str]:
    """Store the runs' results and render their pages; returns {"index": url, <suite label>: url}."""
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    runs = [r for r in runs if r.gx_result is not None and r.gx_key is not None]
    if not runs:
        return {}
    with _locked(settings.site_dir()):
        prune(settings)
        context = _context(settings)
        identifiers: list[Any] = []
        seen_suites: set[str] = set()
        for run in runs:
            if run.gx_suite_name not in seen_suites:
                seen_suites.add(run.gx_suite_name)
                suite = gx.ExpectationSuite(
                    name=run.gx_suite_name, expectations=[c.build() for c in run.checks]
                )
                context.suites.add_or_update(suite)
                identifiers.append(ExpectationSuiteIdentifier(name=run.gx_suite_name))
            context.validation_results_store.set(run.gx_key, _sanitized(run.gx_result))
            identifiers.append(run.gx_key)
        started = time.time() - 1  # file times may be rounded to the second
        context.build_data_docs(site_names=[SITE_NAME], resource_identifiers=identifiers)
        localize_site(settings.site_dir(), started)
        urls = {"index": (settings.site_dir() / "index.html").as_uri()}
        for run in runs:
            found = context.get_docs_sites_urls(resource_identifier=run.gx_key, site_name=SITE_NAME)
            if found and found[0].get("site_url"):
                urls[run.label] = str(found[0]["site_url"])
    return urls


def publish_safely(settings: DataDocs, runs: Sequence[SuiteRun]) -> dict[str, str]:
    """publish(), logging instead of raising: the results are already recorded, the site is a view."""
    try:
        return publish(settings, runs)
    except Exception as exc:
        log.warning("Data Docs were not built under %s: %s", settings.site_dir(), exc)
        return {}


def rebuild(settings: DataDocs) -> str:
    """Render the whole site again from the stored results (e.g. after deleting the HTML)."""
    with _locked(settings.site_dir()):
        prune(settings)
        context = _context(settings)
        started = time.time() - 1
        context.build_data_docs(site_names=[SITE_NAME])
        localize_site(settings.site_dir(), started)
    return (settings.site_dir() / "index.html").as_uri()


def data_docs_index(settings: DataDocs | None = None) -> Path | None:
    """Where the Data Docs site's front page is: `<data_docs.dir>/index.html` (config/quality.yaml, or
    SMARKETING_DATA_DOCS_DIR), an absolute path; None while no validation has built it yet.

    `settings`: the Data Docs settings (default: loaded from config/quality.yaml). Every page of the site
    is reachable from the index and works offline (its stylesheets and scripts are under the site).
    """
    if settings is None:
        from smarketing.quality.settings import load_settings

        settings = load_settings().data_docs
    index = settings.site_dir() / "index.html"
    return index.resolve() if index.is_file() else None
