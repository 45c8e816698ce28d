"""Helpers shared by tests: launchers for real processes (Airflow, ...)."""
