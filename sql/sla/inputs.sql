-- One row per clock of _sla_window with what is known about it at <as_of> (the clock's INPUT_COLUMNS),
-- touches and stage changes read at or after the MQL moment and at or before <as_of>.
-- part = 'reading': a clock to compute; part = 'unchanged': a closed clock whose inputs did not change
-- since a reading no later than this one reads the same now, so only its stored statuses travel.
-- Placeholders: <live_columns> (each input column, NULL unless the row is a reading), <mql_at>,
-- <assigned>, <touch>, <accepted>, <rejected>, <unsubscribed> (instants as epoch microseconds),
-- <score_columns> and <scores> (the score and grade at the hand-over, and the joins they need),
-- <fingerprint> (hash of the inputs, see store._fingerprint).
WITH decisions AS (
    -- Each lead's first acceptance and first rejection after its hand-over, with their stages.
    SELECT DISTINCT ON (h.lead_id, k.accepted) h.lead_id, k.accepted, h.entered_at, h.stage
    FROM core.lifecycle_history h JOIN _sla_window w ON w.lead_id = h.lead_id
    CROSS JOIN LATERAL (SELECT h.stage = ANY(%(sql_stages)s) AS accepted) AS k
    WHERE h.entered_at >= w.mql_at AND h.entered_at <= %(as_of)s
      AND h.stage = ANY(%(decision_stages)s)
    ORDER BY h.lead_id, k.accepted, h.entered_at, h.stage
),
stages AS (
    SELECT lead_id,
           max(entered_at) FILTER (WHERE accepted) AS accepted_at,
           max(stage) FILTER (WHERE accepted) AS accept_stage,
           max(entered_at) FILTER (WHERE NOT accepted) AS rejected_at,
           max(stage) FILTER (WHERE NOT accepted) AS reject_stage
    FROM decisions GROUP BY lead_id
)
SELECT CASE WHEN x.live THEN 'reading' ELSE 'unchanged' END AS part, r.lead_id, {live_columns},
       CASE WHEN x.live THEN h.input_hash END AS input_hash,
       CASE WHEN x.live THEN w.stored_hash END AS stored_hash, w.stored_running,
       CASE WHEN NOT x.live THEN w.stored_status END AS status,
       CASE WHEN NOT x.live THEN w.stored_accept_status END AS accept_status
FROM (
    SELECT w.lead_id, {mql_at} AS mql_at, w.mql_source,
           -- An owner assigned after the moment read was not the owner yet.
           CASE WHEN assigned_later THEN NULL ELSE l.owner_id END AS owner_id,
           CASE WHEN assigned_later THEN NULL ELSE {assigned} END AS owner_assigned_at,
           CASE WHEN assigned_later THEN NULL ELSE o.timezone END AS owner_timezone,
           l.persona_id, {score_columns},
           {touch} AS first_touch_at,
           {accepted} AS accepted_at, st.accept_stage,
           {rejected} AS rejected_at, st.reject_stage,
           CASE WHEN l.unsubscribed_at <= %(as_of)s THEN {unsubscribed} END AS unsubscribed_at
    FROM _sla_window w
    JOIN core.leads l ON l.lead_id = w.lead_id
    CROSS JOIN LATERAL (SELECT coalesce(l.owner_assigned_at > %(as_of)s, false) AS assigned_later) AS asg
    LEFT JOIN core.owners o ON o.owner_id = l.owner_id
    {scores}
    -- The first qualifying touch: one short walk down the (lead_id, occurred_at) index per lead, which
    -- beats aggregating every activity of the window.
    LEFT JOIN LATERAL (
        SELECT a.occurred_at AS first_touch_at FROM core.sales_activities a
        WHERE a.lead_id = w.lead_id AND a.occurred_at >= w.mql_at AND a.occurred_at <= %(as_of)s
          AND a.activity_type = ANY(%(touch_types)s)
        ORDER BY a.occurred_at LIMIT 1
    ) AS t ON true
    LEFT JOIN stages st ON st.lead_id = w.lead_id
    OFFSET 0
) AS r
JOIN _sla_window w ON w.lead_id = r.lead_id
-- Everything the reading depends on except the moment read, hashed where it is read (OFFSET 0 keeps
-- each expression computed once per row rather than once per use).
CROSS JOIN LATERAL (SELECT {fingerprint} AS input_hash OFFSET 0) AS h
CROSS JOIN LATERAL (
    SELECT w.stored_hash IS DISTINCT FROM h.input_hash OR w.stored_running
           OR w.stored_evaluated_at > %(as_of)s AS live
    OFFSET 0
) AS x
