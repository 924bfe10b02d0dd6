"""The agreement (`config/smarketing.yaml`): load it, validate it, explain every mistake.

Words: the *agreement* is the file both teams own and its root model `Agreement`; its *settings* are the
parsed sections (`Organization`, `Vocabulary`, `Scoring`, `Sla`, ...), each a `Settings` model.

Both teams edit the file by hand, so validation is built for people, not for stack traces:

* every problem is reported at once, each as ``"<key path>: <message> (line N)"``;
* a key path is dotted for mapping keys and uses ``[i]`` for list positions (0-based), e.g.
  ``personas[2].match.job_title_regex`` or ``scoring.engagement.events.email_open.points``;
  a mapping key that is not a plain word is quoted: ``lists["free mail"]``;
* problems with the file itself (missing, unreadable, YAML syntax, empty, not a mapping) are
  reported under the path ``(file)``.

Checks come in three layers. Value types (`values`) check each value on its own (a regex compiles, a
time zone exists, an event type is in the controlled vocabulary). Each section's settings module checks
its values against each other (start before end, exactly one operator per rule), raising at the exact
key path. `Agreement` then checks references across sections (`references`: a persona named by an SLA
tier exists, a list named by a scoring rule exists) on the raw document, so those problems are found
even when another part of the file is broken.

Modules: `problems` (key paths, messages, `ConfigError`), `values` (value types, the `Settings` base),
one settings module per section (`organization`, `vocabulary` with personas, `scoring`, `sla`,
`nurturing`, `goals`, `privacy`), `references`, `agreement` (the root) and `loading` (YAML with lines, entry points).
Adding a section's settings touches its module and `agreement`.
"""

from __future__ import annotations

from smarketing.config.agreement import Agreement
from smarketing.config.goals import GOAL_METRICS, Goal, GoalMetric
from smarketing.config.loading import check_config, load_config
from smarketing.config.nurturing import NurtureTarget, Nurturing, Scenario, ScenarioCondition
from smarketing.config.organization import BusinessHours, HolidayCalendar, Organization
from smarketing.config.problems import ConfigError, format_key_path
from smarketing.config.scoring import (
    FIT_OPERATORS,
    Engagement,
    EventFilter,
    EventRule,
    FieldRef,
    FitRule,
    Scoring,
    ScoringProfile,
    resolve_field,
)
from smarketing.config.sla import MarketingSla, MqlTarget, SalesSla, SalesTier, Sla, SlaAlerts, TierCondition
from smarketing.config.values import WEEKDAYS, Settings, parse_clock_time, parse_duration
from smarketing.config.vocabulary import MqlDefinition, Persona, PersonaMatch, Vocabulary

__all__ = [
    "FIT_OPERATORS",
    "GOAL_METRICS",
    "WEEKDAYS",
    "Agreement",
    "BusinessHours",
    "ConfigError",
    "Engagement",
    "EventFilter",
    "EventRule",
    "FieldRef",
    "FitRule",
    "Goal",
    "GoalMetric",
    "HolidayCalendar",
    "MarketingSla",
    "MqlDefinition",
    "MqlTarget",
    "NurtureTarget",
    "Nurturing",
    "Organization",
    "Persona",
    "PersonaMatch",
    "SalesSla",
    "SalesTier",
    "Scenario",
    "ScenarioCondition",
    "Scoring",
    "ScoringProfile",
    "Settings",
    "Sla",
    "SlaAlerts",
    "TierCondition",
    "Vocabulary",
    "check_config",
    "format_key_path",
    "load_config",
    "parse_clock_time",
    "parse_duration",
    "resolve_field",
]
