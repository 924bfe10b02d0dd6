"""KPI tables for the monthly review: SQL models (sql/kpi/) built incrementally into kpi.* (docs/kpi.md)."""
