"""
### roistat_bpmonline_sync

Pulls bpm'online leads and orders changed in the run's window into the
warehouse (`roistat.deal`), tying each deal to its visit and channel, with its
status group, revenue, first cost and profit.

- **Schedule:** every 15 minutes (env `ROISTAT_SYNC_CRON` changes the cron), on
  a data-interval timetable: each run reads
  the rows whose `ModifiedOn` falls in its interval, widened backwards by
  `lookback_hours` (24 by default) to catch rows committed late.
- **Backfills:** safe from the UI or `airflow backfill create`: a backfill of a
  past window reloads exactly that window (plus the lookback); loads are
  idempotent and order-independent (the newer `ModifiedOn` wins).
- **Params:** `full_refresh` reads everything; `start` / `end` read an explicit
  window; `reconcile` also scans all ids for deals deleted in the CRM. A run with
  no data interval and no params reads everything changed since the last
  successful load.
- **First:** the status import runs, so new statuses are known before deals.
- **Task log:** one summary line per entity (window, rows read, filtered out,
  loaded new/changed/unchanged, rejected, unmapped statuses, watermark,
  seconds); WARNINGs for unmapped statuses, a filter that matched nothing and
  rejected rows. The counts are also each task's XCom.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

# Retries ride out a CRM or network outage longer than the hook's own retry
# budget. ROISTAT_TASK_RETRIES=0 makes `airflow dags test` (the demo, the tests)
# fail at once instead of waiting for the retry delay.
RETRIES = int(os.environ.get("ROISTAT_TASK_RETRIES", "3"))
# The cron of the data-interval timetable; every 15 minutes unless the team
# sets ROISTAT_SYNC_CRON (e.g. "0 * * * *" for hourly windows).
SYNC_CRON = os.environ.get("ROISTAT_SYNC_CRON", "*/15 * * * *")


@dag(
    dag_id="roistat_bpmonline_sync",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable(SYNC_CRON, timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    params={
        "full_refresh": Param(False, type="boolean", description="Read every lead and order."),
        "start": Param(
            None,
            type=["null", "string"],
            description="Explicit window start (ISO datetime, UTC unless an offset is given).",
        ),
        "end": Param(None, type=["null", "string"], description="Explicit window end (exclusive)."),
        "reconcile": Param(
            False, type="boolean", description="Also scan all ids to find deals deleted in the CRM."
        ),
    },
    tags=["roistat", "bpmonline"],
)
def roistat_bpmonline_sync():
    @task
    def import_statuses() -> dict:
        from roistat.status_task import run_status_import

        # The hourly statuses DAG sweeps every deal's group; this run only
        # moves deals whose status changed group (status_import.py says why).
        return run_status_import(sweep_deals=False)

    @task
    def sync_leads(
        params=None, data_interval_start=None, data_interval_end=None, dag_run=None, ti=None
    ):
        from roistat.sync_task import run_entity_sync

        return run_entity_sync(
            "lead",
            params=params,
            data_interval_start=data_interval_start,
            data_interval_end=data_interval_end,
            dag_run=dag_run,
            ti=ti,
        )

    @task
    def sync_orders(
        params=None, data_interval_start=None, data_interval_end=None, dag_run=None, ti=None
    ):
        from roistat.sync_task import run_entity_sync

        return run_entity_sync(
            "order",
            params=params,
            data_interval_start=data_interval_start,
            data_interval_end=data_interval_end,
            dag_run=dag_run,
            ti=ti,
        )

    import_statuses() >> [sync_leads(), sync_orders()]


roistat_bpmonline_sync()
