"""The monthly review report (docs/review.md): one self-contained HTML file from the kpi tables."""

from smarketing.kpi.report.render import ReportResult, default_report_path, render_report

__all__ = ["ReportResult", "default_report_path", "render_report"]
