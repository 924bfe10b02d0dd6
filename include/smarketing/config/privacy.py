"""`privacy`: how long personal data is kept (docs/privacy.md).

```yaml
privacy:
  retention_days: {raw: 400, quarantine: 90}
```
A kind left out is kept for ever. Core, scores, clocks, nurture ledgers and KPI aggregates are not
purged by age: the lead they hang on is erased on request instead (`smarketing privacy erase`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

from smarketing.config.values import Settings

# Ten years: a longer "retention" is a typo for "keep for ever", which is spelled by leaving it out.
MAX_RETENTION_DAYS = 3653
RetentionDays = Annotated[int, Strict(), Field(ge=1, le=MAX_RETENTION_DAYS)]


class Retention(Settings):
    """Days after landing (raw) or quarantining (quarantine) a record is purged; None keeps it."""

    raw: RetentionDays | None = None
    quarantine: RetentionDays | None = None


class Privacy(Settings):
    retention_days: Retention = Retention()
