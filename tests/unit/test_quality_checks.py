"""The generated suites: what each table is checked for, at which severity, from which agreement values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smarketing.config import load_config
from smarketing.quality.checks import OBJECT_ORDER, batch_checks, freshness_checks, raw_checks
from smarketing.quality.corechecks import CORE_TABLES, core_checks
from smarketing.quality.engine import CheckResult, SuiteRun
from smarketing.quality.expectations import Check, Context
from smarketing.quality.gate import ValidationReport, describe
from smarketing.quality.settings import QualityConfigError, parse_settings
from smarketing.vocabulary import EVENT_TYPES

CHECKED_AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context.from_agreement(parse_settings({}), load_config(), CHECKED_AT)


def by_id(checks: list[Check]) -> dict[str, Check]:
    return {c.check_id: c for c in checks}


def test_every_raw_suite_checks_ids_timestamps_and_references(ctx: Context) -> None:
    expected = {
        "leads": {
            "email_well_formed",
            "lifecycle_stage_allowed",
            "company_resolves",
            "owner_resolves",
            "created_at_parseable",
            "created_at_not_in_future",
            "consent_email_is_boolean",
        },
        "companies": {
            "employees_not_negative",
            "annual_revenue_not_negative",
            "employees_is_number",
            "domain_well_formed",
        },
        "owners": {"manager_resolves", "active_is_boolean"},
        "marketing_events": {
            "lead_source_id_present",
            "lead_resolves",
            "event_type_allowed",
            "occurred_at_present",
            "occurred_at_parseable",
            "occurred_at_not_in_future",
        },
        "sales_activities": {
            "lead_resolves",
            "owner_resolves",
            "activity_type_allowed",
            "occurred_at_parseable",
        },
        "deals": {
            "lead_resolves",
            "company_resolves",
            "amount_not_negative",
            "amount_is_number",
            "is_won_is_boolean",
            "closed_not_before_created",
            "closed_at_not_in_future",
        },
        "lifecycle_history": {"lead_resolves", "stage_allowed", "entered_at_parseable"},
    }
    for object in OBJECT_ORDER:
        checks = by_id(raw_checks(object, "hubspot", ctx))
        assert {"id_present", "id_unique_in_batch"} | expected[object] <= set(checks), object
        assert all(c.suite == f"raw.{object}" and c.source_system == "hubspot" for c in checks.values())


def test_severities_follow_what_the_core_build_would_do_with_the_row(ctx: Context) -> None:
    events = by_id(raw_checks("marketing_events", "s", ctx))
    assert events["lead_resolves"].severity == "critical"  # core drops an event without its lead
    activities = by_id(raw_checks("sales_activities", "s", ctx))
    assert activities["owner_resolves"].severity == "warning"  # core keeps it, owner unknown
    deals = by_id(raw_checks("deals", "s", ctx))
    assert deals["company_resolves"].severity == "warning"
    assert deals["amount_not_negative"].severity == "critical"
    assert deals["closed_not_before_created"].severity == "warning"
    leads = by_id(raw_checks("leads", "s", ctx))
    assert leads["email_well_formed"].severity == "critical"


def test_allowed_values_come_from_the_agreement_and_the_vocabulary(ctx: Context) -> None:
    agreement = load_config()
    leads = by_id(raw_checks("leads", "s", ctx))
    assert leads["lifecycle_stage_allowed"].kwargs["value_set"] == list(agreement.vocabulary.lifecycle_stages)
    events = by_id(raw_checks("marketing_events", "s", ctx))
    assert set(events["event_type_allowed"].kwargs["value_set"]) == set(EVENT_TYPES)
    core = by_id(core_checks("leads", ctx))
    assert core["persona_allowed"].kwargs["value_set"] == list(agreement.persona_ids)
    stages = by_id(core_checks("lifecycle_history", ctx))
    assert stages["stage_allowed"].kwargs["value_set"] == list(agreement.vocabulary.lifecycle_stages)


def test_future_means_later_than_the_check_plus_the_tolerance(ctx: Context) -> None:
    events = by_id(raw_checks("marketing_events", "s", ctx))
    assert events["occurred_at_not_in_future"].kwargs["max_value"] == CHECKED_AT + timedelta(minutes=10)
    assert events["occurred_at_parseable"].kwargs == {"column": "occurred_at__unparsed"}


def test_severity_overrides_and_source_checks_are_applied() -> None:
    settings = parse_settings(
        {
            "severities": {
                "raw.deals.company_resolves": "critical",
                "core.deals.closed_not_before_lead_created": "critical",
            },
            "sources": {
                "crm": {
                    "deals": [{"id": "product_known", "field": "attributes.Product Name", "in": ["A", "B"]}]
                }
            },
        }
    )
    ctx = Context.from_agreement(settings, load_config(), CHECKED_AT)
    deals = by_id(raw_checks("deals", "crm", ctx))
    assert deals["company_resolves"].severity == "critical"
    assert deals["product_known"].kwargs == {"column": "attributes__product_name", "value_set": ["A", "B"]}
    assert deals["product_known"].severity == "warning"
    assert "product_known" not in by_id(raw_checks("deals", "other_crm", ctx))
    assert by_id(core_checks("deals", ctx))["closed_not_before_lead_created"].severity == "critical"


def test_a_source_check_cannot_reuse_a_check_id() -> None:
    settings = parse_settings(
        {"sources": {"crm": {"leads": [{"id": "email_well_formed", "field": "email", "regex": "@"}]}}}
    )
    ctx = Context.from_agreement(settings, load_config(), CHECKED_AT)
    with pytest.raises(QualityConfigError, match="email_well_formed"):
        raw_checks("leads", "crm", ctx)


def test_batch_freshness_and_core_suites(ctx: Context) -> None:
    assert {c.check_id: c.severity for c in batch_checks(ctx)} == {
        "batch_not_empty": "warning",  # an hourly export may have nothing new
        "batch_volume_usual": "warning",
    }
    assert [c.check_id for c in freshness_checks(ctx)] == ["source_fresh"]
    for table in CORE_TABLES:
        assert core_checks(table, ctx), table


def test_every_check_is_a_valid_great_expectations_expectation(ctx: Context) -> None:
    checks = [c for o in OBJECT_ORDER for c in raw_checks(o, "s", ctx) + core_checks(o, ctx)]
    for check in checks + batch_checks(ctx) + freshness_checks(ctx):
        expectation = check.build()
        assert expectation.meta == {"check_id": check.check_id, "severity": check.severity}
        assert expectation.expectation_type == check.expectation_type


def test_messages_name_table_check_severity_and_row_counts(ctx: Context) -> None:
    check = by_id(raw_checks("leads", "hubspot", ctx))["email_well_formed"]
    run = SuiteRun(
        suite="raw.leads",
        source_system="hubspot",
        scope="batches 7",
        stage="x",
        key_columns=("batch_id", "record_no"),
        rows=2000,
        results=[],
        gx_suite_name="raw.leads.hubspot",
        checks=[check],
        sample_keys={"email_well_formed": ["hubspot:101", "hubspot:205"]},
    )
    result = CheckResult(
        check=check, success=False, element_count=2000, unexpected_count=3, unexpected_percent=0.15
    )
    assert describe(run, result) == (
        "raw.leads of hubspot (batches 7): email_well_formed [critical] failed for 3 of 2,000 row(s) (0.1%)"
        " — expected: e-mail is name@domain.tld; e.g. hubspot:101, hubspot:205"
    )
    # The share is of every row checked, not of GX's non-empty values (3 of the 20 rows were empty).
    sparse = CheckResult(
        check=check, success=False, element_count=20, unexpected_count=17, unexpected_percent=100.0
    )
    assert "failed for 17 of 20 row(s) (85.0%) — expected" in describe(run, sparse)
    report = ValidationReport(
        run_id="r", layer="raw", validation_run_id=1, rows_checked=2000, rows_quarantined=3
    )
    report.failures.append(describe(run, result))
    summary = report.finalize()
    assert summary.startswith("raw validation of run r FAILED (2,000 row(s) checked, 3 quarantined")
    assert not report.success and report.as_dict()["success"] is False
