"""The privacy operations' reading of the agreement (`privacy:`): plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smarketing.config import Agreement


@dataclass(frozen=True)
class RetentionSettings:
    """Days to keep landed records (`raw`) and quarantined ones (`quarantine`); None keeps them."""

    raw_days: int | None = None
    quarantine_days: int | None = None


def retention_from_agreement(agreement: Agreement) -> RetentionSettings:
    """`privacy.retention_days` of the agreement."""
    days = agreement.privacy.retention_days
    return RetentionSettings(raw_days=days.raw, quarantine_days=days.quarantine)
