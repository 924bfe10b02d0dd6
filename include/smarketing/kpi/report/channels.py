"""Attribution by channel under each model (kpi.attribution_monthly) and engagement by campaign
(kpi.engagement_monthly), for the reviewed month."""

from __future__ import annotations

from typing import Any

import psycopg

from smarketing.kpi.report import charts
from smarketing.kpi.report.model import Column, Months, Section, Table, query, records
from smarketing.kpi.report.observe import largest, sentences

MODELS = (
    ("first_touch", "First touch"),
    ("last_touch", "Last touch"),
    ("linear", "Linear"),
    ("w_shaped", "W-shaped"),
)
_CREDITS = ",\n".join(
    f"sum({measure}) FILTER (WHERE model = '{model}') AS {prefix}_{model}"
    for prefix, measure in (("pipeline", "pipeline_amount"), ("won", "won_amount"))
    for model, _ in MODELS
)
ATTRIBUTION = f"""
    SELECT channel, {_CREDITS}
    FROM kpi.attribution_monthly WHERE month = %(month)s
    GROUP BY channel
    ORDER BY sum(won_amount) FILTER (WHERE model = 'w_shaped') DESC NULLS LAST,
             sum(pipeline_amount) FILTER (WHERE model = 'w_shaped') DESC NULLS LAST, channel"""
ATTRIBUTION_COLUMNS = (
    Column("channel", "Channel", "text"),
    *(Column(f"pipeline_{model}", f"Pipeline, {label.lower()}", "money") for model, label in MODELS),
    *(Column(f"won_{model}", f"Won, {label.lower()}", "money") for model, label in MODELS),
)


def attribution_section(conn: psycopg.Connection, months: Months) -> Section:
    """Pipeline opened and revenue won in the month, credited to channels under the four models."""
    rows = records(query(conn, ATTRIBUTION, months.params()))
    section = Section(
        id="attribution",
        title="Attribution by channel",
        about="Each deal's amount credited to the touches of its lead under first-touch, last-touch, linear "
        "and W-shaped models; every deal sums to its amount under each model ('unattributed': no touch).",
        tables=[Table("attribution-by-channel", "kpi.attribution_monthly", ATTRIBUTION_COLUMNS, rows)],
        empty_note="No deal opened or won in the month (kpi.attribution_monthly).",
    )
    if not rows:
        return section
    channels = [row["channel"] for row in rows]
    for measure, title in (("pipeline", "Pipeline opened"), ("won", "Revenue won")):
        if any(row[f"{measure}_w_shaped"] for row in rows):
            section.charts.append(
                charts.hbars(
                    f"attribution-{measure}",
                    channels,
                    {label: [row[f"{measure}_{model}"] for row in rows] for model, label in MODELS},
                    title=f"{title} by channel, under each model",
                )
            )
    section.observations = sentences(*(_leader(rows, measure) for measure in ("won", "pipeline")))
    return section


def _leader(rows: list[dict[str, Any]], measure: str) -> str | None:
    """Which channel each model puts first for a measure, in one sentence."""
    leaders = {label: largest(rows, f"{measure}_{model}") for model, label in MODELS}
    if not any(
        row and row[f"{measure}_{model}"] for (model, _), row in zip(MODELS, leaders.values(), strict=True)
    ):
        return None
    noun = "revenue won" if measure == "won" else "pipeline opened"
    names = {label: row["channel"] for label, row in leaders.items() if row}
    if len(set(names.values())) == 1:
        channel = next(iter(names.values()))
        amount = leaders["W-shaped"][f"{measure}_w_shaped"]  # type: ignore[index]
        return f"Every model credits {channel} with the most {noun} ({amount:,.0f} under W-shaped)."
    spread = "; ".join(f"{label}: {channel}" for label, channel in names.items())
    return f"The models disagree on the channel that brought the most {noun} ({spread})."


_ACTIONS = (
    ("sends", "Sends"),
    ("opens", "Opens"),
    ("clicks", "Clicks"),
    ("form_submissions", "Forms"),
    ("demo_requests", "Demo requests"),
    ("downloads", "Downloads"),
    ("webinar_registrations", "Webinar registrations"),
    ("webinar_attendance", "Webinar attendance"),
    ("unsubscribes", "Unsubscribes"),
    ("bounces", "Bounces"),
)
_RATES = (
    ("open_rate", "opens", "sends"),
    ("click_rate", "clicks", "sends"),
    ("unsubscribe_rate", "unsubscribes", "sends"),
)
ENGAGEMENT = """
    SELECT campaign_id, {sums}, {rates}
    FROM kpi.engagement_monthly WHERE month = %(month)s
    GROUP BY campaign_id ORDER BY {total} DESC, campaign_id""".format(
    sums=", ".join(f"sum({key}) AS {key}" for key, _ in _ACTIONS),
    rates=", ".join(f"round(sum({a})::numeric / NULLIF(sum({b}), 0), 4) AS {name}" for name, a, b in _RATES),
    total=" + ".join(f"sum({key})" for key, _ in _ACTIONS),
)
EMAIL_ACTIONS = ("sends", "opens", "clicks", "unsubscribes", "bounces")
EMAIL_COLUMNS = (
    Column("campaign_id", "Campaign", "text"),
    *(Column(key, label) for key, label in _ACTIONS if key in EMAIL_ACTIONS),
    Column("open_rate", "Open rate", "share"),
    Column("click_rate", "Click rate", "share"),
    Column("unsubscribe_rate", "Unsubscribe rate", "share"),
)
OTHER_COLUMNS = (
    Column("campaign_id", "Campaign", "text"),
    *(Column(key, label) for key, label in _ACTIONS if key not in EMAIL_ACTIONS),
)
CHARTED = ("opens", "clicks", "form_submissions")


def engagement_section(conn: psycopg.Connection, months: Months) -> Section:
    """What each campaign's e-mails, forms, downloads and webinars produced in the month."""
    rows = records(query(conn, ENGAGEMENT, months.params()))
    section = Section(
        id="engagement",
        title="Engagement by campaign",
        about="Interactions of live leads in the month by campaign (a lead opening twice counts twice); "
        "rates per e-mail sent. 'none': interactions outside any campaign.",
        tables=[
            Table("engagement-email", "kpi.engagement_monthly", EMAIL_COLUMNS, rows, "E-mail, by campaign"),
            Table(
                "engagement-actions",
                "kpi.engagement_monthly",
                OTHER_COLUMNS,
                rows,
                "Forms, content, webinars",
            ),
        ],
        empty_note="No marketing interaction in the month (kpi.engagement_monthly).",
    )
    if not rows:
        return section
    labels = dict(_ACTIONS)
    section.charts.append(
        charts.hbars(
            "engagement",
            [row["campaign_id"] for row in rows],
            {labels[key]: [row[key] for row in rows] for key in CHARTED},
            title="Interactions by campaign",
        )
    )
    busiest = rows[0]
    best_open = largest([row for row in rows if row["sends"]], "open_rate")
    section.observations = sentences(
        f"{len(rows)} campaign(s) had interactions; {busiest['campaign_id']} the most.",
        f"Best open rate: {best_open['campaign_id']} ({best_open['open_rate']:.1%} of "
        f"{best_open['sends']:,} sends)."
        if best_open
        else "No e-mail was sent in the month.",
    )
    return section
