"""The Smarketing page: a FastAPI app the Airflow API server mounts (plugins/smarketing_ui.py).

Airflow does not protect a plugin's app: every route here depends on Airflow's own access check
(`requires_access_view(AccessView.WEBSITE)`: a signed-in user who may see the Airflow UI), so an
anonymous request gets 401 and a token without that right 403. The DAG block lists only the DAGs the
user may read. The page is rendered by jinja2 with autoescaping; reports and Data Docs are served from
their directories by name, never by a path the request builds.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from smarketing.kpi.report.model import display, raw
from smarketing.paths import report_dir
from smarketing.privacy import mask_emails
from smarketing.ui.runs import DagStatus, smarketing_dags
from smarketing.ui.warehouse import Snapshot, as_date, change, read_snapshot

log = logging.getLogger(__name__)

URL_PREFIX = "/smarketing"
REPORT_NAME = re.compile(r"^review-\d{4}-\d{2}\.html$")
# Which block of the page each DAG feeds: a DAG's own tab opens the page there.
DAG_SECTIONS = {
    "smarketing_ingest": "quality",
    "smarketing_sla": "sla",
    "smarketing_scoring": "scoring",
    "smarketing_nurture": "pipelines",
    "smarketing_kpi": "kpis",
    "smarketing_review": "reports",
}

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(display=display, raw=raw, day=as_date)


def _guard() -> Any:
    """Airflow's access dependency (imported here: it needs the API server's configuration)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view

    return Depends(requires_access_view(AccessView.WEBSITE))


def create_app() -> FastAPI:
    """The app with its routes, every one behind Airflow's access check."""
    from airflow.api_fastapi.core_api.security import get_user

    app = FastAPI(
        title="Smarketing", dependencies=[_guard()], docs_url=None, redoc_url=None, openapi_url=None
    )

    @app.get("/", response_class=HTMLResponse)
    def page(user: Any = Depends(get_user), dag: str | None = None) -> HTMLResponse:  # noqa: B008
        return HTMLResponse(render_page(_readable_dags(user), focus=dag))

    @app.get("/dag/{dag_id}")
    def dag_part(dag_id: str) -> RedirectResponse:
        section = DAG_SECTIONS.get(dag_id, "pipelines")
        return RedirectResponse(f"{airflow_base_path()}{URL_PREFIX}/?dag={dag_id}#{section}", status_code=303)

    @app.get("/reports/{name}")
    def report(name: str) -> FileResponse:
        path = report_dir() / name
        if not REPORT_NAME.match(name) or not path.is_file():
            raise HTTPException(404, f"no review report named {name!r}")
        return FileResponse(path, media_type="text/html")

    @app.get("/data-docs/{path:path}")
    def data_docs(path: str) -> FileResponse:
        return FileResponse(_data_docs_file(path))

    return app


def _readable_dags(user: Any) -> set[str]:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_authorized_dag_ids(user=user, method="GET")


def data_docs_dir() -> Path:
    """The Great Expectations Data Docs site (config/quality.yaml `data_docs.dir`)."""
    from smarketing.quality.settings import load_settings

    return load_settings().data_docs.site_dir()


def _data_docs_file(relative: str) -> Path:
    root = data_docs_dir().resolve()
    target = (root / (relative or "index.html")).resolve()
    if target.is_dir():
        target = target / "index.html"
    # Only files inside the site: `..` and absolute paths resolve outside it.
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, "no such Data Docs page")
    return target


def report_links() -> list[dict[str, str]]:
    """The review reports on disk, newest month first: {"name", "month"}."""
    folder = report_dir()
    names = sorted((p.name for p in folder.glob("review-*.html") if REPORT_NAME.match(p.name)), reverse=True)
    return [{"name": name, "month": name[len("review-") : -len(".html")]} for name in names]


def render_page(readable: set[str] | None, focus: str | None = None, now: datetime | None = None) -> str:
    """The page's HTML for a user who may read the DAGs `readable` (None: all of them).

    Args:
        readable: DAG ids the user may read; the pipelines block shows only those.
        focus: a DAG id whose row is highlighted (the DAG's own tab opens the page with it).
        now: the moment freshness is measured at (default: now).
    """
    now = now or datetime.now(UTC)
    problems: list[str] = []
    try:
        snapshot = read_snapshot(page_warehouse_dsn())
    except Exception as exc:  # the page still shows the pipelines and the links, and says why
        problems.append(f"The warehouse could not be read: {mask_emails(str(exc)).splitlines()[0]}")
        snapshot = Snapshot()
    try:
        dags: list[DagStatus] = smarketing_dags(readable, now)
    except Exception as exc:
        problems.append(f"Airflow's run history could not be read: {type(exc).__name__}")
        dags = []
    return _templates.get_template("page.html.j2").render(
        s=snapshot,
        headline=_headline(snapshot),
        glance=at_a_glance(snapshot),
        dags=dags,
        focus=focus,
        now=now,
        reports=report_links(),
        data_docs=(data_docs_dir() / "index.html").is_file(),
        problems=problems,
        prefix=airflow_base_path() + URL_PREFIX,
        base=airflow_base_path(),
    )


def page_warehouse_dsn() -> str:
    """The warehouse the DAGs' tasks read: the Airflow connection `smarketing_warehouse` from Airflow's
    connection store (the API server reads its metadata DB and secrets backends itself, which the task
    SDK's lookup outside a task does not), else what the command line uses (`SMARKETING_WAREHOUSE_DSN`)."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from smarketing.warehouse.connection import CONN_ID, connection_dsn, warehouse_dsn

    try:
        connection = Connection.get_connection_from_secrets(CONN_ID)
    except AirflowNotFoundException:
        return warehouse_dsn()
    return connection_dsn(PostgresHook(postgres_conn_id=CONN_ID), connection)


def airflow_base_path() -> str:
    """The path Airflow is served under (`[api] base_url`'s path, "" at the root): links follow it."""
    from urllib.parse import urlsplit

    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="")).path.rstrip("/")


def _headline(snapshot: Snapshot) -> list[dict[str, Any]]:
    """The month to date as cards: value, kind, change from the same days of the month before."""
    if not snapshot.funnel or snapshot.funnel[0]["new_leads"] is None:
        return []
    current, previous = snapshot.funnel[0], snapshot.funnel[1]
    cards = [
        ("new_leads", "New leads", "int"),
        ("mqls", "MQLs", "int"),
        ("sqls", "SQLs", "int"),
        ("won_deals", "Deals won", "int"),
        ("won_revenue", "Won revenue", "money"),
        ("pipeline_created", "Pipeline created", "money"),
    ]
    return [
        {
            "key": key,
            "label": label,
            "kind": kind,
            "value": current[key],
            "previous": previous[key],
            "change": change(current[key], previous[key]),
        }
        for key, label, kind in cards
    ]


def at_a_glance(snapshot: Snapshot) -> list[tuple[str, str]]:
    """The page's opening lines, one per side of the agreement: (sentence, tone: good, bad or neutral)."""
    lines: list[tuple[str, str]] = []
    d = snapshot.delivery
    if d:
        lines.append(
            (
                f"Marketing: {display(d['delivered'], 'int')} MQLs delivered of {display(d['target'], 'int')} "
                f"this month ({display(d['expected_to_date'], 'int')} expected by now): "
                f"{str(d['status']).replace('_', ' ')}.",
                _tone(d["status"] in ("ahead", "on_pace", "met")),
            )
        )
    m = snapshot.sla_month
    if m and m["on_time_share"] is not None:
        lines.append(
            (f"Sales: {display(m['on_time_share'], 'share')} of MQLs touched within the SLA.", "neutral")
        )
    if snapshot.board or snapshot.kpi_built:
        open_count = snapshot.open_breaches
        lines.append(
            (f"{open_count} open SLA breach{'es' if open_count != 1 else ''}.", _tone(open_count == 0))
        )
    if snapshot.goals:
        on_track = sum(1 for g in snapshot.goals if g["on_track"])
        lines.append(
            (f"{on_track} of {len(snapshot.goals)} goals on track.", _tone(on_track == len(snapshot.goals)))
        )
    return lines


def _tone(good: bool) -> str:
    return "good" if good else "bad"
