"""Landing file exports into raw.*: idempotent per file, all-or-nothing per file, clear errors."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from smarketing.paths import CONFIG_DIR
from smarketing.sources.files import SourceFileError, ingest_source
from smarketing.sources.mapping import MappingError
from smarketing.warehouse import loading

pytestmark = pytest.mark.integration

CRM_MAPPING = CONFIG_DIR / "sources" / "sandbox_crm.yaml"
MA_MAPPING = CONFIG_DIR / "sources" / "sandbox_ma.yaml"

# -- a small CRM + marketing-tool world with the sandbox generator's exact columns -----------------
OWNERS = (
    [
        "owner_id",
        "first_name",
        "last_name",
        "email",
        "team",
        "manager_owner_id",
        "timezone",
        "active",
        "updated_at",
    ],
    [
        [
            "o1",
            "Ada",
            "Lovelace",
            "ada@corp.example",
            "enterprise",
            "",
            "Europe/Paris",
            "true",
            "2026-10-01T08:00:00Z",
        ],
        [
            "o2",
            "Alan",
            "Turing",
            "alan@corp.example",
            "enterprise",
            "o1",
            "",
            "false",
            "2026-10-01T08:00:00Z",
        ],
    ],
)
COMPANIES = (
    [
        "company_id",
        "name",
        "domain",
        "industry",
        "numberofemployees",
        "annualrevenue",
        "country",
        "hs_lastmodifieddate",
    ],
    [
        [
            "c1",
            "Acme",
            "https://www.Acme.example/",
            "software",
            "250",
            "12000000.50",
            "FR",
            "2026-10-02T09:00:00Z",
        ],
        ["c2", "Globex", "globex.example", "retail", "", "", "DE", "2026-10-02T09:00:00Z"],
        ["c3", "Nodomain", "", "services", "12", "", "US", "2026-10-02T09:00:00Z"],
    ],
)
CRM_CONTACTS = (
    [
        "contact_id",
        "email",
        "firstname",
        "lastname",
        "jobtitle",
        "country",
        "associatedcompanyid",
        "lifecyclestage",
        "hubspot_owner_id",
        "createdate",
        "lastmodifieddate",
        "hs_email_optout",
    ],
    [
        [
            "101",
            "Jane.Doe@Acme.example",
            "Jane",
            "Doe",
            "CTO",
            "FR",
            "c1",
            "marketingqualifiedlead",
            "o1",
            "2026-10-03T10:00:00Z",
            "2026-10-05T10:00:00Z",
            "false",
        ],
        [
            "102",
            "bob@globex.example",
            "Bob",
            "Roe",
            "Marketing intern",
            "DE",
            "c2",
            "lead",
            "o2",
            "2026-10-04T10:00:00Z",
            "2026-10-04T10:00:00Z",
            "true",
        ],
        [
            "103",
            "not-an-email",
            "Carl",
            "Poe",
            "Head of IT",
            "US",
            "c3",
            "subscriber",
            "",
            "2026-10-04T11:00:00Z",
            "2026-10-04T11:00:00Z",
            "false",
        ],
    ],
)
LIFECYCLE = (
    ["contact_id", "lifecyclestage", "entered_at"],
    [
        ["101", "lead", "2026-10-03T10:00:00Z"],
        ["101", "marketingqualifiedlead", "2026-10-05T10:00:00Z"],
        ["102", "lead", "2026-10-04T10:00:00Z"],
        ["999", "lead", "2026-10-04T10:00:00Z"],  # a contact the export does not hold: orphan
    ],
)
ENGAGEMENTS = (
    ["engagement_id", "contact_id", "owner_id", "type", "timestamp"],
    [
        ["e1", "101", "o1", "CALL", "2026-10-05T11:00:00Z"],
        ["e2", "101", "o1", "EMAIL", "2026-10-05T12:00:00Z"],
        ["e3", "102", "o2", "SMOKE_SIGNAL", "2026-10-05T12:00:00Z"],  # not in the vocabulary
    ],
)
DEALS = (
    [
        "deal_id",
        "contact_id",
        "company_id",
        "amount",
        "dealstage",
        "createdate",
        "closedate",
        "hs_lastmodifieddate",
    ],
    [
        [
            "d1",
            "101",
            "c1",
            "15000",
            "closedwon",
            "2026-10-06T10:00:00Z",
            "2026-10-20T10:00:00Z",
            "2026-10-20T10:00:00Z",
        ],
        [
            "d2",
            "102",
            "c2",
            "900.5",
            "presentationscheduled",
            "2026-10-07T10:00:00Z",
            "",
            "2026-10-07T10:00:00Z",
        ],
    ],
)
MA_CONTACTS = (
    [
        "id",
        "email",
        "firstname",
        "lastname",
        "company",
        "position",
        "country",
        "points",
        "stage",
        "tags",
        "dnc_email",
        "date_added",
        "date_modified",
        "last_active",
    ],
    [
        # the CRM's Jane, with other casing and spaces: the same lead
        [
            "7",
            " JANE.DOE@acme.example ",
            "Jane",
            "Doe",
            "Acme",
            "Chief Technology Officer",
            "FR",
            "40",
            "",
            "vip",
            "0",
            "2026-09-30T10:00:00Z",
            "2026-10-06T10:00:00Z",
            "2026-10-06T10:00:00Z",
        ],
        [
            "8",
            "zed@startup.example",
            "Zed",
            "Zee",
            "Startup",
            "Developer",
            "GB",
            "5",
            "",
            "",
            "1",
            "2026-10-01T10:00:00Z",
            "2026-10-01T10:00:00Z",
            "",
        ],
    ],
)
MA_ACTIVITY = (
    ["id", "lead_id", "type", "timestamp", "campaign_id", "url", "topic"],
    [
        ["a1", "7", "email.read", "2026-10-02T10:00:00Z", "camp1", "", "security"],
        ["a2", "7", "page.hit", "2026-10-02T10:05:00Z", "", "https://acme.example/pricing", "pricing"],
        ["a3", "7", "page.hit", "2026-10-02T10:06:00Z", "", "https://acme.example/blog", "blog"],
        ["a4", "8", "form.submitted", "2026-10-02T11:00:00Z", "camp2", "", ""],
        ["a5", "9", "email.read", "2026-10-02T11:00:00Z", "camp1", "", ""],  # contact 9 unknown: orphan
        ["a6", "8", "tweet.liked", "2026-10-02T12:00:00Z", "", "", ""],  # not in the vocabulary
    ],
)
WORLD = {
    "crm/owners.csv": OWNERS,
    "crm/companies.csv": COMPANIES,
    "crm/contacts.csv": CRM_CONTACTS,
    "crm/lifecycle_stage_history.csv": LIFECYCLE,
    "crm/engagements.csv": ENGAGEMENTS,
    "crm/deals.csv": DEALS,
    "ma/contacts.csv": MA_CONTACTS,
    "ma/activity.csv": MA_ACTIVITY,
}


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_world(root: Path, only: Sequence[str] | None = None) -> Path:
    """The small world above as sandbox-shaped CSV files under `root` (all files, or `only` those)."""
    for name, (header, rows) in WORLD.items():
        if only is None or name in only:
            write_csv(root / name, header, rows)
    return root


def ingest_world(dsn: str, root: Path) -> dict[str, int]:
    landed = ingest_source(dsn, CRM_MAPPING, root=root, run_id="test")
    for key, value in ingest_source(dsn, MA_MAPPING, root=root, run_id="test").items():
        landed[key] = landed.get(key, 0) + value
    return landed


def raw_counts(dsn: str) -> dict[str, int]:
    tables = [
        "leads",
        "companies",
        "owners",
        "marketing_events",
        "sales_activities",
        "deals",
        "lifecycle_history",
    ]
    with psycopg.connect(dsn) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in tables}
        counts["batches"] = conn.execute("SELECT count(*) FROM ops.load_batches").fetchone()[0]
    return counts


# -- landing -------------------------------------------------------------------------------------------
def test_world_lands_every_row_with_canonical_payloads(clean_warehouse: str, tmp_path: Path) -> None:
    landed = ingest_world(clean_warehouse, write_world(tmp_path))
    assert landed == {
        "owners": 2,
        "companies": 3,
        "leads": 5,
        "lifecycle_history": 4,
        "sales_activities": 3,
        "deals": 2,
        "marketing_events": 6,
    }
    with psycopg.connect(clean_warehouse) as conn:
        payload, updated = conn.execute(
            "SELECT payload, source_updated_at::text FROM raw.leads WHERE source_system = 'sandbox_crm' AND source_id = '102'"
        ).fetchone()
        assert payload["email"] == "bob@globex.example"
        assert payload["consent_email"] is False  # hs_email_optout = true
        assert payload["created_at"] == "2026-10-04T10:00:00+00:00"
        assert payload["updated_at"] == "2026-10-04T10:00:00+00:00"
        assert payload["attributes"] == {"firstname": "Bob", "lastname": "Roe"}
        assert updated == "2026-10-04 10:00:00+00"
        events = dict(
            conn.execute("SELECT source_id, payload->>'event_type' FROM raw.marketing_events").fetchall()
        )
        assert events == {
            "a1": "email_open",
            "a2": "pricing_page_view",
            "a3": "page_view",
            "a4": "form_submission",
            "a5": "email_open",
            "a6": "tweet.liked",
        }
        company = conn.execute("SELECT payload FROM raw.companies WHERE source_id = 'c1'").fetchone()[0]
        assert company["employees"] == 250 and company["annual_revenue"] == 12000000.5
        owner = conn.execute("SELECT payload FROM raw.owners WHERE source_id = 'o2'").fetchone()[0]
        assert owner["name"] == "Alan Turing" and owner["active"] is False
        assert owner["attributes"] == {"email": "alan@corp.example"}
        deal = conn.execute("SELECT payload FROM raw.deals WHERE source_id = 'd2'").fetchone()[0]
        assert deal["is_won"] is None and deal["closed_at"] is None and deal["amount"] == 900.5
        lifecycle = conn.execute(
            "SELECT array_agg(source_id ORDER BY source_id) FROM raw.lifecycle_history"
        ).fetchone()
        assert lifecycle[0] == ["101|lead", "101|marketingqualifiedlead", "102|lead", "999|lead"]
        record_nos = conn.execute(
            "SELECT array_agg(record_no ORDER BY record_no) FROM raw.marketing_events"
        ).fetchone()
        assert record_nos[0] == [1, 2, 3, 4, 5, 6]
        origins = {r[0] for r in conn.execute("SELECT origin FROM ops.load_batches").fetchall()}
        assert "crm/contacts.csv" in origins and "ma/activity.csv" in origins


def test_redelivered_file_lands_nothing(clean_warehouse: str, tmp_path: Path) -> None:
    root = write_world(tmp_path)
    ingest_world(clean_warehouse, root)
    before = raw_counts(clean_warehouse)
    # the same bytes under another name and time stamp are still the same delivery
    copy = tmp_path / "again"
    shutil.copytree(root, copy)
    assert set(ingest_world(clean_warehouse, copy).values()) == {0}
    assert raw_counts(clean_warehouse) == before


def test_changed_file_lands_as_a_new_batch(clean_warehouse: str, tmp_path: Path) -> None:
    root = write_world(tmp_path)
    ingest_world(clean_warehouse, root)
    header, rows = MA_ACTIVITY
    write_csv(
        root / "ma/activity.csv",
        header,
        [*rows, ["a7", "8", "email.clicked", "2026-10-03T10:00:00Z", "", "", ""]],
    )
    landed = ingest_source(clean_warehouse, MA_MAPPING, root=root)
    # a new batch for the new bytes, holding only the record raw did not have
    assert landed == {"leads": 0, "marketing_events": 1}


def estimated_rows(dsn: str, *tables: str) -> dict[str, float]:
    """The planner's row count of each raw table (pg_class.reltuples; -1 until the first ANALYZE)."""
    with psycopg.connect(dsn) as conn:
        return {
            t: conn.execute(
                "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (f"raw.{t}",)
            ).fetchone()[0]
            for t in tables
        }


def test_a_large_landing_analyzes_its_table_and_a_small_one_does_not(
    clean_warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planner sees a big batch at once (the next file's re-delivery check, validation and the core
    build plan with it); a batch that is a small share of its table leaves the statistics be."""
    monkeypatch.setattr(loading, "ANALYZE_MIN_ROWS", 3)
    root = write_world(tmp_path)
    ingest_world(clean_warehouse, root)
    assert estimated_rows(clean_warehouse, "marketing_events") == {"marketing_events": 6}
    header, _ = MA_ACTIVITY
    write_csv(
        root / "ma/activity.csv", header, [["a7", "8", "email.clicked", "2026-10-03T10:00:00Z", "", "", ""]]
    )
    assert ingest_source(clean_warehouse, MA_MAPPING, root=root)["marketing_events"] == 1  # under the minimum
    assert estimated_rows(clean_warehouse, "marketing_events") == {"marketing_events": 6}


def test_reexported_records_land_once_whatever_the_bytes(clean_warehouse: str, tmp_path: Path) -> None:
    """The same records exported again with CRLF line endings, rows reversed and columns reordered land
    nothing; the one record that changed lands, with its row number in the new file."""
    root = write_world(tmp_path)
    ingest_world(clean_warehouse, root)
    before = raw_counts(clean_warehouse)
    header, rows = CRM_CONTACTS
    changed = [list(r) for r in reversed(rows)]
    jobtitle = header.index("jobtitle")
    changed[1][jobtitle] = "Chief Revenue Officer"
    order = list(reversed(range(len(header))))
    path = root / "crm/contacts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([header[i] for i in order])
        writer.writerows([[row[i] for i in order] for row in changed])
    landed = ingest_source(clean_warehouse, CRM_MAPPING, root=root)
    assert landed["leads"] == 1, landed
    after = raw_counts(clean_warehouse)
    assert after["leads"] == before["leads"] + 1
    with psycopg.connect(clean_warehouse) as conn:
        record_no, title = conn.execute(
            "SELECT record_no, payload->>'job_title' FROM raw.leads WHERE batch_id = "
            "(SELECT max(batch_id) FROM ops.load_batches WHERE object = 'leads')"
        ).fetchone()
    assert (record_no, title) == (2, "Chief Revenue Officer")


def test_parquet_and_globs(clean_warehouse: str, tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    for day, ids in (("2026-10-01", ["p1", "p2"]), ("2026-10-02", ["p3"])):
        table = pa.table(
            {
                "id": ids,
                "lead": ["L1"] * len(ids),
                "kind": ["Webinar"] * len(ids),
                "at": pa.array([1_790_000_000_000_000] * len(ids), pa.timestamp("us", tz="UTC")),
                "score": pa.array([1.5] * len(ids)),
            }
        )
        pq.write_table(table, tmp_path / "events" / f"events_{day}.parquet")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        """
source_system: webinars
files:
  - object: marketing_events
    path: events/events_*.parquet
    id: id
    columns: {lead_source_id: lead, event_type: kind, occurred_at: at}
    values: {event_type: {Webinar: webinar_attended}}
""",
        encoding="utf-8",
    )
    assert ingest_source(clean_warehouse, mapping) == {"marketing_events": 3}
    with psycopg.connect(clean_warehouse) as conn:
        rows = conn.execute("SELECT origin, row_count FROM ops.load_batches ORDER BY batch_id").fetchall()
        payload = conn.execute("SELECT payload FROM raw.marketing_events WHERE source_id = 'p3'").fetchone()[
            0
        ]
    assert rows == [("events/events_2026-10-01.parquet", 2), ("events/events_2026-10-02.parquet", 1)]
    assert payload["occurred_at"] == "2026-09-21T14:13:20+00:00"
    assert payload["event_type"] == "webinar_attended"
    assert payload["attributes"] == {"score": "1.5"}


def test_naive_times_use_the_mapping_timezone_and_text_survives_escaping(
    clean_warehouse: str, tmp_path: Path
) -> None:
    write_csv(
        tmp_path / "leads.csv",
        ["id", "created", "note"],
        [
            ["1", "2026-07-01 10:00:00", 'tab\there, "quoted", back\\slash\nnew line, é ✓'],
            ["2", "2026-01-15", ""],
            ["3", "2026-07-01T10:00:00+02:00", "x"],
        ],
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "source_system: local\ntimezone: Europe/Paris\nfiles:\n"
        "  - {object: leads, path: leads.csv, id: id, columns: {created_at: created}}\n",
        encoding="utf-8",
    )
    ingest_source(clean_warehouse, mapping)
    with psycopg.connect(clean_warehouse) as conn:
        rows = dict(conn.execute("SELECT source_id, payload FROM raw.leads").fetchall())
    assert rows["1"]["created_at"] == "2026-07-01T08:00:00+00:00"
    assert rows["2"]["created_at"] == "2026-01-14T23:00:00+00:00"
    assert rows["3"]["created_at"] == "2026-07-01T08:00:00+00:00"
    assert rows["1"]["attributes"]["note"] == 'tab\there, "quoted", back\\slash\nnew line, é ✓'
    assert rows["2"]["attributes"]["note"] is None


# -- bad input: the error names file, column and row; nothing of the file is kept -----------------------
def _contacts_with(tmp_path: Path, row_changes: dict[int, dict[str, str]], drop: str | None = None) -> Path:
    """The world, with a longer contacts file (so the bad row is not the first) carrying the changes."""
    write_world(tmp_path)
    header, rows = CRM_CONTACTS
    rows = [list(r) for r in rows * 40]
    for index, changes in row_changes.items():
        for column, value in changes.items():
            rows[index][header.index(column)] = value
    if drop:
        keep = [i for i, name in enumerate(header) if name != drop]
        header = [header[i] for i in keep]
        rows = [[r[i] for i in keep] for r in rows]
    return write_csv(tmp_path / "crm/contacts.csv", header, rows)


def test_missing_required_column_is_named(clean_warehouse: str, tmp_path: Path) -> None:
    _contacts_with(tmp_path, {}, drop="contact_id")
    with pytest.raises(SourceFileError) as err:
        ingest_source(clean_warehouse, CRM_MAPPING, root=tmp_path)
    message = str(err.value)
    assert "crm/contacts.csv" in message and "column 'contact_id'" in message and "missing" in message
    counts = raw_counts(clean_warehouse)
    # owners and companies come first in the mapping and landed in their own transactions
    assert counts["owners"] == 2 and counts["companies"] == 3
    assert counts["leads"] == 0 and counts["batches"] == 2


def test_unparseable_date_is_named_and_nothing_lands(clean_warehouse: str, tmp_path: Path) -> None:
    _contacts_with(tmp_path, {57: {"createdate": "2026-02-30T10:00:00Z"}})
    with pytest.raises(SourceFileError) as err:
        ingest_source(clean_warehouse, CRM_MAPPING, root=tmp_path)
    message = str(err.value)
    assert "crm/contacts.csv" in message
    assert "column 'createdate'" in message
    assert "row 58 (line 59)" in message
    assert "'2026-02-30T10:00:00Z'" in message
    assert err.value.row == 58 and err.value.column == "createdate"
    counts = raw_counts(clean_warehouse)
    assert counts["leads"] == 0
    with psycopg.connect(clean_warehouse) as conn:
        objects = {r[0] for r in conn.execute("SELECT object FROM ops.load_batches").fetchall()}
    assert "leads" not in objects


def test_bad_boolean_is_named_without_leaking_email(clean_warehouse: str, tmp_path: Path) -> None:
    _contacts_with(tmp_path, {3: {"hs_email_optout": "someone@secret.example"}})
    with pytest.raises(SourceFileError) as err:
        ingest_source(clean_warehouse, CRM_MAPPING, root=tmp_path)
    message = str(err.value)
    assert "column 'hs_email_optout'" in message and "row 4" in message
    assert "someone@" not in message and "***@secret.example" in message


def test_non_utf8_byte_is_named_and_nothing_lands(clean_warehouse: str, tmp_path: Path) -> None:
    path = _contacts_with(tmp_path, {})
    lines = path.read_bytes().split(b"\n")
    # line 31 = data row 30; put a Latin-1 "é" into its job title (the 5th column)
    fields = lines[30].split(b",")
    fields[4] = b"Directeur g\xe9n\xe9ral"
    lines[30] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(SourceFileError) as err:
        ingest_source(clean_warehouse, CRM_MAPPING, root=tmp_path)
    message = str(err.value)
    assert "crm/contacts.csv" in message and "column 'jobtitle'" in message
    assert "row 30 (line 31)" in message and "UTF-8" in message
    assert raw_counts(clean_warehouse)["leads"] == 0


def test_empty_id_is_an_error(clean_warehouse: str, tmp_path: Path) -> None:
    _contacts_with(tmp_path, {9: {"contact_id": ""}})
    with pytest.raises(SourceFileError, match=r"column 'contact_id', row 10 \(line 11\): empty id"):
        ingest_source(clean_warehouse, CRM_MAPPING, root=tmp_path)


def test_missing_file_and_bad_mapping(clean_warehouse: str, tmp_path: Path) -> None:
    with pytest.raises(SourceFileError, match="file not found"):
        ingest_source(clean_warehouse, CRM_MAPPING, root=tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("source_system: x\nfiles:\n  - {object: leads, path: a.csv, id: id, colums: {}}\n")
    with pytest.raises(MappingError, match=r"files\[0\]\.colums: unknown key"):
        ingest_source(clean_warehouse, bad)


def test_malformed_csv_is_an_error_without_leaking_email(clean_warehouse: str, tmp_path: Path) -> None:
    write_world(tmp_path)
    path = tmp_path / "ma/contacts.csv"
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")  # header + one line per record (no value holds a newline)
    path.write_text(text + "9,extra@field.example,too,many,fields\n", encoding="utf-8")
    with pytest.raises(SourceFileError) as err:
        ingest_source(clean_warehouse, MA_MAPPING, root=tmp_path)
    message = str(err.value)
    # The ragged record is named by row and line, wherever it sits in the file.
    assert message.startswith(f"ma/contacts.csv, row {lines} (line {lines + 1}): the header has 14 columns")
    assert "this record 5" in message
    assert "extra@" not in message
    assert raw_counts(clean_warehouse)["leads"] == 0


def test_ragged_row_after_a_multiline_value_names_its_line(clean_warehouse: str, tmp_path: Path) -> None:
    header = ["contact_id", "email", "note"]
    rows = [[f"c{i}", f"p{i}@x.example", "two\nlines" if i == 2 else "ok"] for i in range(1, 6)]
    rows.insert(3, ["c9", "short"])  # record 4, on line 6 (record 2 spans two lines)
    write_csv(tmp_path / "leads.csv", header, rows)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "source_system: rag\nfiles:\n  - {object: leads, path: leads.csv, id: contact_id, "
        "columns: {email: email}}\n"
    )
    with pytest.raises(SourceFileError) as err:
        ingest_source(clean_warehouse, mapping, root=tmp_path)
    assert (err.value.row, err.value.line) == (4, 6), str(err.value)
    assert "the header has 3 columns, this record 2" in str(err.value)
