"""Privacy operations: erasing one person on request, and purging personal data past its retention.

`person.erase_person` removes or anonymises one person (by address, or by the address's hash) across
raw, quality, core, scoring, SLA and nurturing, asks HubSpot and Mautic to do the same when told to
(`source`), scrubs the address from any free text left (`scrub`) and leaves an audit row that holds
only hashes (`ops.erasures`), which landing honours from then on (`warehouse.suppression`).
`retention.purge` deletes raw records and quarantine older than the agreement's `privacy.retention_days`.
docs/privacy.md explains the choices (what is deleted, what is anonymised, why the hash is unsalted).
"""
