"""
### roistat_bpmonline_statuses

Imports bpm'online lead stages (`QualifyStatus`) and order statuses
(`OrderStatus`; leads only in the team edition) into `roistat.status`, and
sorts each into its group from the settings' `status_groups`.

- **Schedule:** hourly; the sync DAG also runs this import first.
- **Reruns:** safe; a rerun with nothing changed in the CRM writes nothing but
  the time each status was last seen.
- **Task log:** new statuses, statuses nobody has sorted (they count as
  `not_registered`), renamed ones (same id, new name: the group stays) and
  vanished ones (kept and flagged).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

# Retries ride out a CRM or network outage longer than the hook's own retry
# budget. ROISTAT_TASK_RETRIES=0 makes `airflow dags test` (the demo, the tests)
# fail at once instead of waiting for the retry delay.
RETRIES = int(os.environ.get("ROISTAT_TASK_RETRIES", "3"))


@dag(
    dag_id="roistat_bpmonline_statuses",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": RETRIES, "retry_delay": timedelta(minutes=2)},
    tags=["roistat", "bpmonline"],
)
def roistat_bpmonline_statuses():
    @task
    def import_statuses() -> dict:
        from roistat.status_task import run_status_import

        return run_status_import()

    import_statuses()


roistat_bpmonline_statuses()
