"""Mautic connector: contacts, their activity and their segment memberships, landed as canonical
records (docs/sources.md, docs/extract.md).

| object | raw | how | module |
|---|---|---|---|
| contacts | leads | keyset pull on `date_modified`, by id inside one second; never-modified contacts by `date_added` | `contacts` |
| activity | marketing_events | the contact timeline over a window `[watermark - overlap, now - lag]`, paged by `page` | `timeline` |
| segments | segment_memberships | the timeline's `segment_membership` entries, plus a periodic reconciliation | `segments` |

`settings` holds what to pull, `hook` and `auth` how to reach Mautic (connection type `mautic`: basic
auth, or OAuth2 client credentials with `extra.auth = "oauth2"`), `answers` how its answers read, and
`connector` the entry the registry calls. Importing this package imports none of them.
"""
