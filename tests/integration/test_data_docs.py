"""Data Docs a person can open: short file names however many batches a validation covered, and pages
that load nothing from the network (every stylesheet, script and image is a file of the site)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from smarketing.quality.docs import data_docs_index
from smarketing.quality.raw import validate_raw
from smarketing.quality.settings import load_settings
from smarketing.warehouse.connection import connect
from smarketing.warehouse.loading import land_batch

pytestmark = pytest.mark.integration

_ASSET = re.compile(r"<(?:link|script|img)\b[^>]*?\b(?:href|src)=\"([^\"#]+)\"", re.IGNORECASE)


def _companies(start: int) -> pa.Table:
    payloads = [
        json.dumps({"name": f"Co {i}", "employees": 10 + i, "attributes": {}}) for i in (start, start + 1)
    ]
    return pa.table({"source_id": [f"c{start}", f"c{start + 1}"], "payload": payloads})


def test_a_validation_of_many_batches_gives_short_names_and_offline_pages(
    clean_warehouse: str, docs_dir: Path
) -> None:
    assert data_docs_index() is None  # nothing built yet
    dsn = clean_warehouse
    with connect(dsn, autocommit=True) as conn:
        # Two objects landed in turn: each suite covers every other batch id (no range shortens it).
        for i in range(60):
            land_batch(
                conn,
                source_system="crm",
                object="companies" if i % 2 else "owners",
                origin=f"delivery-{i}",
                rows=[_companies(2 * i)],
            )

    report = validate_raw(dsn, run_id="manual__2026-12-07T04:25:39.854599+00:00", raise_on_failure=False)

    index = data_docs_index()
    assert index is not None and index == (docs_dir / "index.html").resolve()
    assert report.data_docs["index"] == index.as_uri()
    pages = sorted(docs_dir.rglob("*.html"))
    assert len(pages) > 3, pages
    too_long = [p for p in docs_dir.rglob("*") if len(p.name) > 100]
    assert not too_long, too_long
    assert max(len(str(p.relative_to(docs_dir))) for p in pages) < 250
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assets = _ASSET.findall(html)
        remote = [a for a in assets if re.match(r"(?i)https?:|//", a)]
        assert not remote, (page, remote)
        missing = [a for a in assets if not (page.parent / a.split("?")[0]).resolve().is_file()]
        assert not missing, (page, missing)
    index_html = index.read_text(encoding="utf-8")
    assert "static/vendor/js/bootstrap-table.min.js" in index_html  # the index table is filled by it
    assert "static/vendor/js/jquery.min.js" in index_html
    # The settings give the same place the CLI and the Airflow UI link to.
    assert data_docs_index(load_settings().data_docs) == index

    # In a real browser with every network request refused, the index lists the validations (its table
    # is filled by bootstrap-table) and Bootstrap's stylesheet applies.
    rows, navbar_position, remote = _render_offline(index)
    assert rows >= len(report.data_docs) - 1, rows  # one row per validation result shown
    assert navbar_position == "sticky" and not remote, (navbar_position, remote)


def _render_offline(index: Path) -> tuple[int, str, list[str]]:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SMARKETING_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        pytest.skip("no chromium for the browser check: apt-get install -y chromium")
    remote: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.route(re.compile(r"^https?://"), lambda route: (remote.append(route.request.url), route.abort()))
        page.goto(index.as_uri())
        page.wait_for_selector("table tbody tr td a", timeout=15_000)
        rows = page.locator("table tbody tr").count()
        position = page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).position")
        browser.close()
    return rows, position, remote
