"""Smarketing pipelines: the sales-marketing agreement as scheduled, tested Airflow pipelines."""

__version__ = "0.1.0"
