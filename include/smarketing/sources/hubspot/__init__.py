"""HubSpot CRM v3 connector: incremental pulls landed as canonical records (docs/sources.md, docs/extract.md).

| API object | raw | incremental on | module |
|---|---|---|---|
| contacts | leads (+ lifecycle_history) | `lastmodifieddate` (search) | `crm` (`hs_lifecyclestage_<stage>_date` → lifecycle_history) |
| companies | companies | `hs_lastmodifieddate` (search) | `crm` |
| deals | deals | `hs_lastmodifieddate` (search) | `crm` (contact and company associations, v4 batch read) |
| calls, emails, meetings, notes, tasks | sales_activities | `hs_lastmodifieddate` (search) | `crm` (contact association, owner) |
| owners | owners | full list each run (small), de-duplicated on id + updatedAt | `owners` |
| email_events | marketing_events | creation time (`/email/public/v1/events` windows, `offset` paging) | `email_events`; off by default |
| form_submissions | marketing_events | `submittedAt`, per form (newest first) | `forms`; off by default |

`settings` holds what to pull, `hook` how to reach HubSpot (connection type `hubspot`), `reads` the
small lookups the pulls share, and `connector` the entry the registry calls. Importing this package
imports none of them: the Airflow API server loads the hook without the pull code.
"""
