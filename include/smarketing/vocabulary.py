"""The controlled vocabularies, as Python constants.

The warehouse is the source of truth: `core.event_types` and `core.activity_types` are seeded by the
foundation migration, and an integration test keeps these constants equal to those rows. The agreement
(`config/smarketing.yaml`) is validated against them without touching the database, so a typo in an
event type fails `smarketing config check` instead of silently scoring nothing.
"""

from __future__ import annotations

# Rows of core.event_types (sql/migrations/versions/0001_foundation.sql, points_changed from 0005_segments.sql).
EVENT_TYPES: frozenset[str] = frozenset(
    {
        "email_sent",
        "email_open",
        "email_click",
        "bounce",
        "unsubscribe",
        "newsletter_signup",
        "form_submission",
        "demo_request",
        "content_download",
        "webinar_registered",
        "webinar_attended",
        "event_attended",
        "page_view",
        "pricing_page_view",
        "ad_click",
        "social_engagement",
        "chat_started",
        # A score movement in the marketing tool, not an interaction: no engagement rule should name it.
        "points_changed",
    }
)

# Rows of core.activity_types.
ACTIVITY_TYPES: frozenset[str] = frozenset({"call", "email", "meeting", "linkedin", "sms", "note", "task"})

# Activity types that reach the lead; `note` and `task` are internal and never stop an SLA clock.
TOUCH_ACTIVITY_TYPES: frozenset[str] = frozenset({"call", "email", "meeting", "linkedin", "sms"})

# Lifecycle stages in funnel order (HubSpot's internal names, which Mautic mappings reuse). The last
# three are side states, not steps of the funnel.
LIFECYCLE_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "nurturing",
    "disqualified",
    "other",
)

# Objects every source lands in raw.<object> (docs/sources.md).
CANONICAL_OBJECTS: tuple[str, ...] = (
    "leads",
    "companies",
    "owners",
    "marketing_events",
    "sales_activities",
    "deals",
    "lifecycle_history",
)

# Columns of core.leads and core.companies a scoring rule may read. `attributes` is absent on purpose:
# rules read one attribute (`attributes.<key>`), never the whole JSON document.
LEAD_COLUMNS: frozenset[str] = frozenset(
    {
        "lead_id",
        "source_system",
        "source_id",
        "email_normalized",
        "email_domain",
        "job_title",
        "persona_id",
        "country",
        "company_id",
        "lifecycle_stage",
        "owner_id",
        "created_at",
        "updated_at",
        "consent_email",
        "unsubscribed_at",
    }
)
COMPANY_COLUMNS: frozenset[str] = frozenset(
    {
        "company_id",
        "source_system",
        "source_id",
        "name",
        "domain",
        "industry",
        "employees",
        "annual_revenue",
        "country",
        "updated_at",
    }
)
