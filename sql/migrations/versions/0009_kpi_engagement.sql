-- kpi.engagement_monthly counts interactions only: distinct engaged leads per month, campaign and topic
-- meant grouping every event by its lead, which cost more than all the other engagement figures together
-- (bench/kpi.py). How many leads a campaign reached is a question for the funnel and cohort tables.
ALTER TABLE kpi.engagement_monthly DROP COLUMN IF EXISTS engaged_leads;
