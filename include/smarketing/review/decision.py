"""The teams' answer to a scoring proposal: recorded in `scoring.model_reviews`; an approval also writes the
proposal as a patch of the agreement for a pull request. A rejection (or a timeout) writes no patch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

APPROVE, REJECT = "Approve", "Reject"


def _answer(response: dict[str, Any]) -> tuple[str, str | None, str | None, bool]:
    """(decision, who, comment, timed_out) from the approval task's result (HITLOperator's return)."""
    chosen = response.get("chosen_options") or [REJECT]
    user = response.get("responded_by_user")
    comment = (response.get("params_input") or {}).get("comment") or None
    decision = "approved" if chosen == [APPROVE] else "rejected"
    who = None if user is None else str(user.get("name") or user.get("id"))
    return decision, who, comment, user is None


def record_decision(
    dsn: str, month: date, response: dict[str, Any], *, agreement: Path, proposals_dir: Path, relative: str
) -> dict[str, Any]:
    """Record the answer for `month`'s pending proposal; on approval write the patch first.

    response: what the approval task returned (chosen_options, params_input, responded_by_user, responded_at).
    agreement: the agreement file the patch is against (read only). proposals_dir: where the patch goes
    (`scoring-YYYY-MM.patch`). relative: the agreement's path in the repository, for the diff's names.
    Returns the decision as recorded, with `mql`: {key: [in the agreement, in the patch]} of the MQL
    threshold keys the patch changes, and `sla_tiers`: {tier id: [...]} of the tiers' `when.min_score`. A month already decided keeps its first decision (a rerun is a no-op).
    """
    from smarketing.review.patch import mql_changes, tier_changes, write_patch
    from smarketing.warehouse.connection import connect

    decision, who, comment, timed_out = _answer(response)
    when = response.get("responded_at") or datetime.now(UTC)
    with connect(dsn) as conn:
        row = conn.execute(
            "SELECT proposal, decision, patch_path FROM scoring.model_reviews WHERE month = %s FOR UPDATE",
            (month,),
        ).fetchone()
        if row is None:
            raise LookupError(f"no scoring proposal stored for {month:%Y-%m}")
        proposal, recorded, patch_path = row
        if recorded != "pending":
            return {"month": f"{month:%Y-%m}", "decision": recorded, "patch": patch_path, "rerun": True}
        patch, mql, tiers = None, {}, {}
        if decision == "approved":
            target = proposals_dir / f"scoring-{month:%Y-%m}.patch"
            patch = str(write_patch(agreement, proposal, target, relative=relative))
            mql = {key: list(change) for key, change in mql_changes(agreement, proposal).items()}
            tiers = {tier: list(change) for tier, change in tier_changes(agreement, proposal).items()}
        conn.execute(
            "UPDATE scoring.model_reviews SET decision = %s, decided_by = %s, decided_at = %s, comment = %s, "
            "timed_out = %s, patch_path = %s WHERE month = %s",
            (decision, who, when, comment, timed_out, patch, month),
        )
    return {
        "month": f"{month:%Y-%m}",
        "decision": decision,
        "by": who,
        "timed_out": timed_out,
        "patch": patch,
        "mql": mql,
        "sla_tiers": tiers,
    }
