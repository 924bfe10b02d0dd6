"""Write-back sending against a local HTTP server shaped like HubSpot's batch update: throttling is
retried, accepted batches are remembered, a rerun sends only what changed since."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import psycopg
import pytest

from smarketing.scoring.model import Engagement as EngagementModel
from smarketing.scoring.model import EngagementRule, EventPredicate, FitRule, Profile, ScoringModel
from smarketing.scoring.runner import run_scoring
from smarketing.scoring.writeback import WritebackTarget, write_back
from smarketing.sources.http import ApiClient, ApiCredentials, RetryPolicy

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 16, 2, tzinfo=UTC)
TOKEN = "pat-TEST-writeback-0000"


class Recorder(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, str, object]]] = []
    throttle_first = 1

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Recorder.throttle_first:
            Recorder.throttle_first -= 1
            self.send_response(429)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        Recorder.requests.append((self.command, self.path, body))
        payload = json.dumps({"status": "COMPLETE", "results": body["inputs"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def crm() -> Iterator[ApiClient]:
    Recorder.requests, Recorder.throttle_first = [], 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ApiClient(
        "crm",
        ApiCredentials(base_url=f"http://127.0.0.1:{server.server_port}", token=TOKEN),
        retry=RetryPolicy(attempts=4, initial_wait=0.01, max_wait=0.05),
    )
    yield client
    client.close()
    server.shutdown()


def seed(dsn: str) -> ScoringModel:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO core.leads (lead_id, source_system, source_id, country, lifecycle_stage) "
            "SELECT g, 'crm', 'c' || g, CASE WHEN g <= 3 THEN 'FR' ELSE 'DE' END, 'lead' FROM generate_series(1, 250) g"
        )
        conn.execute(
            "INSERT INTO core.lead_sources (source_system, source_id, lead_id, batch_id, record) "
            "SELECT 'crm', 'c' || g, g, 1, '{}'::jsonb FROM generate_series(1, 250) g"
        )
        conn.execute(
            "INSERT INTO core.marketing_events (event_id, lead_id, event_type, occurred_at, source_system) "
            "VALUES ('e1', 1, 'demo_request', %s, 't')",
            (AS_OF,),
        )
    return ScoringModel(
        version="wb",
        profiles=(
            Profile(
                "default",
                (FitRule("france", "country", "equals", "FR", 10),),
                EngagementModel(None, None, (EngagementRule("demo_request", 0, 60.0),), None),
            ),
        ),
        predicates=(EventPredicate("demo_request"),),
        grades=(("A", 10), ("B", 0)),
        mql_min_score=60,
        mql_min_grade="B",
    )


def test_sending_retries_throttling_and_sends_each_change_once(clean_warehouse: str, crm: ApiClient) -> None:
    dsn = clean_warehouse
    model = seed(dsn)
    run_scoring(dsn, model, run_id="r1", as_of=AS_OF)
    target = WritebackTarget("crm", "hubspot", dry_run=False)
    result = write_back(dsn, target, run_id="r1", client=crm)
    assert result == {
        "system": "crm",
        "api": "hubspot",
        "dry_run": False,
        "records": 250,
        "batches": 3,
        "sent": 3,
        "failed": 0,
    }
    assert crm.stats.throttled == 1
    assert [len(body["inputs"]) for _, _, body in Recorder.requests] == [100, 100, 50]
    first = Recorder.requests[0]
    assert first[:2] == ("POST", "/crm/v3/objects/contacts/batch/update")
    mql = next(i for _, _, body in Recorder.requests for i in body["inputs"] if i["id"] == "c1")
    assert mql["properties"] == {
        "smarketing_score": "70",
        "smarketing_grade": "A",
        "lifecyclestage": "marketingqualifiedlead",
    }

    # Nothing changed: nothing to send. Then one lead changes: one record is sent.
    Recorder.requests.clear()
    assert write_back(dsn, target, run_id="r2", client=crm)["records"] == 0
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE core.leads SET country = 'FR' WHERE lead_id = 200")
    run_scoring(dsn, model, run_id="r3", as_of=AS_OF)
    assert write_back(dsn, target, run_id="r3", client=crm)["records"] == 1
    assert [i["id"] for _, _, body in Recorder.requests for i in body["inputs"]] == ["c200"]
    with psycopg.connect(dsn) as conn:
        statuses = conn.execute("SELECT DISTINCT status FROM scoring.writeback_batches").fetchall()
        assert statuses == [("sent",)]
        assert TOKEN not in json.dumps(
            conn.execute("SELECT payload FROM scoring.writeback_batches").fetchall()
        )
