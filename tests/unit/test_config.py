"""The agreement file: the sample is valid, and every kind of mistake is reported at its key path."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from smarketing import paths
from smarketing.config import (
    Agreement,
    ConfigError,
    check_config,
    format_key_path,
    load_config,
    parse_clock_time,
    parse_duration,
    resolve_field,
)
from smarketing.paths import CONFIG_DIR, PROJECT_ROOT

SAMPLE = CONFIG_DIR / "smarketing.yaml"
EXAMPLES = sorted((CONFIG_DIR / "examples").glob("*.yaml"))
SMARKETING = Path(sys.executable).with_name("smarketing")

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    return yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: object, name: str = "agreement.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8"
    )
    return path


def problems_after(tmp_path: Path, sample: dict[str, Any], mutate: Mutation) -> list[str]:
    data = copy.deepcopy(sample)
    mutate(data)
    return check_config(write(tmp_path, data))


def problem_at(problems: list[str], key_path: str) -> str:
    """The one problem reported at exactly `key_path`, without its path."""
    found = [p.removeprefix(f"{key_path}: ") for p in problems if p.startswith(f"{key_path}: ")]
    assert len(found) == 1, f"expected one problem at {key_path}, got: {problems}"
    return found[0]


# -- the sample ------------------------------------------------------------------------------------
def test_sample_agreement_is_valid() -> None:
    assert check_config(SAMPLE) == []


def test_sample_agreement_loads_with_the_agreed_values() -> None:
    cfg = load_config(SAMPLE)
    assert cfg.organization.timezone == "Europe/Paris"
    assert cfg.organization.business_hours.weekdays == frozenset({0, 1, 2, 3, 4})
    assert (cfg.organization.business_hours.start, cfg.organization.business_hours.end) == (time(9), time(18))
    assert cfg.organization.holidays is not None and cfg.organization.holidays.country == "FR"
    assert cfg.scoring.version == "2026.11"
    assert (cfg.vocabulary.mql.min_score, cfg.vocabulary.mql.min_grade) == (60, "C")
    assert cfg.scoring.grades == {"A": 40, "B": 25, "C": 10, "D": 0}
    assert cfg.scoring.engagement.half_life_days == 30
    assert cfg.sla.sales.tier_minutes == {"hot": 60, "standard": 240}
    assert cfg.sla.marketing is not None and cfg.sla.marketing.mql_target.monthly == 400
    assert {"it_leader", "ops_manager", "finance", "developer", "student"} <= set(cfg.persona_ids)
    assert all(g.starts_on >= date(2026, 10, 1) and g.ends_on <= date(2026, 12, 31) for g in cfg.goals)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_agreements_are_valid(path: Path) -> None:
    assert check_config(path) == []


def test_load_config_reads_the_default_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = write(tmp_path, SAMPLE.read_text(encoding="utf-8"))
    monkeypatch.setattr(paths, "DEFAULT_CONFIG", target)
    assert load_config().scoring.version == "2026.11"


def test_minimal_agreement_gets_documented_defaults() -> None:
    cfg = load_config(CONFIG_DIR / "examples" / "minimal.yaml")
    hours = cfg.organization.business_hours
    assert (hours.days, hours.start, hours.end) == (("mon", "tue", "wed", "thu", "fri"), time(9), time(18))
    assert cfg.organization.holidays is None and cfg.organization.reporting_currency == "EUR"
    assert (
        cfg.vocabulary.sql_stages == ("salesqualifiedlead",) and cfg.vocabulary.recycle_stage == "nurturing"
    )
    assert [(t.id, t.clock, t.within_minutes, t.when) for t in cfg.sla.sales.tiers] == [
        ("default", "business", 240, None)
    ]
    assert cfg.sla.sales.qualifying_touches == ("call", "email", "meeting", "linkedin")
    assert cfg.sla.sales.at_risk_share == 0.75
    assert cfg.scoring.engagement.half_life_days is None


# -- one test per kind of mistake ------------------------------------------------------------------
def test_unknown_top_level_key(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d.update(scorecard={"x": 1}))
    assert problem_at(problems, "scorecard").startswith("unknown key")


def test_misspelt_top_level_section_suggests_the_right_one(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d.update(scorring=d.pop("scoring")))
    assert "did you mean 'scoring'?" in problem_at(problems, "scorring")
    assert problem_at(problems, "scoring") == "required key is missing (line 1)"


def test_unknown_nested_key(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["scoring"]["engagement"]["half_life"] = d["scoring"]["engagement"].pop("half_life_days")

    problems = problems_after(tmp_path, sample, mutate)
    assert "did you mean 'half_life_days'?" in problem_at(problems, "scoring.engagement.half_life")


def test_unknown_key_in_a_list_item(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["personas"][1]["match"].update(title_regex="x"))
    assert problem_at(problems, "personas[1].match.title_regex").startswith("unknown key")


def test_design_shorthand_for_sales_deadlines_points_to_tiers(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["sla"]["sales"].update(first_touch={"within": "4h"})
    )
    assert "sla.sales.tiers" in problem_at(problems, "sla.sales.first_touch")


def test_wrong_type(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["scoring"]["engagement"]["events"]["email_open"].update(points="high")
    )
    assert problem_at(problems, "scoring.engagement.events.email_open.points").startswith(
        "expected a number, got 'high'"
    )


def test_boolean_is_not_a_number(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["scoring"]["fit"][0].update(points=True))
    assert problem_at(problems, "scoring.fit[0].points").startswith("expected a whole number, got true")


def test_unquoted_version_number(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["scoring"].update(version=2026.11))
    assert "quotes" in problem_at(problems, "scoring.version")


def test_bad_regex(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["personas"][2]["match"].update(job_title_regex="(cfo")
    )
    assert problem_at(problems, "personas[2].match.job_title_regex").startswith("invalid regular expression:")


def test_bad_regex_in_a_fit_rule(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["scoring"]["fit"][0] = {"field": "job_title", "regex": "[unclosed", "points": 1}

    problems = problems_after(tmp_path, sample, mutate)
    assert problem_at(problems, "scoring.fit[0].regex").startswith("invalid regular expression:")


def test_unknown_event_type(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["scoring"]["engagement"]["events"].update(email_opened={"points": 1})
    )
    assert problem_at(problems, "scoring.engagement.events.email_opened").startswith(
        "unknown event type 'email_opened' (did you mean 'email_open'?)"
    )


def test_negative_half_life(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["scoring"]["engagement"].update(half_life_days=-30)
    )
    assert problem_at(problems, "scoring.engagement.half_life_days").startswith(
        "must be greater than 0, got -30"
    )


def test_no_decay_is_written_null(tmp_path: Path, sample: dict[str, Any]) -> None:
    assert (
        problems_after(tmp_path, sample, lambda d: d["scoring"]["engagement"].update(half_life_days=None))
        == []
    )


@pytest.mark.parametrize("score", [-1, 1001])
def test_mql_min_score_out_of_range(tmp_path: Path, sample: dict[str, Any], score: int) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["vocabulary"]["mql"].update(min_score=score))
    assert problem_at(problems, "vocabulary.mql.min_score").startswith("must be ")


@pytest.mark.parametrize("share", [0, 1, 1.2, -0.5])
def test_at_risk_share_out_of_range(tmp_path: Path, sample: dict[str, Any], share: float) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["sla"]["sales"].update(at_risk_share=share))
    assert problem_at(problems, "sla.sales.at_risk_share").startswith("must be ")


@pytest.mark.parametrize(
    ("mutate", "key_path", "first"),
    [
        (lambda d: d["personas"][1].update(id="it_leader"), "personas[1].id", "personas[0]"),
        (
            lambda d: d["nurturing"]["scenarios"][2].update(id="pricing-interest"),
            "nurturing.scenarios[2].id",
            "nurturing.scenarios[0]",
        ),
        (lambda d: d["goals"][2].update(id="q4-2026-mqls"), "goals[2].id", "goals[0]"),
        (
            lambda d: d["sla"]["sales"]["tiers"][1].update(id="hot"),
            "sla.sales.tiers[1].id",
            "sla.sales.tiers[0]",
        ),
        (
            lambda d: d["scoring"]["fit"][3].update(id="company_size_core"),
            "scoring.fit[3].id",
            "scoring.fit[0]",
        ),
    ],
    ids=["personas", "scenarios", "goals", "tiers", "fit-rules"],
)
def test_duplicate_ids(
    tmp_path: Path, sample: dict[str, Any], mutate: Mutation, key_path: str, first: str
) -> None:
    message = problem_at(problems_after(tmp_path, sample, mutate), key_path)
    assert message.startswith("duplicate id") and f"already used by {first}" in message


def test_duplicate_id_reported_even_when_the_item_is_broken(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["personas"][1].update(id="it_leader")
        d["personas"][0]["match"]["job_title_regex"] = "(cto"

    problems = problems_after(tmp_path, sample, mutate)
    assert problem_at(problems, "personas[1].id").startswith("duplicate id 'it_leader'")
    assert problem_at(problems, "personas[0].match.job_title_regex").startswith("invalid regular expression")


def test_unknown_list_name(tmp_path: Path, sample: dict[str, Any]) -> None:
    rule = next(i for i, r in enumerate(sample["scoring"]["fit"]) if r.get("in_list") == "free_email")
    problems = problems_after(
        tmp_path, sample, lambda d: d["scoring"]["fit"][rule].update(in_list="free_mail")
    )
    assert problem_at(problems, f"scoring.fit[{rule}].in_list").startswith(
        "unknown list 'free_mail' (did you mean 'free_email'?); define it in lists"
    )


def test_unknown_persona_in_an_sla_tier(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["sla"]["sales"]["tiers"][0]["when"]["personas"] = ["it_leader", "cto"]

    problems = problems_after(tmp_path, sample, mutate)
    assert problem_at(problems, "sla.sales.tiers[0].when.personas[1]").startswith("unknown persona 'cto'")


def test_unknown_persona_elsewhere(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["nurturing"]["scenarios"][1]["when"]["personas"] = ["developers"]
        d["sla"]["marketing"]["mql_target"]["segments"]["persona:cio"] = 10
        d["goals"][0]["segment"] = "persona:nobody"
        d["scoring"]["fit"][4]["equals"] = "it_leeder"

    problems = problems_after(tmp_path, sample, mutate)
    assert "did you mean 'developer'?" in problem_at(problems, "nurturing.scenarios[1].when.personas[0]")
    assert problem_at(problems, 'sla.marketing.mql_target.segments["persona:cio"]').startswith(
        "unknown persona"
    )
    assert problem_at(problems, "goals[0].segment").startswith("unknown persona 'nobody'")
    assert problem_at(problems, "scoring.fit[4].equals").startswith("unknown persona 'it_leeder'")


def test_yaml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "organization:\n  timezone: Europe/Paris\n  business_hours: [mon, tue\nvocabulary: {}\n"
    )
    (problem,) = check_config(path)
    assert problem.startswith("(file): YAML syntax error at line 4, column 11:")


def test_tab_indentation_is_a_syntax_error(tmp_path: Path) -> None:
    (problem,) = check_config(write(tmp_path, "organization:\n\ttimezone: Europe/Paris\n"))
    assert problem.startswith("(file): YAML syntax error at line 2")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "(file): the file is empty"),
        ("# only a comment\n", "(file): the file is empty"),
        ("- organization\n- scoring\n", "(file): expected a mapping of sections"),
        ("just text\n", "(file): expected a mapping of sections"),
    ],
)
def test_document_that_is_not_a_mapping(tmp_path: Path, content: str, expected: str) -> None:
    (problem,) = check_config(write(tmp_path, content))
    assert problem.startswith(expected)


def test_missing_file(tmp_path: Path) -> None:
    (problem,) = check_config(tmp_path / "nowhere.yaml")
    assert problem.startswith("(file): file not found")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (problem,) = check_config(tmp_path)
    assert problem.startswith("(file): is a directory")


def test_several_mistakes_reported_together(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["organization"]["timezone"] = "Europe/Pariss"
        d["scoring"]["engagement"]["events"]["email_open"]["points"] = "high"
        d["sla"]["sales"]["tiers"][0]["when"]["personas"] = ["cto"]
        d["goals"][1]["id"] = "q4-2026-mqls"
        d["vocabulary"]["mql"]["min_score"] = 2000
        d["nurturing"]["scenarios"][0]["target"]["system"] = "marketo"

    problems = problems_after(tmp_path, sample, mutate)
    assert "did you mean 'Europe/Paris'?" in problem_at(problems, "organization.timezone")
    problem_at(problems, "scoring.engagement.events.email_open.points")
    problem_at(problems, "sla.sales.tiers[0].when.personas[0]")
    problem_at(problems, "goals[1].id")
    problem_at(problems, "vocabulary.mql.min_score")
    assert "'mautic' or 'hubspot'" in problem_at(problems, "nurturing.scenarios[0].target.system")
    assert len(problems) == 6


def test_problems_carry_the_line_of_the_key(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    marker = "email_open:         {points: 1,"
    assert marker in text
    broken = text.replace(marker, "email_open:         {points: high,")
    line = next(i for i, row in enumerate(broken.splitlines(), start=1) if "points: high" in row)
    problems = check_config(write(tmp_path, broken))
    assert problems == [
        f"scoring.engagement.events.email_open.points: expected a number, got 'high' (line {line})"
    ]


def test_duplicate_yaml_key_is_reported(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace(
        '  version: "2026.11"\n', '  version: "2026.11"\n  version: "2026.12"\n'
    )
    (problem,) = check_config(write(tmp_path, text))
    assert problem.startswith("scoring.version: duplicate key (first given on line ")


def test_impossible_date_is_reported_at_its_key(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace("to: 2026-12-31", "to: 2026-11-31", 1)
    (problem,) = check_config(write(tmp_path, text))
    assert problem.startswith("goals[0].to: expected a date (YYYY-MM-DD), got '2026-11-31'")


# -- organization ----------------------------------------------------------------------------------
def test_unquoted_time_explains_the_yaml_trap(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8").replace('end: "18:00"', "end: 18:00")
    (problem,) = check_config(write(tmp_path, text))
    assert problem.startswith("organization.business_hours.end: write the time in quotes")


@pytest.mark.parametrize(
    ("hours", "key_path", "expected"),
    [
        ({"start": "18:00", "end": "09:00"}, "organization.business_hours.end", "must be later than start"),
        ({"start": "9h"}, "organization.business_hours.start", "invalid time '9h'"),
        ({"start": "25:00"}, "organization.business_hours.start", "invalid time"),
        ({"days": []}, "organization.business_hours.days", "must not be empty"),
        ({"days": ["mon", "mon"]}, "organization.business_hours.days", "listed more than once: mon"),
        ({"days": ["monday"]}, "organization.business_hours.days[0]", "expected one of"),
    ],
)
def test_business_hours_mistakes(
    tmp_path: Path, sample: dict[str, Any], hours: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["organization"]["business_hours"].update(hours))
    assert problem_at(problems, key_path).startswith(expected)


def test_business_day_until_midnight(tmp_path: Path, sample: dict[str, Any]) -> None:
    data = copy.deepcopy(sample)
    data["organization"]["business_hours"].update(start="00:00", end="24:00")
    organization = load_config(write(tmp_path, data)).organization
    assert organization.business_hours.end is None
    from smarketing.sla.settings import calendar_spec

    spec = calendar_spec(organization)
    assert (spec.start_minute, spec.end_minute) == (0, 24 * 60)


@pytest.mark.parametrize(
    ("holidays", "key_path", "expected"),
    [
        ("XX", "organization.holidays.country", "unknown country 'XX'"),
        (
            {"country": "FR", "subdivision": "Bavaria"},
            "organization.holidays.subdivision",
            "unknown subdivision",
        ),
        (False, "organization.holidays.country", "expected text, got false (YAML reads unquoted yes/no"),
        ({"country": "FR", "region": "x"}, "organization.holidays.region", "unknown key"),
    ],
)
def test_holiday_mistakes(
    tmp_path: Path, sample: dict[str, Any], holidays: object, key_path: str, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["organization"].update(holidays=holidays))
    assert problem_at(problems, key_path).startswith(expected)


@pytest.mark.parametrize("holidays", ["FR", "fr", {"country": "FR"}, {"country": "FR", "subdivision": "6AE"}])
def test_holiday_forms(tmp_path: Path, sample: dict[str, Any], holidays: object) -> None:
    data = copy.deepcopy(sample)
    data["organization"]["holidays"] = holidays
    calendar = load_config(write(tmp_path, data)).organization.holidays
    assert calendar is not None and calendar.country == "FR"
    assert date(2026, 7, 14) in calendar.calendar(2026)


def test_unknown_time_zone_and_currency(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["organization"].update(timezone="Paris", reporting_currency="euro")
    )
    assert problem_at(problems, "organization.timezone").startswith("unknown time zone 'Paris'")
    assert problem_at(problems, "organization.reporting_currency").startswith("invalid currency 'euro'")


# -- vocabulary ------------------------------------------------------------------------------------
def test_stages_must_be_lifecycle_stages(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["vocabulary"]["sql_stages"] = ["salesqualifiedlead", "sql"]
        d["vocabulary"]["recycle_stage"] = "recycled"
        d["nurturing"]["scenarios"][2]["when"]["lifecycle_stages"] = ["nurture"]

    problems = problems_after(tmp_path, sample, mutate)
    assert problem_at(problems, "vocabulary.sql_stages[1]").startswith("unknown lifecycle stage 'sql'")
    problem_at(problems, "vocabulary.recycle_stage")
    assert "did you mean 'nurturing'?" in problem_at(
        problems, "nurturing.scenarios[2].when.lifecycle_stages[0]"
    )


def test_custom_lifecycle_stages_are_the_reference(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["vocabulary"].update(lifecycle_stages=["lead", "salesqualifiedlead"])
    )
    problem_at(problems, "vocabulary.recycle_stage")
    problem_at(problems, "vocabulary.disqualified_stages[0]")
    problem_at(problems, "nurturing.scenarios[2].when.lifecycle_stages[0]")


def test_mql_grade_must_be_defined(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["vocabulary"]["mql"].update(min_grade="E"))
    assert problem_at(problems, "vocabulary.mql.min_grade").startswith(
        "unknown grade 'E'; define it in scoring.grades"
    )


# -- scoring ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "key_path", "expected"),
    [
        ({"field": "country", "points": 1}, "scoring.fit[0]", "give exactly one operator"),
        (
            {"field": "country", "equals": "FR", "in": ["BE"], "points": 1},
            "scoring.fit[0]",
            "give exactly one operator",
        ),
        (
            {"field": "company.employees", "between": [500, 10], "points": 1},
            "scoring.fit[0].between",
            "low 500",
        ),
        (
            {"field": "company.employees", "between": [1, 2, 3], "points": 1},
            "scoring.fit[0].between",
            "expected [low, high]",
        ),
        (
            {"field": "company_size", "between": [1, 2], "points": 1},
            "scoring.fit[0].field",
            "unknown field 'company_size'",
        ),
        ({"field": "company.job_title", "equals": "x", "points": 1}, "scoring.fit[0].field", "unknown field"),
        ({"field": "country", "in": [], "points": 1}, "scoring.fit[0].in", "must not be empty"),
        (
            {"field": "country", "equals": None, "points": 1},
            "scoring.fit[0].equals",
            "expected a single value",
        ),
        ({"field": "country", "equals": "FR"}, "scoring.fit[0].points", "required key is missing"),
        (
            {"field": "country", "equals": "FR", "points": 2.5},
            "scoring.fit[0].points",
            "expected a whole number",
        ),
    ],
)
def test_fit_rule_mistakes(
    tmp_path: Path, sample: dict[str, Any], rule: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["scoring"].update(fit=[rule]))
    assert problem_at(problems, key_path).startswith(expected)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("country", ("leads", "country", None)),
        ("employees", ("companies", "employees", None)),
        ("company.country", ("companies", "country", None)),
        ("attributes.hs_lead_status", ("leads", "attributes", "hs_lead_status")),
        ("company.attributes.tech_stack", ("companies", "attributes", "tech_stack")),
    ],
)
def test_fit_rule_fields_resolve_to_a_column(field: str, expected: tuple[str, str, str | None]) -> None:
    assert tuple(resolve_field(field)) == expected


def test_fit_rules_without_id_get_a_stable_unique_one(tmp_path: Path, sample: dict[str, Any]) -> None:
    rules = [
        {"field": "persona_id", "equals": "it_leader", "points": 5},
        {"field": "persona_id", "equals": "developer", "points": 2},
        {"id": "persona_id_equals_it_leader_2", "field": "country", "equals": "FR", "points": 1},
        {"field": "persona_id", "equals": "it_leader", "points": 1},
    ]
    data = copy.deepcopy(sample)
    data["scoring"]["fit"] = rules
    ids = [r.id for r in load_config(write(tmp_path, data)).scoring.fit]
    assert ids == [
        "persona_id_equals_it_leader",
        "persona_id_equals_developer",
        "persona_id_equals_it_leader_2",
        "persona_id_equals_it_leader_3",
    ]


@pytest.mark.parametrize(
    ("grades", "key_path", "expected"),
    [
        ({"A": 40, "B": 45, "C": 10}, "scoring.grades.B", "threshold 45 must be lower than grade A's (40)"),
        ({"A": 40, "C": 10}, "scoring.grades.C", "grades are consecutive capital letters from A"),
        ({"a": 40}, "scoring.grades.a", "grades are consecutive capital letters"),
        ({"A": "forty"}, "scoring.grades.A", "expected a whole number"),
    ],
)
def test_grade_mistakes(
    tmp_path: Path, sample: dict[str, Any], grades: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["scoring"].update(grades=grades))
    assert problem_at(problems, key_path).startswith(expected)


@pytest.mark.parametrize(
    ("rule", "key_path", "expected"),
    [
        ({"points": 1, "cap": -5}, "cap", "must be at least 0"),
        ({"points": 1, "max_per_day": 0}, "max_per_day", "must be at least 1"),
        ({"points": 1, "filter": {}}, "filter", "give content_topic and/or campaign_id"),
        (
            {"points": 1, "filter": {"content_topics": "pricing"}},
            "filter.content_topics",
            "unknown key (did you mean 'content_topic'?)",
        ),
    ],
)
def test_engagement_rule_mistakes(
    tmp_path: Path, sample: dict[str, Any], rule: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["scoring"]["engagement"]["events"].update(page_view=rule)
    )
    assert problem_at(problems, f"scoring.engagement.events.page_view.{key_path}").startswith(expected)


# -- numbers the warehouse cannot hold, regexes PostgreSQL cannot read (each once crashed `score run`) --
def _set(*keys: str | int, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        target: Any = d
        for key in keys[:-1]:
            target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
        target[keys[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("keys", "value", "expected"),
    [
        (
            ("scoring", "engagement", "events", "email_open", "points"),
            float("nan"),
            "expected a finite number",
        ),
        (("scoring", "engagement", "half_life_days"), float("inf"), "expected a finite number"),
        (("scoring", "fit", 0, "points"), 10**20, "must be at most 10000, got 100000000000000000000"),
        (("scoring", "engagement", "events", "email_open", "points"), -1e6, "must be at least -10000"),
        (("scoring", "engagement", "events", "email_open", "cap"), 1e12, "must be at most 1000000000"),
        (("scoring", "engagement", "window_days"), 10**9, "must be at most 36500"),
        (("scoring", "engagement", "floor"), float("-inf"), "expected a finite number"),
        (("scoring", "grades", "A"), 2**40, "must be at most 1000000000"),
        (("scoring", "fit", 0, "between"), [0, float("inf")], "expected a finite number"),
        (("vocabulary", "mql", "min_score"), float("nan"), "expected a finite number"),
        (("sla", "marketing", "mql_target", "monthly"), 2**31, "must be at most 2147483647"),
        (("sla", "sales", "tiers", 0, "within"), "9000h", "duration '9000h' is longer than a year"),
        (("nurturing", "scenarios", 0, "cooldown_days"), 10**6, "must be at most 36500"),
        (("goals", 0, "target"), float("inf"), "expected a finite number"),
    ],
)
def test_numbers_must_be_finite_and_fit_the_warehouse(
    tmp_path: Path, sample: dict[str, Any], keys: tuple[str | int, ...], value: Any, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, _set(*keys, value=value))
    key_path = format_key_path(keys if not isinstance(value, list) else (*keys, 1))
    assert problem_at(problems, key_path).startswith(expected)


def test_yaml_nan_inf_and_huge_numbers_are_refused_at_their_key_path(tmp_path: Path) -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    text = text.replace("half_life_days: 30", "half_life_days: .inf", 1)
    text = text.replace("{points: 1, cap: 10, max_per_day: 1}", "{points: .nan, cap: 10, max_per_day: 1}", 1)
    assert ".inf" in text and ".nan" in text, "the sample's layout changed: update the replacements"
    problems = check_config(write(tmp_path, text))
    assert problem_at(problems, "scoring.engagement.half_life_days").startswith("expected a finite number")
    assert problem_at(problems, "scoring.engagement.events.email_open.points").startswith(
        "expected a finite number"
    )


@pytest.mark.parametrize(
    ("keys", "pattern", "expected"),
    [
        (
            ("scoring", "engagement", "events", "page_view", "filter", "page"),
            "(?P<p>/pricing)",
            "a named group",
        ),
        (("personas", 0, "match", "job_title_regex"), r"(?<=head of )it", "a lookaround"),
        (("scoring", "fit", 0, "regex"), r"(a)\1", "the backreference"),
        (("personas", 1, "match", "job_title_regex"), r"(?i:cto)", "an inline flag group"),
        (
            ("scoring", "engagement", "events", "page_view", "filter", "page"),
            "/p{300}",
            "counts go up to 255",
        ),
    ],
)
def test_regexes_outside_the_one_dialect_are_refused(
    tmp_path: Path, sample: dict[str, Any], keys: tuple[str | int, ...], pattern: str, expected: str
) -> None:
    def mutate(d: dict[str, Any]) -> None:
        if keys[:2] == ("scoring", "fit"):
            d["scoring"]["fit"][0] = {"field": "job_title", "regex": pattern, "points": 1}
        elif keys[-2] == "filter":
            d["scoring"]["engagement"]["events"]["page_view"] = {"points": 1, "filter": {"page": pattern}}
        else:
            _set(*keys, value=pattern)(d)

    problems = problems_after(tmp_path, sample, mutate)
    assert expected in problem_at(problems, format_key_path(keys))


def test_profiles_are_checked_like_the_base(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["scoring"]["profiles"] = [
            {"id": "smb", "fit": [{"field": "email_domain", "in_list": "nope", "points": -5}]},
            {"id": "smb", "engagement": {"events": {"demo": {"points": 5}}}},
        ]

    problems = problems_after(tmp_path, sample, mutate)
    problem_at(problems, "scoring.profiles[0].fit[0].in_list")
    problem_at(problems, "scoring.profiles[1].id")
    problem_at(problems, "scoring.profiles[1].engagement.events.demo")


# -- sla -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tier_change", "key_path", "expected"),
    [
        ({"within": "0m"}, "sla.sales.tiers[1].within", "duration '0m' must be longer than zero"),
        ({"within": 4}, "sla.sales.tiers[1].within", "write a duration with its unit"),
        ({"within": "4 hours"}, "sla.sales.tiers[1].within", "invalid duration '4 hours'"),
        ({"within": "1d"}, "sla.sales.tiers[1].within", "invalid duration '1d' on the business clock"),
        ({"clock": "wall"}, "sla.sales.tiers[1].clock", "expected one of 'business' or 'calendar'"),
        ({"when": {}}, "sla.sales.tiers[1].when", "give min_score, min_grade and/or personas"),
    ],
)
def test_sales_tier_mistakes(
    tmp_path: Path, sample: dict[str, Any], tier_change: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["sla"]["sales"]["tiers"][1].update(tier_change))
    assert problem_at(problems, key_path).startswith(expected)


def test_calendar_clock_accepts_days(tmp_path: Path, sample: dict[str, Any]) -> None:
    data = copy.deepcopy(sample)
    data["sla"]["sales"]["tiers"][1].update(within="2d", clock="calendar")
    assert load_config(write(tmp_path, data)).sla.sales.tier_minutes["standard"] == 2 * 24 * 60


def test_default_tier_must_come_last(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["sla"]["sales"]["tiers"].reverse())
    assert problem_at(problems, "sla.sales.tiers[0]").startswith("only the last tier may omit `when`")
    assert problem_at(problems, "sla.sales.tiers[1].when").startswith("the last tier must have no `when`")


def test_sla_durations_on_the_business_clock(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["sla"]["sales"].update(accept_within="2d", escalate_after="soon")
    )
    assert problem_at(problems, "sla.sales.accept_within").startswith(
        "invalid duration '2d' on the business clock"
    )
    assert problem_at(problems, "sla.sales.escalate_after").startswith("invalid duration 'soon'")


def test_internal_activities_are_not_touches(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["sla"]["sales"].update(qualifying_touches=["call", "note", "fax"])
    )
    assert "does not reach the lead" in problem_at(problems, "sla.sales.qualifying_touches[1]")
    assert problem_at(problems, "sla.sales.qualifying_touches[2]").startswith("unknown activity type 'fax'")


def test_marketing_target_mistakes(tmp_path: Path, sample: dict[str, Any]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["sla"]["marketing"]["mql_target"] = {"monthly": 0, "segments": {"region:EMEA": 10}}

    problems = problems_after(tmp_path, sample, mutate)
    assert problem_at(problems, "sla.marketing.mql_target.monthly").startswith("must be greater than 0")
    assert problem_at(problems, 'sla.marketing.mql_target.segments["region:EMEA"]').startswith(
        "invalid segment"
    )


@pytest.mark.parametrize(
    ("change", "key_path", "expected"),
    [
        ({"behind_tolerance": 1.5}, "behind_tolerance", "must be less than 1"),
        ({"alert_from_share": -0.1}, "alert_from_share", "must be at least 0"),
        ({"alert_from_share": "a week"}, "alert_from_share", "expected a number"),
    ],
)
def test_marketing_pace_settings(
    tmp_path: Path, sample: dict[str, Any], change: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["sla"]["marketing"].update(change))
    assert problem_at(problems, f"sla.marketing.{key_path}").startswith(expected)


def test_owner_time_zones_is_a_switch(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["sla"]["sales"].update(owner_time_zones="sometimes")
    )
    assert problem_at(problems, "sla.sales.owner_time_zones").startswith("expected true or false")


def test_sla_grade_must_be_defined(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["sla"]["sales"]["tiers"][0]["when"].update(min_grade="Z")
    )
    assert problem_at(problems, "sla.sales.tiers[0].when.min_grade").startswith("unknown grade 'Z'")


# -- nurturing and goals ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("target", "key_path", "expected"),
    [
        ({"system": "hubspot", "segment": 12}, "target.segment", "hubspot takes list, not segment"),
        ({"system": "mautic"}, "target", "give exactly one of segment or campaign for mautic"),
        ({"system": "mautic", "segment": 1, "campaign": 2}, "target", "give exactly one of"),
        ({"segment": 1}, "target.system", "required key is missing"),
    ],
)
def test_nurture_target_mistakes(
    tmp_path: Path, sample: dict[str, Any], target: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["nurturing"]["scenarios"][0].update(target=target)
    )
    assert problem_at(problems, f"nurturing.scenarios[0].{key_path}").startswith(expected)


def test_scenario_cooldown_must_not_be_negative(tmp_path: Path, sample: dict[str, Any]) -> None:
    problems = problems_after(
        tmp_path, sample, lambda d: d["nurturing"]["scenarios"][1].update(cooldown_days=-1)
    )
    assert problem_at(problems, "nurturing.scenarios[1].cooldown_days").startswith("must be at least 0")


@pytest.mark.parametrize(
    ("change", "key_path", "expected"),
    [
        ({"to": date(2026, 9, 1)}, "to", "2026-09-01 is before from (2026-10-01)"),
        ({"metric": "mql_to_sql_rate", "target": 30}, "target", "mql_to_sql_rate is a share"),
        ({"metric": "mqls"}, "metric", "unknown metric 'mqls'"),
        ({"from": "next monday"}, "from", "expected a date (YYYY-MM-DD)"),
    ],
)
def test_goal_mistakes(
    tmp_path: Path, sample: dict[str, Any], change: dict[str, Any], key_path: str, expected: str
) -> None:
    problems = problems_after(tmp_path, sample, lambda d: d["goals"][0].update(change))
    assert problem_at(problems, f"goals[0].{key_path}").startswith(expected)


# -- the Python API --------------------------------------------------------------------------------
def test_load_config_raises_with_every_problem(tmp_path: Path, sample: dict[str, Any]) -> None:
    data = copy.deepcopy(sample)
    data["organization"]["timezone"] = "Mars/Olympus"
    data["scoring"]["engagement"]["half_life_days"] = 0
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.path == path
    assert len(caught.value.problems) == 2
    text = str(caught.value)
    assert text.startswith(f"{path}: 2 problem(s)")
    assert all(problem in text for problem in caught.value.problems)


def test_model_validate_runs_every_check(sample: dict[str, Any]) -> None:
    data = copy.deepcopy(sample)
    data["sla"]["sales"]["tiers"][0]["when"]["personas"] = ["cto"]
    data["scoring"]["engagement"]["events"]["email_open"]["points"] = "high"
    with pytest.raises(ValidationError) as caught:
        Agreement.model_validate(data)
    locs = {tuple(e["loc"]) for e in caught.value.errors()}
    assert locs == {
        ("sla", "sales", "tiers", 0, "when", "personas", 0),
        ("scoring", "engagement", "events", "email_open", "points"),
    }


def test_agreement_helpers(sample: dict[str, Any]) -> None:
    cfg = Agreement.model_validate(sample)
    assert cfg.match_persona("Head of IT") == "it_leader"
    assert cfg.match_persona("Senior Developer") == "developer"
    assert cfg.match_persona("Chef") is None and cfg.match_persona(None) is None
    assert [cfg.scoring.grade_for(p) for p in (50, 40, 39, 10, 0, -1, None)] == [
        "A",
        "A",
        "B",
        "C",
        "D",
        None,
        None,
    ]
    assert cfg.is_mql(60, "C") and cfg.is_mql(75, "A")
    assert not cfg.is_mql(59.9, "A") and not cfg.is_mql(80, "D") and not cfg.is_mql(80, None)
    assert cfg.sla.sales.tier_for(90, None, None).id == "hot"
    assert cfg.sla.sales.tier_for(89, "A", "it_leader").id == "standard"
    engagement = cfg.scoring.engagement
    assert engagement.decay(0) == 1 and engagement.decay(30) == pytest.approx(0.5)
    assert engagement.decay(181) == 0


def test_models_are_frozen(sample: dict[str, Any]) -> None:
    cfg = Agreement.model_validate(sample)
    with pytest.raises(ValidationError):
        cfg.scoring.version = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("personas", 2, "match", "job_title_regex"), "personas[2].match.job_title_regex"),
        (("lists", "free mail", 0), 'lists["free mail"][0]'),
        (
            ("sla", "marketing", "mql_target", "segments", "persona:it_leader"),
            'sla.marketing.mql_target.segments["persona:it_leader"]',
        ),
        ((), "(top level)"),
    ],
)
def test_key_path_format(loc: tuple[str | int, ...], expected: str) -> None:
    assert format_key_path(loc) == expected


# -- durations and times ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "minutes"),
    [("90m", 90), ("4h", 240), ("2d", 2880), ("1h30m", 90), ("1d 4h", 1680), (" 15m ", 15)],
)
def test_parse_duration(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "4", "h", "4 hours", "-1h", "1.5h", "30m1h", "1h1h", "4H"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59))
def test_parse_duration_adds_its_parts(days: int, hours: int, minutes: int) -> None:
    text = "".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n) or "0m"
    assert parse_duration(text) == days * 1440 + hours * 60 + minutes


@pytest.mark.parametrize(
    ("text", "value"), [("09:00", time(9)), ("9:30", time(9, 30)), ("23:59", time(23, 59))]
)
def test_parse_clock_time(text: str, value: time) -> None:
    assert parse_clock_time(text) == value


# -- the command line ------------------------------------------------------------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SMARKETING), "config", "check", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )


def test_cli_accepts_the_sample() -> None:
    result = run_cli(str(SAMPLE))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{SAMPLE}: ok"


def test_cli_lists_every_problem_and_exits_2(tmp_path: Path, sample: dict[str, Any]) -> None:
    data = copy.deepcopy(sample)
    data["personas"][2]["match"]["job_title_regex"] = "(cfo"
    data["scoring"]["engagement"]["events"]["email_open"]["points"] = "high"
    data["sla"]["sales"]["tiers"][0]["when"]["personas"] = ["cto"]
    path = write(tmp_path, data)
    expected = check_config(path)
    assert len(expected) == 3
    result = run_cli(str(path))
    assert result.returncode == 2
    for problem in expected:
        assert f"{path}: {problem}" in result.stderr
    assert f"{path}: 3 problem(s)" in result.stderr


def test_cli_reports_a_missing_file_without_a_traceback(tmp_path: Path) -> None:
    result = run_cli(str(tmp_path / "missing.yaml"))
    assert result.returncode == 2
    assert "(file): file not found" in result.stderr and "Traceback" not in result.stderr
