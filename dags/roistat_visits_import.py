"""
### roistat_visits_import

Loads website visits (visit number, date, channel marker, UTM tags) from a file
into `roistat.visit`, so each deal's visit number finds its channel.

- **Trigger:** manually (or from your own export job) with the param `path`: a
  CSV file with a header, or JSON lines, holding `visit_id, visit_date, marker,
  utm_source, utm_medium, utm_campaign, landing_page`.
- **Reruns:** safe: visits are upserted by `visit_id` in one transaction; a file
  with a bad line loads nothing and the error names the line.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    dag_id="roistat_visits_import",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "path": Param("", type="string", description="Path of the visits file (CSV or .jsonl).")
    },
    tags=["roistat"],
)
def roistat_visits_import():
    @task
    def import_visits(params=None) -> dict:
        from roistat.visit_task import run_visit_import

        return run_visit_import(params["path"])

    import_visits()


roistat_visits_import()
