"""Where the project's files live.

`include/` is a source root installed in editable mode, so the repository root is two levels above
this package. SMARKETING_HOME overrides it (containers mount the repository elsewhere).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("SMARKETING_HOME") or Path(__file__).resolve().parents[2])
SQL_DIR = PROJECT_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
CORE_SQL_DIR = SQL_DIR / "core"
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_CONFIG = Path(os.environ.get("SMARKETING_CONFIG") or CONFIG_DIR / "smarketing.yaml")
LOCAL_DIR = PROJECT_ROOT / ".local"
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
REPORT_DIR_ENV = "SMARKETING_REPORT_DIR"


def report_dir() -> Path:
    """Where the monthly review reports are written and listed: `SMARKETING_REPORT_DIR`, else
    `<project>/.local/reports` (read at each call, so a task or a test can point it elsewhere)."""
    return Path(os.environ.get(REPORT_DIR_ENV) or LOCAL_DIR / "reports")


def report_file_name(month: date) -> str:
    """The default file name of a month's review report: `review-YYYY-MM.html`."""
    return f"review-{month:%Y-%m}.html"
