-- The sales-marketing SLA: the follow-up clock of every handed-over MQL, its breaches and the alerts that
-- announced them, the rejected leads to recycle, and marketing's MQL delivery against target.
-- Every table and column carries a COMMENT: BI tools show it to the teams. Lead ids are not foreign keys:
-- the core build may merge leads, and an SLA record must never block it. Alert ids are not either: the
-- alert row and the rows it marks are written in one transaction, and a per-row check on the hundreds of
-- thousands of breaches a first evaluation records would only slow it down.

-- ---------------------------------------------------------------------------------------------
-- core.leads: when the current owner got the lead (the core build fills it).
-- ---------------------------------------------------------------------------------------------
ALTER TABLE core.leads ADD COLUMN IF NOT EXISTS owner_assigned_at timestamptz;
COMMENT ON COLUMN core.leads.owner_assigned_at IS 'When the current owner was assigned the lead (empty when the source does not say; the SLA clock then takes the MQL moment).';

-- ---------------------------------------------------------------------------------------------
-- sla.followups: one clock per handed-over MQL
-- ---------------------------------------------------------------------------------------------
CREATE TABLE sla.followups (
    lead_id                    bigint      PRIMARY KEY,
    mql_at                     timestamptz NOT NULL,
    mql_source                 text        NOT NULL CHECK (mql_source IN ('scoring', 'crm')),
    owner_id                   text,
    assigned_at                timestamptz,
    tier                       text        NOT NULL,
    allowed_minutes            double precision NOT NULL,
    due_at                     timestamptz NOT NULL,
    first_touch_at             timestamptz,
    status                     text        NOT NULL CHECK (status IN
                                   ('pending', 'at_risk', 'met', 'breached_late', 'breached_open', 'excluded')),
    excluded_reason            text        CHECK (excluded_reason IN ('disqualified', 'rejected', 'unsubscribed')),
    excluded_at                timestamptz,
    used_share                 double precision,
    business_minutes_to_touch  double precision,
    routing_minutes            double precision,
    rep_minutes                double precision,
    accept_due_at              timestamptz,
    decision                   text        CHECK (decision IN ('accepted', 'rejected')),
    decided_at                 timestamptz,
    decision_stage             text,
    accept_status              text        CHECK (accept_status IN
                                   ('pending', 'met', 'breached_late', 'breached_open', 'excluded')),
    escalate_at                timestamptz,
    accept_escalate_at         timestamptz,
    evaluated_at               timestamptz NOT NULL,
    input_hash                 bigint      NOT NULL,
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
-- The hourly run re-reads the clocks still running, whatever their age.
CREATE INDEX followups_open_idx ON sla.followups (lead_id)
    WHERE status IN ('pending', 'at_risk', 'breached_open') OR accept_status IN ('pending', 'breached_open');
COMMENT ON TABLE sla.followups IS 'The SLA clocks of every handed-over MQL: sales first touch within the agreed business time, and accept/reject within the agreed business days. Re-evaluated every hour while a clock runs (late CRM data corrects earlier statuses).';
COMMENT ON COLUMN sla.followups.lead_id IS 'Lead handed over (core.leads).';
COMMENT ON COLUMN sla.followups.mql_at IS 'MQL moment: the handover to sales that starts both clocks (earliest MQL crossing of the lead).';
COMMENT ON COLUMN sla.followups.mql_source IS 'Where the MQL moment comes from: "scoring" (scoring.mql_crossings) or "crm" (the CRM''s own lifecycle stage).';
COMMENT ON COLUMN sla.followups.owner_id IS 'Sales owner responsible at evaluation time (core.owners); empty while the lead is unassigned.';
COMMENT ON COLUMN sla.followups.assigned_at IS 'When the owner got the lead (the MQL moment when the CRM does not say, or when assigned before it).';
COMMENT ON COLUMN sla.followups.tier IS 'SLA tier that applies (sla.sales in the agreement): the fastest tier whose conditions the lead meets.';
COMMENT ON COLUMN sla.followups.allowed_minutes IS 'Business minutes the tier allows between the MQL moment and the first touch.';
COMMENT ON COLUMN sla.followups.due_at IS 'When the first touch is due: the MQL moment plus the allowed business time on the owner''s calendar.';
COMMENT ON COLUMN sla.followups.first_touch_at IS 'First qualifying sales touch (agreed activity types) at or after the MQL moment.';
COMMENT ON COLUMN sla.followups.status IS 'First-touch status: pending, at_risk (the agreed share of the allowed time used), met, breached_late (touched after due), breached_open (past due, not touched), excluded (disqualified, rejected or unsubscribed before due and before any touch).';
COMMENT ON COLUMN sla.followups.excluded_reason IS 'Why the clock was stopped without a touch: disqualified, rejected (sent back to nurturing) or unsubscribed.';
COMMENT ON COLUMN sla.followups.excluded_at IS 'When the excluding event happened.';
COMMENT ON COLUMN sla.followups.used_share IS 'Share of the allowed time the first touch used (0.5 = halfway, 1 = exactly on time, above 1 = late); empty until touched.';
COMMENT ON COLUMN sla.followups.business_minutes_to_touch IS 'Business minutes from the MQL moment to the first touch (routing plus rep delay).';
COMMENT ON COLUMN sla.followups.routing_minutes IS 'Business minutes from the MQL moment until an owner had the lead (capped at the first touch).';
COMMENT ON COLUMN sla.followups.rep_minutes IS 'Business minutes from the owner getting the lead to the first touch.';
COMMENT ON COLUMN sla.followups.accept_due_at IS 'When sales must have accepted (an SQL stage) or rejected (disqualified or recycled) the lead; empty when the agreement sets no accept_within.';
COMMENT ON COLUMN sla.followups.decision IS 'Sales decision on the lead: accepted or rejected; empty while undecided.';
COMMENT ON COLUMN sla.followups.decided_at IS 'When sales accepted or rejected the lead.';
COMMENT ON COLUMN sla.followups.decision_stage IS 'Lifecycle stage that recorded the decision (an SQL stage, the recycle stage or disqualified).';
COMMENT ON COLUMN sla.followups.accept_status IS 'Accept/reject status: pending, met, breached_late (decided after due), breached_open (past due, undecided), excluded (unsubscribed before due); empty when the agreement sets no accept_within.';
COMMENT ON COLUMN sla.followups.escalate_at IS 'When an open first-touch breach goes to the owner''s manager (due time plus the agreed further business delay); empty when the agreement sets no escalate_after.';
COMMENT ON COLUMN sla.followups.accept_escalate_at IS 'When an open accept/reject breach goes to the owner''s manager.';
COMMENT ON COLUMN sla.followups.evaluated_at IS 'Clock reading the row holds: the moment (a run''s data interval end, or a manual --as-of) of the latest reading that changed it (its hand-over, at_risk, breach, touch, decision or a correction).';
COMMENT ON COLUMN sla.followups.input_hash IS 'Fingerprint of what the reading was computed from (CRM data read as of evaluated_at, and the agreement): a closed clock whose inputs did not change is not rewritten.';
COMMENT ON COLUMN sla.followups.updated_at IS 'When the row was last written (wall clock).';

-- ---------------------------------------------------------------------------------------------
-- sla.alerts: every message sent, without addresses
-- ---------------------------------------------------------------------------------------------
CREATE TABLE sla.alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('breach', 'escalation', 'delivery_behind')),
    audience        text        NOT NULL CHECK (audience IN ('owner', 'manager', 'marketing')),
    owner_id        text,
    route           text        NOT NULL,
    message_id      text        NOT NULL UNIQUE,
    lead_ids        bigint[]    NOT NULL DEFAULT '{}',
    run_id          text,
    sent_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sla.alerts IS 'Every SLA alert sent (one row per message). Recorded in the transaction that marks what it announced; never holds an address.';
COMMENT ON COLUMN sla.alerts.alert_id IS 'Alert id.';
COMMENT ON COLUMN sla.alerts.kind IS 'breach (new breaches to their owner), escalation (open breaches to the owner''s manager) or delivery_behind (marketing behind pace).';
COMMENT ON COLUMN sla.alerts.audience IS 'Who it was for: owner, manager or marketing.';
COMMENT ON COLUMN sla.alerts.owner_id IS 'Owner (or manager) the message was for; empty for marketing and for unassigned leads.';
COMMENT ON COLUMN sla.alerts.route IS 'How the recipient was resolved: owner (own mapping), team (default team address) or marketing.';
COMMENT ON COLUMN sla.alerts.message_id IS 'Message-ID header of the message (derived from what it announces: a resend after a crash carries the same id).';
COMMENT ON COLUMN sla.alerts.lead_ids IS 'Leads the message named.';
COMMENT ON COLUMN sla.alerts.run_id IS 'Airflow run id (or "cli") that sent it.';
COMMENT ON COLUMN sla.alerts.sent_at IS 'When the SMTP server accepted the message.';

-- ---------------------------------------------------------------------------------------------
-- sla.breaches: one row per missed promise, announced once
-- ---------------------------------------------------------------------------------------------
CREATE TABLE sla.breaches (
    breach_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id         bigint      NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('first_touch', 'accept')),
    owner_id        text,
    due_at          timestamptz NOT NULL,
    detected_at     timestamptz NOT NULL,
    escalate_at     timestamptz,
    alerted_at      timestamptz,
    alert_id        bigint,
    escalated_at    timestamptz,
    escalation_alert_id bigint,
    resolved_at     timestamptz,
    resolution      text        CHECK (resolution IN ('touched_late', 'decided_late', 'excluded', 'corrected')),
    UNIQUE (lead_id, kind)
);
CREATE INDEX breaches_unalerted_idx ON sla.breaches (owner_id) WHERE alerted_at IS NULL AND resolved_at IS NULL;
CREATE INDEX breaches_unescalated_idx ON sla.breaches (escalate_at)
    WHERE escalated_at IS NULL AND resolved_at IS NULL;
COMMENT ON TABLE sla.breaches IS 'SLA breaches: a first touch or an accept/reject decision not made by its due time. One row per lead and kind, announced to the owner once and escalated to the manager once.';
COMMENT ON COLUMN sla.breaches.breach_id IS 'Breach id.';
COMMENT ON COLUMN sla.breaches.lead_id IS 'Lead whose clock was breached.';
COMMENT ON COLUMN sla.breaches.kind IS 'first_touch (no qualifying touch by due) or accept (no accept/reject decision by due).';
COMMENT ON COLUMN sla.breaches.owner_id IS 'Owner responsible (kept current while the breach is open); empty for an unassigned lead.';
COMMENT ON COLUMN sla.breaches.due_at IS 'When the touch or the decision was due.';
COMMENT ON COLUMN sla.breaches.detected_at IS 'Clock reading (evaluation moment) that first saw the breach.';
COMMENT ON COLUMN sla.breaches.escalate_at IS 'When the breach goes to the owner''s manager if still open (empty: never escalated).';
COMMENT ON COLUMN sla.breaches.alerted_at IS 'When the owner was told (empty until announced; a breach resolved before its announcement is never announced).';
COMMENT ON COLUMN sla.breaches.alert_id IS 'Message that announced it (sla.alerts).';
COMMENT ON COLUMN sla.breaches.escalated_at IS 'When the owner''s manager was told.';
COMMENT ON COLUMN sla.breaches.escalation_alert_id IS 'Message that escalated it (sla.alerts).';
COMMENT ON COLUMN sla.breaches.resolved_at IS 'When the breach stopped being open (the late touch or decision, the exclusion, or the correction).';
COMMENT ON COLUMN sla.breaches.resolution IS 'touched_late, decided_late, excluded, or corrected (late-arriving data showed the promise was kept).';

-- ---------------------------------------------------------------------------------------------
-- sla.recycled_leads: rejected by sales, for nurturing to pick up
-- ---------------------------------------------------------------------------------------------
-- A view of the decisions sla.followups records: one source of truth, nothing to keep in step. Nurturing
-- keeps its own ledger of what it took up.
CREATE VIEW sla.recycled_leads AS
SELECT lead_id, mql_at, decided_at AS rejected_at, decision_stage AS rejected_stage, owner_id, evaluated_at
FROM sla.followups
WHERE decision = 'rejected';
COMMENT ON VIEW sla.recycled_leads IS 'Handed-over MQLs that sales rejected (the recycle stage: back to nurturing; or a disqualified stage), as the SLA clock last read them.';
COMMENT ON COLUMN sla.recycled_leads.lead_id IS 'Rejected lead.';
COMMENT ON COLUMN sla.recycled_leads.mql_at IS 'MQL moment of the hand-over that was rejected.';
COMMENT ON COLUMN sla.recycled_leads.rejected_at IS 'When sales rejected it.';
COMMENT ON COLUMN sla.recycled_leads.rejected_stage IS 'Stage that recorded the rejection: vocabulary.recycle_stage (recycle into nurturing) or one of vocabulary.disqualified_stages.';
COMMENT ON COLUMN sla.recycled_leads.owner_id IS 'Owner who rejected it (the lead''s owner at the reading).';
COMMENT ON COLUMN sla.recycled_leads.evaluated_at IS 'Clock reading that recorded the rejection.';

-- ---------------------------------------------------------------------------------------------
-- sla.marketing_delivery: marketing's side of the agreement
-- ---------------------------------------------------------------------------------------------
CREATE TABLE sla.marketing_delivery (
    period            date        NOT NULL,
    segment           text        NOT NULL,
    period_end        date        NOT NULL,
    target            integer     NOT NULL,
    delivered         integer     NOT NULL,
    accepted          integer     NOT NULL,
    elapsed_share     double precision NOT NULL,
    expected_to_date  numeric(12, 2) NOT NULL,
    forecast          numeric(12, 2),
    status            text        NOT NULL CHECK (status IN ('ahead', 'on_pace', 'behind', 'met', 'missed')),
    evaluated_at      timestamptz NOT NULL,
    alerted_at        timestamptz,
    alert_id          bigint,
    PRIMARY KEY (period, segment)
);
COMMENT ON TABLE sla.marketing_delivery IS 'MQLs marketing delivered per month against the agreed target, with the pace expected so far (pro-rated by business time) and an end-of-month forecast.';
COMMENT ON COLUMN sla.marketing_delivery.period IS 'First day of the month (organisation time zone).';
COMMENT ON COLUMN sla.marketing_delivery.segment IS 'Segment the target is for ("all" for the whole funnel).';
COMMENT ON COLUMN sla.marketing_delivery.period_end IS 'Last day of the month.';
COMMENT ON COLUMN sla.marketing_delivery.target IS 'Agreed number of MQLs for the month (sla.marketing.mql_target).';
COMMENT ON COLUMN sla.marketing_delivery.delivered IS 'MQLs handed over during the month so far.';
COMMENT ON COLUMN sla.marketing_delivery.accepted IS 'Of those, how many sales accepted (entered an SQL stage) so far.';
COMMENT ON COLUMN sla.marketing_delivery.elapsed_share IS 'Share of the month''s business time elapsed at evaluation (1 once the month is over).';
COMMENT ON COLUMN sla.marketing_delivery.expected_to_date IS 'MQLs expected by now at the agreed pace: target times the elapsed share of business time.';
COMMENT ON COLUMN sla.marketing_delivery.forecast IS 'End-of-month forecast at the pace delivered so far (empty before the first business hour).';
COMMENT ON COLUMN sla.marketing_delivery.status IS 'Open month: ahead, on_pace or behind (delivered below the expected count by more than the agreed tolerance); closed month: met or missed.';
COMMENT ON COLUMN sla.marketing_delivery.evaluated_at IS 'Moment the delivery was measured at.';
COMMENT ON COLUMN sla.marketing_delivery.alerted_at IS 'When marketing was told this month was behind pace (once per month and segment).';
COMMENT ON COLUMN sla.marketing_delivery.alert_id IS 'Message that told marketing (sla.alerts).';
