"""The body of the status import task, shared by both DAGs."""

from __future__ import annotations

from typing import Any

from roistat.settings import IntegrationSettings, load_settings


def run_status_import(
    settings: IntegrationSettings | None = None, *, sweep_deals: bool = True
) -> dict[str, Any]:
    """Import statuses for every configured entity; return counts per entity.

    `sweep_deals`: see `roistat.status_import.import_statuses`.
    """
    from roistat.bpmonline_hook import BpmOnlineHook
    from roistat.status_import import import_statuses
    from roistat.warehouse_connection import warehouse_connection
    from roistat.warehouse_schema import deploy_schema

    settings = settings or load_settings()
    with (
        BpmOnlineHook(settings.bpmonline_conn_id) as hook,
        warehouse_connection(settings.warehouse_conn_id) as conn,
    ):
        deploy_schema(conn)
        reports = import_statuses(hook, conn, settings, sweep_deals=sweep_deals)
    return {report.entity: report.counts() for report in reports}
