"""The Smarketing page served by Airflow's own API server app (in-process), over the sandbox world's KPIs.

The app is Airflow's `create_app()` with this project's plugins folder: the plugin is mounted the way
the API server mounts it and its routes sit behind Airflow's auth manager (the simple one, as
`airflow standalone` runs it). Figures on the page are compared with the warehouse tables read here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from smarketing.kpi.report.render import render_report
from tests.integration.kpi_world import sandbox_kpi_warehouse
from tests.integration.ui_expected import CARDS, latest_goals, month_to_date, open_breaches_by_owner, rows
from tests.integration.ui_page_reader import SmarketingPage

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("airflow")]

ROUTES = (
    "/smarketing/",
    "/smarketing/dag/smarketing_sla",
    "/smarketing/reports/review-2026-10.html",
    "/smarketing/data-docs/index.html",
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with sandbox_kpi_warehouse(tmp_path_factory.mktemp("world")) as dsn:
        yield dsn


@pytest.fixture(scope="module")
def client(world: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Airflow's API server app with the plugin, the warehouse, a report and a Data Docs site."""
    from fastapi.testclient import TestClient

    reports = tmp_path_factory.mktemp("reports")
    docs = tmp_path_factory.mktemp("data_docs")
    (docs / "index.html").write_text("<html><body>Data Docs index</body></html>")
    (docs / "validations").mkdir()
    (docs / "validations" / "run.html").write_text("<html><body>one validation</body></html>")
    (docs.parent / "secret.txt").write_text("outside the site")
    saved = {
        k: os.environ.get(k)
        for k in ("SMARKETING_WAREHOUSE_DSN", "SMARKETING_REPORT_DIR", "SMARKETING_DATA_DOCS_DIR")
    }
    os.environ.update(
        SMARKETING_WAREHOUSE_DSN=world, SMARKETING_REPORT_DIR=str(reports), SMARKETING_DATA_DOCS_DIR=str(docs)
    )
    render_report(world, date(2026, 10, 1))
    from airflow.api_fastapi.app import create_app

    try:
        with TestClient(create_app()) as test_client:
            yield test_client
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def token(client) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer1", role="viewer"))


@pytest.fixture(scope="module")
def page(client, token: str) -> tuple[str, SmarketingPage]:
    response = client.get("/smarketing/", cookies={"_token": token})
    assert response.status_code == 200, response.text[:500]
    return response.text, SmarketingPage(response.text)


def test_the_plugin_is_registered_with_a_nav_entry_and_a_dag_tab(client, token: str) -> None:
    found = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}).json()
    (plugin,) = [p for p in found["plugins"] if p["name"] == "smarketing_ui"]
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/smarketing"
    views = {v["destination"]: v for v in plugin["external_views"]}
    assert views["nav"]["href"] == "/smarketing/" and views["nav"]["url_route"] == "smarketing"
    assert views["dag"]["href"] == "/smarketing/dag/{DAG_ID}"


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_requests_are_refused(client, route: str) -> None:
    response = client.get(route, follow_redirects=False)
    assert response.status_code == 401
    assert "Smarketing" not in response.text and "Data Docs" not in response.text


@pytest.mark.parametrize("route", ROUTES)
def test_a_forged_token_is_refused(client, route: str) -> None:
    response = client.get(route, cookies={"_token": "not.a.jwt"}, follow_redirects=False)
    assert response.status_code in (401, 403)


def test_the_headline_cards_equal_the_funnel_month_to_date(world: str, page) -> None:
    _, reader = page
    latest = month_to_date(world)
    assert latest["mqls"] > 0
    for key in CARDS:
        value, text = reader.values[(f"kpi:{key}", "value")]
        assert Decimal(value) == Decimal(latest[key]), key
        assert f"{Decimal(value):,.0f}" in text, (key, text)
    assert f"KPIs, {latest['last']:%B %Y} to date" in reader.text
    assert f"to {latest['last'].day} {latest['last']:%b %Y}" in reader.text


def test_the_change_compares_the_same_days_of_the_month_before(world: str, page) -> None:
    _, reader = page
    (previous,) = rows(
        world,
        """SELECT sum(mqls) AS mqls FROM kpi.funnel_daily, (SELECT max(day) AS d FROM kpi.funnel_daily) last
           WHERE day BETWEEN (date_trunc('month', d) - interval '1 month')::date AND (d - interval '1 month')::date""",
    )
    current = Decimal(reader.values[("kpi:mqls", "value")][0])
    expected = f"{(float(current) / float(previous['mqls']) - 1) * 100:+.1f}%"
    card = next(t for (c, f), (_, t) in reader.values.items() if c == "kpi:mqls")
    assert expected in card, (expected, card)


def test_goals_equal_their_latest_day(world: str, page) -> None:
    _, reader = page
    goals = latest_goals(world)
    assert goals, "the agreement's goals should be measured in the sandbox world"
    assert reader.rows["goals"] == [f"goal:{g['goal_id']}" for g in goals]
    for goal in goals:
        for field in ("target", "actual_to_date", "expected_to_date", "projected"):
            shown = reader.values[(f"goal:{goal['goal_id']}", field)][0]
            assert (Decimal(shown) if shown else None) == goal[field], (goal["goal_id"], field)
        status = {None: "not yet measurable", True: "on track", False: "behind"}[goal["on_track"]]
        assert reader.values[(f"goal:{goal['goal_id']}", "status")][1] == status


def test_the_sla_board_counts_open_breaches_by_owner(world: str, page) -> None:
    _, reader = page
    board = open_breaches_by_owner(world)
    assert board, "the sandbox world has open breaches"
    assert reader.rows["sla-board"] == [f"owner:{b['owner_id']}" for b in board]
    for b in board:
        assert int(reader.values[(f"owner:{b['owner_id']}", "open_breaches")][1]) == b["n"]
    assert int(reader.values[("sla", "open_breaches")][1]) == sum(b["n"] for b in board)


def test_the_opening_lines_sum_up_the_same_figures(world: str, page) -> None:
    html, reader = page
    open_total = sum(b["n"] for b in open_breaches_by_owner(world))
    goals = latest_goals(world)
    assert f"{open_total} open SLA breaches." in reader.text
    assert f"{sum(1 for g in goals if g['on_track'])} of {len(goals)} goals on track." in reader.text
    tones = re.findall(r'<li class="(\w+)">', html.split('id="glance"')[1].split("</ul>")[0])
    assert tones and set(tones) <= {"good", "bad", "neutral"}


def test_marketing_delivery_and_sla_compliance_equal_the_kpi_tables(world: str, page) -> None:
    _, reader = page
    (delivery,) = rows(
        world,
        "SELECT * FROM kpi.marketing_delivery_monthly WHERE segment = 'all' ORDER BY month DESC LIMIT 1",
    )
    assert int(reader.values[("delivery", "delivered")][0]) == delivery["delivered"]
    assert int(reader.values[("delivery", "target")][0]) == delivery["target"]
    assert reader.values[("delivery", "status")][1] == delivery["status"].replace("_", " ")
    (sla,) = rows(
        world,
        """SELECT sum(handed_over) AS handed_over, round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 4) AS share
           FROM kpi.sla_compliance_monthly WHERE month = (SELECT max(month) FROM kpi.sla_compliance_monthly)""",
    )
    assert int(reader.values[("sla-month", "handed_over")][0]) == sla["handed_over"]
    assert Decimal(reader.values[("sla-month", "on_time_share")][0]) == sla["share"]


def test_the_scoring_model_in_effect_is_the_last_finished_run(world: str, page) -> None:
    _, reader = page
    (run,) = rows(
        world,
        "SELECT model_version FROM scoring.runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
    )
    assert reader.values[("scoring-model", "model_version")][1] == run["model_version"]


def test_the_scoring_proposals_show_their_mql_threshold_and_decision(
    world: str, client, token: str, tmp_path: Path
) -> None:
    """A pending proposal points at Required Actions; a decided one says who and which patch; the threshold
    in effect → proposed is shown, or "unchanged" for a proposal stored without one."""
    import psycopg

    from smarketing.review.decision import record_decision
    from smarketing.review.proposal import _store
    from tests.integration.test_review_decisions import PROPOSAL, SUMMARY

    def store(month: date, proposal: dict) -> None:
        _store(world, month, f"manual__{month}", proposal, {**SUMMARY, "month": f"{month:%Y-%m}"})

    store(date(2026, 8, 1), PROPOSAL["scoring"])  # as proposals were stored before they carried a threshold
    store(date(2026, 9, 1), PROPOSAL)
    store(date(2026, 10, 1), PROPOSAL)
    record_decision(
        world,
        date(2026, 9, 1),
        {"chosen_options": ["Approve"], "responded_by_user": {"id": "7", "name": "marie"}},
        agreement=Path(__file__).parents[2] / "config" / "smarketing.yaml",
        proposals_dir=tmp_path,
        relative="config/smarketing.yaml",
    )
    try:
        response = client.get("/smarketing/", cookies={"_token": token})
        reader = SmarketingPage(response.text)
    finally:
        with psycopg.connect(world) as conn:
            conn.execute("DELETE FROM scoring.model_reviews")
    assert reader.rows["reviews"] == ["review:2026-10", "review:2026-09", "review:2026-08"]
    assert reader.values[("review:2026-10", "mql")] == ("18.5", "60 → 18.5")
    assert reader.values[("review:2026-10", "decision")] == (
        "pending",
        "awaiting approval in Required Actions",
    )
    assert reader.values[("review:2026-09", "decision")] == (
        "approved",
        "approved by marie: scoring-2026-09.patch",
    )
    assert reader.values[("review:2026-08", "mql")] == ("", "unchanged (none proposed)")
    assert "/required_actions" in " ".join(reader.links)


def test_the_page_reads_the_warehouse_of_the_airflow_connection_the_tasks_use(
    world: str, client, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `smarketing_warehouse` connection added in Admin > Connections (the metadata DB) is the warehouse
    of the tasks; the page follows it, not the environment's DSN."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(world)
    monkeypatch.setenv("SMARKETING_WAREHOUSE_DSN", "postgresql://postgres@127.0.0.1:1/nowhere")
    with create_session() as session:
        session.add(
            Connection(
                conn_id="smarketing_warehouse",
                conn_type="postgres",
                host=params.get("host", "127.0.0.1"),
                port=int(params.get("port", 5432)),
                login=params.get("user"),
                password=params.get("password"),
                schema=params["dbname"],
            )
        )
    try:
        response = client.get("/smarketing/", cookies={"_token": token})
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "smarketing_warehouse").delete()
    assert "could not be read" not in response.text
    reader = SmarketingPage(response.text)
    latest = month_to_date(world)
    assert Decimal(reader.values[("kpi:mqls", "value")][0]) == Decimal(latest["mqls"])


def test_no_address_and_no_name_on_the_page(world: str, page) -> None:
    html, _ = page
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", html)
    names = [r["name"] for r in rows(world, "SELECT name FROM core.owners WHERE name IS NOT NULL")]
    assert names and not [n for n in names if n in html]


def test_the_review_report_and_data_docs_are_served_and_linked(client, token: str, page) -> None:
    _, reader = page
    assert "/smarketing/reports/review-2026-10.html" in reader.links
    assert "/smarketing/data-docs/index.html" in reader.links
    report = client.get("/smarketing/reports/review-2026-10.html", cookies={"_token": token})
    assert report.status_code == 200 and "Monthly review: October 2026" in report.text
    docs = client.get("/smarketing/data-docs/validations/run.html", cookies={"_token": token})
    assert docs.status_code == 200 and "one validation" in docs.text


@pytest.mark.parametrize(
    "route",
    [
        "/smarketing/reports/review-2026-09.html",  # not written
        "/smarketing/reports/..%2Fsecret.txt",
        "/smarketing/data-docs/..%2Fsecret.txt",
        "/smarketing/data-docs/%2Fetc%2Fpasswd",
    ],
)
def test_nothing_outside_the_report_and_docs_folders_is_served(client, token: str, route: str) -> None:
    response = client.get(route, cookies={"_token": token})
    assert response.status_code == 404
    assert "outside the site" not in response.text and "root:" not in response.text


def test_a_dag_tab_opens_the_page_at_its_part(client, token: str) -> None:
    response = client.get("/smarketing/dag/smarketing_sla", cookies={"_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/smarketing/?dag=smarketing_sla#sla"
    focused = client.get("/smarketing/?dag=smarketing_kpi", cookies={"_token": token})
    assert focused.status_code == 200


def test_a_missing_warehouse_shows_a_clear_problem_not_a_crash(
    client, token: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SMARKETING_WAREHOUSE_DSN", "postgresql://nobody@127.0.0.1:1/none")
    response = client.get("/smarketing/", cookies={"_token": token})
    assert response.status_code == 200
    assert "The warehouse could not be read" in response.text
    assert "No KPI data yet" in response.text


def test_a_review_of_the_closed_month_leaves_the_current_period_and_the_headline_alone(
    world: str, client, token: str
) -> None:
    """A review (run by hand, mid-November) measures October at its end; the page keeps showing the
    KPIs as of the latest regular build (issue #15). Last in this module: it rewrites October."""
    from smarketing.review.steps import build_month_kpis
    from smarketing.ui.warehouse import read_snapshot

    current = (
        "SELECT d::text FROM kpi.funnel_daily d WHERE day >= '2026-11-01' ORDER BY 1",
        "SELECT g::text FROM kpi.goals_progress g ORDER BY 1",
    )
    before = [rows(world, query) for query in current]
    built = read_snapshot(world).kpi_built
    assert before[0] and built and built["as_of"].date() == date(2026, 11, 16)

    build_month_kpis(world, date(2026, 10, 1))

    assert [rows(world, query) for query in current] == before
    assert read_snapshot(world).kpi_built["as_of"] == built["as_of"]
    headline = client.get("/smarketing/", cookies={"_token": token}).text
    assert f"built as of {built['as_of'].strftime('%Y-%m-%d %H:%M UTC')}" in headline
