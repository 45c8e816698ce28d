"""The DAG files parse, with no I/O at import time, and say what the design says."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    # Refuse every network connection while the files are parsed: a DAG file that
    # reaches for the CRM, the warehouse or a Variable at import time fails here.
    real_connect = socket.socket.connect

    def refuse(self, address):
        raise AssertionError(f"DAG parsing opened a connection to {address}")

    socket.socket.connect = refuse
    try:
        return DagBag(dag_folder=str(DAGS_DIR))
    finally:
        socket.socket.connect = real_connect


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_statuses_dag(dagbag):
    dag = dagbag.dags["roistat_bpmonline_statuses"]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.max_active_runs == 1
    assert not dag.catchup
    assert [t.task_id for t in dag.tasks] == ["import_statuses"]
    assert all(t.retries >= 1 for t in dag.tasks)


def test_sync_dag(dagbag):
    dag = dagbag.dags["roistat_bpmonline_sync"]
    # a bare cron string would give a trigger timetable with empty intervals
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == "*/15 * * * *"
    assert dag.max_active_runs == 1
    assert set(dag.params.keys()) >= {"full_refresh", "start", "end", "reconcile"}
    assert {t.task_id for t in dag.tasks} == {"import_statuses", "sync_leads", "sync_orders"}
    statuses = dag.get_task("import_statuses")
    assert statuses.downstream_task_ids == {"sync_leads", "sync_orders"}
    assert all(t.retries >= 1 for t in dag.tasks)
