"""The Smarketing page inside the Airflow UI (mounted by plugins/smarketing_ui.py; docs/review.md)."""
