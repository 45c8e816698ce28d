"""The body of the visit import task."""

from __future__ import annotations

from roistat.errors import SettingsError
from roistat.settings import load_settings


def run_visit_import(path: str) -> dict[str, int]:
    """Load the visits file at `path` into the warehouse named by the settings."""
    from roistat.visit_import import load_visits
    from roistat.warehouse_connection import warehouse_connection
    from roistat.warehouse_schema import deploy_schema

    if not path:
        raise SettingsError("params.path: give the path of the visits file (CSV or JSON lines)")
    settings = load_settings()
    with warehouse_connection(settings.warehouse_conn_id) as conn:
        deploy_schema(conn)
        return load_visits(conn, path)
