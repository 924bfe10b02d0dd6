"""One line per KPI table for people: the latest period's headline figures (`smarketing kpi show`, the demo)."""

from __future__ import annotations

import psycopg

from smarketing.kpi.models import MODEL_NAMES

# Each query returns one row of (label, value) pairs flattened: the latest period of the table.
HEADLINES: dict[str, str] = {
    "funnel_daily": "SELECT 'latest day', max(day)::text, 'rows', count(*)::text FROM kpi.funnel_daily",
    "funnel_monthly": """
        SELECT 'month', month::text, 'new leads', sum(new_leads)::text, 'MQLs', sum(mqls)::text,
               'SQLs', sum(sqls)::text, 'won', sum(won_deals)::text, 'won revenue', sum(won_revenue)::text
        FROM kpi.funnel_monthly WHERE month = (SELECT max(month) FROM kpi.funnel_monthly) GROUP BY month""",
    "conversion_cohorts": """
        SELECT 'closed MQL cohorts', count(DISTINCT cohort_month)::text,
               'MQL->SQL', round(sum(sqls)::numeric / NULLIF(sum(mqls), 0), 3)::text,
               'MQL->won', round(sum(won)::numeric / NULLIF(sum(mqls), 0), 3)::text
        FROM kpi.conversion_cohorts WHERE cohort_kind = 'mql_month' AND NOT is_open""",
    "velocity_monthly": """
        SELECT 'month', month::text, 'MQLs', mqls::text, 'lead velocity rate', lead_velocity_rate::text,
               'median days MQL->SQL', median_days_mql_to_sql::text
        FROM kpi.velocity_monthly WHERE channel = 'all' ORDER BY month DESC LIMIT 1""",
    "attribution_monthly": """
        SELECT 'top channel (W-shaped won revenue)', channel, 'won', sum(won_amount)::text
        FROM kpi.attribution_monthly WHERE model = 'w_shaped' GROUP BY channel ORDER BY sum(won_amount) DESC LIMIT 1""",
    "sla_compliance_monthly": """
        SELECT 'month', month::text, 'handed over', sum(handed_over)::text,
               'on time', round(sum(touched_on_time)::numeric / NULLIF(sum(due), 0), 3)::text,
               'breaches', sum(first_touch_breaches)::text
        FROM kpi.sla_compliance_monthly WHERE month = (SELECT max(month) FROM kpi.sla_compliance_monthly) GROUP BY month""",
    "marketing_delivery_monthly": """
        SELECT 'month', month::text, 'delivered', delivered::text, 'target', target::text, 'status', status
        FROM kpi.marketing_delivery_monthly WHERE segment = 'all' ORDER BY month DESC LIMIT 1""",
    "engagement_monthly": """
        SELECT 'month', month::text, 'sends', sum(sends)::text, 'opens', sum(opens)::text,
               'open rate', round(sum(opens)::numeric / NULLIF(sum(sends), 0), 3)::text
        FROM kpi.engagement_monthly WHERE month = (SELECT max(month) FROM kpi.engagement_monthly) GROUP BY month""",
    "score_quality_monthly": """
        SELECT 'model', model_version, 'cohort', cohort_month::text, 'handed over', handed_over::text,
               'AUC (SQL)', auc_sql::text
        FROM kpi.score_quality_monthly WHERE slice_kind = 'all' ORDER BY cohort_month DESC, model_version LIMIT 1""",
    "nurture_monthly": """
        SELECT 'month', month::text, 'enrolled', sum(leads) FILTER (WHERE arm = 'enrolled')::text,
               'held out', sum(leads) FILTER (WHERE arm = 'held_out')::text
        FROM kpi.nurture_monthly WHERE month = (SELECT max(month) FROM kpi.nurture_monthly) GROUP BY month""",
    "data_quality_daily": """
        SELECT 'days', count(DISTINCT day)::text, 'batches', sum(batches)::text,
               'quarantined', sum(rows_quarantined)::text FROM kpi.data_quality_daily""",
    "goals_progress": """
        SELECT 'goals', count(*)::text, 'on track', count(*) FILTER (WHERE on_track)::text,
               'at', max(day)::text
        FROM kpi.goals_progress g WHERE day = (SELECT max(day) FROM kpi.goals_progress h WHERE h.goal_id = g.goal_id)""",
}


def headlines(conn: psycopg.Connection) -> dict[str, str]:
    """{table: "label value · label value"} for every KPI table; "empty" when it has no rows."""
    out = {}
    for name in MODEL_NAMES:
        row = conn.execute(HEADLINES[name]).fetchone()  # type: ignore[arg-type]  # constant project SQL
        if row is None or all(v is None for v in row[1::2]):
            out[name] = "empty"
            continue
        pairs = zip(row[0::2], row[1::2], strict=True)
        out[name] = " · ".join(f"{label} {'-' if value is None else value}" for label, value in pairs)
    return out
