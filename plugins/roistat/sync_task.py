"""The body of the sync tasks: settings, connections, and one entity's sync."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from roistat.entity_sync import RunContext, sync_entity
from roistat.settings import IntegrationSettings, load_settings


def run_entity_sync(
    entity: str,
    *,
    params: Mapping[str, Any] | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    dag_run: Any = None,
    ti: Any = None,
    settings: IntegrationSettings | None = None,
) -> dict[str, Any]:
    """Sync `entity` for this run; the task is skipped when the settings do not list it."""
    from roistat.bpmonline_hook import BpmOnlineHook
    from roistat.warehouse_connection import warehouse_connection
    from roistat.warehouse_schema import deploy_schema

    settings = settings or load_settings()
    if entity not in settings.entities:
        from airflow.sdk.exceptions import AirflowSkipException

        # The team edition of bpm'online has leads only (settings: entities: [lead]).
        raise AirflowSkipException(f"{entity} is not in the settings' entities {settings.entities}")
    context = RunContext(
        params=dict(params or {}),
        data_interval_start=data_interval_start,
        data_interval_end=data_interval_end,
        run_type=_run_type(dag_run),
        dag_id=getattr(dag_run, "dag_id", None),
        run_id=getattr(dag_run, "run_id", None),
        try_number=getattr(ti, "try_number", None),
    )
    with (
        BpmOnlineHook(settings.bpmonline_conn_id) as hook,
        warehouse_connection(settings.warehouse_conn_id) as conn,
    ):
        deploy_schema(conn)
        return sync_entity(hook, conn, settings, entity, context)


def _run_type(dag_run: Any) -> str | None:
    run_type = getattr(dag_run, "run_type", None)
    # DagRunType is a str enum; its value is "scheduled", "backfill", "manual"...
    return getattr(run_type, "value", run_type)
