"""Data Docs that work offline: the stylesheets and scripts GX's pages load from CDNs, served from the site.

GX 1.x renders its pages with `<link>`/`<script>` tags pointing at unpkg, jsDelivr, cdnjs and the
Bootstrap CDN (and its logo at an S3 bucket); without network the index table stays empty (it is
filled by bootstrap-table) and every page is unstyled. Its template loader puts its own templates first,
so a site cannot override them; instead, after each build the pages just written are rewritten to point
at copies under `<site>/static/vendor/`, copied from `datadocs_assets/` (versions and licences in its
README). The dark-theme stylesheet is dropped (a colour preference, 880 kB).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).with_name("datadocs_assets")
VENDOR = "static/vendor"
_UNPKG_TABLE = "https://unpkg.com/bootstrap-table@"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
# Each CDN address GX's templates use → its copy under static/vendor (None: the tag is dropped).
CDN_FILES: dict[str, str | None] = {
    f"{_UNPKG_TABLE}1.19.1/dist/bootstrap-table.min.css": "css/bootstrap-table.min.css",
    f"{_UNPKG_TABLE}1.19.1/dist/bootstrap-table.min.js": "js/bootstrap-table.min.js",
    f"{_UNPKG_TABLE}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "css/bootstrap-table-filter-control.min.css"
    ),
    f"{_UNPKG_TABLE}1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "css/bootstrap-table-filter-control.min.css"
    ),
    f"{_UNPKG_TABLE}1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "js/bootstrap-table-filter-control.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "js/bootstrap.min.js",
    f"{_CDNJS}bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": "css/bootstrap-datepicker.min.css",
    f"{_CDNJS}bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": "js/bootstrap-datepicker.min.js",
    f"{_CDNJS}font-awesome/6.6.0/css/all.min.css": "css/fontawesome.min.css",
    f"{_CDNJS}popper.js/1.12.9/umd/popper.min.js": "js/popper.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "js/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/vega@5": "js/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "js/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "js/vega-embed.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": None,
}
GX_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"

_TAG = re.compile(
    r"<(?P<tag>link|script)\b[^>]*?\b(?:href|src)=\"(?P<url>https?://[^\"]+)\"[^>]*>(?:\s*</script>)?",
    re.IGNORECASE,
)
_IMAGE = re.compile(re.escape(GX_IMAGES) + r"(?P<name>[\w.-]+)(?:\?[^\"]*)?")
_OWN_IMAGES = re.compile(r'(?P<attr>href|src)="(?:\./|(?:\.\./)+)static/images/')
# Subresource-integrity hashes name the CDN's bytes; a local copy is trusted as it stands.
_INTEGRITY = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')


def install_assets(site_dir: Path) -> Path:
    """Copy the vendored files into `<site_dir>/static/vendor` (again only when a file changed)."""
    target = site_dir / VENDOR
    for source in ASSETS_DIR.rglob("*"):
        if source.is_file() and source.name != "README.md":
            copy = target / source.relative_to(ASSETS_DIR)
            if not copy.exists() or copy.stat().st_size != source.stat().st_size:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, copy)
    return target


def localize_page(html: str, site_root: str) -> str:
    """`html` with every CDN asset pointing at the site's copy; `site_root` is the relative path from
    the page's folder to the site's root ("." for index.html, "../../.." for a result page)."""

    def local(match: re.Match[str]) -> str:
        url = match["url"]
        if url not in CDN_FILES:
            log.warning("Data Docs: no local copy of %s", url)
            return match[0]
        name = CDN_FILES[url]
        if name is None:
            return ""
        return _INTEGRITY.sub("", match[0].replace(url, f"{site_root}/{VENDOR}/{name}"))

    html = _TAG.sub(local, html)
    html = _IMAGE.sub(lambda m: f"{site_root}/static/images/{m['name']}", html)
    # GX counts one folder too few for the favicon of a result page: every local image from the root.
    return _OWN_IMAGES.sub(f'\\g<attr>="{site_root}/static/images/', html)


def localize_site(site_dir: Path, since: float) -> int:
    """Install the assets and rewrite the site's pages written at or after `since` (a time.time());
    returns the pages rewritten."""
    install_assets(site_dir)
    rewritten = 0
    for page in site_dir.rglob("*.html"):
        if page.stat().st_mtime < since:
            continue
        text = page.read_text(encoding="utf-8")
        local = localize_page(text, Path(os.path.relpath(site_dir, page.parent)).as_posix())
        if local != text:
            page.write_text(local, encoding="utf-8")
            rewritten += 1
    return rewritten
