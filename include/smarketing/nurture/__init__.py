"""Nurturing: leads not ready for sales enter one scenario of the agreement, are pushed to the marketing
tool exactly once, leave when they are ready (or must), and a held-out control group measures the effect.

* `matching` — the scenario table, eligibility and matches, in the database (`sql/nurture/`).
* `plan` — a run's exits and new entries into the ledger `nurture.enrollments`; the dry run.
* `targets` — Mautic segments and campaigns, HubSpot lists: batch add/remove and membership read-back.
* `push` — the ledger protocol that sends every planned change once and settles unknown outcomes by
  reading the tool back.
* `outcomes` — enrolled vs held-out per scenario and month, with a 95% interval.
"""
