-- Core build, step 0: the scratch tables the steps hand to each other.
-- The caller (smarketing.warehouse.core_build) has already created, in the same transaction:
--   _build_window (object, low, high): fold raw batches with low < batch_id <= high of each object
--   _build_stats (key, n):             counts each step reports back
--   _build_options (match_personas):   whether the leads merge sets personas (_lead_personas, below)
--   _admitted_<object>:                the rows of raw.<object> the quality gate admits (a view per object)
-- Every step reads the latest version of each source record among ALL landed batches up to `high`,
-- for the records that have a new version in the window, so folding batch by batch or all at once
-- gives the same core.
-- Temp tables are never auto-analysed, so each step analyses the ones the next statements join: on the
-- columns those statements join, group and filter on, not on the JSON payloads and attributes no plan
-- reads statistics of (sampling and sorting their jsonb values was a tenth of the companies step's CPU).

-- Company source records that were added or moved to another company (re-merge leads, deals).
CREATE TEMP TABLE _changed_company_sources (
    source_system  text   NOT NULL,
    source_id      text   NOT NULL,
    company_id     bigint NOT NULL,
    old_company_id bigint,
    PRIMARY KEY (source_system, source_id)
) ON COMMIT DROP;

-- Companies inserted or changed by this build.
CREATE TEMP TABLE _touched_companies (company_id bigint NOT NULL) ON COMMIT DROP;

-- Lead source records that changed; old_lead_id differs from lead_id when the record is new or moved.
-- After the leads step, lead_id is the record's lead as core.lead_sources holds it: the activities and
-- deals steps look a record's lead up here first and in core.lead_sources (one index probe) only for a
-- record this build did not change. On a first load every record changed, and this narrow table replaces
-- probes or a scan of the stored records with their payloads (deals 0.09 -> 0.07 s, activities 0.29 ->
-- 0.27 s of CPU at 200k contacts; the lifecycle step's 211k entries were no faster this way).
CREATE TEMP TABLE _changed_lead_sources (
    source_system text   NOT NULL,
    source_id     text   NOT NULL,
    lead_id       bigint NOT NULL,
    old_lead_id   bigint,
    PRIMARY KEY (source_system, source_id)
) ON COMMIT DROP;

-- Leads inserted or changed by this build (persona matching runs on these).
CREATE TEMP TABLE _touched_leads (lead_id bigint NOT NULL) ON COMMIT DROP;

-- The persona of every job title the leads step merged (smarketing.warehouse.core_build fills it between
-- 030_leads and 035_leads_merge when it matches personas; a title no persona matches has none).
CREATE TEMP TABLE _lead_personas (job_title text PRIMARY KEY, persona_id text) ON COMMIT DROP;
