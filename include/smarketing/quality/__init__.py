"""Data quality with Great Expectations: validate raw batches before the core build and the core tables
after it, quarantine bad records, gate downstream work, record results, build Data Docs.

Entry points: `raw.validate_raw`, `core.validate_core` (reports; QualityGateFailed when the gate fails),
`tasks` (what the DAG calls), `cli.quality_app` (`smarketing quality ...`). See docs/quality.md.
"""
