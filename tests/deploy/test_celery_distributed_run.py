"""The package, unchanged, on Airflow's CeleryExecutor: a real distributed run.

The topology of docker-compose.yaml without containers: PostgreSQL for the
metadata, Redis as the broker, `airflow api-server`, `scheduler`,
`dag-processor`, `triggerer` and `celery worker` as separate processes
(tests/support/airflow_processes.py). The three DAGs are triggered through the
REST API against the sandbox; the warehouse they load must equal what
`airflow dags test` loads from the same sandbox into a second database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from roistat.warehouse_schema import deploy_schema_at
from tests.support.airflow_processes import REPO_ROOT, airflow_cluster

pytestmark = pytest.mark.slow

LEADS, ORDERS, SEED = 2000, 1000, 11
VISITS_DAG = "roistat_visits_import"
STATUSES_DAG = "roistat_bpmonline_statuses"
SYNC_DAG = "roistat_bpmonline_sync"

# Business columns only: bookkeeping times (first/last synced, observed,
# loaded_at, sync_run_id) differ between any two runs; paid_at, excluded_at and
# deleted_at are compared as set or not.
COMPARED = {
    "deal": """
        select entity, crm_id, title, created_on, modified_on, status_id, status_group,
               roistat_raw, roistat_kind, visit_id, marker, revenue, first_cost, profit,
               filter_value, content_hash, paid_at is not null as paid,
               excluded_at is not null as excluded, deleted_at is not null as deleted
        from roistat.deal
    """,
    "status": """
        select entity, status_id, name, status_group, is_mapped,
               vanished_at is not null as vanished, renamed_from
        from roistat.status
    """,
    "visit": """
        select visit_id, visit_date, marker, utm_source, utm_medium, utm_campaign, landing_page
        from roistat.visit
    """,
    "rejected_record": "select entity, crm_id, reason from roistat.rejected_record",
    "full_sync_counts": """
        select entity, mode, status, rows_read, filtered_out, loaded_new, loaded_changed,
               loaded_unchanged, rejected, deleted
        from roistat.sync_run
        where dag_id = 'roistat_bpmonline_sync'
    """,
}


def _connection_env(sandbox, warehouse_url: str) -> dict[str, str | None]:
    return {
        "ROISTAT_TASK_RETRIES": "0",
        "AIRFLOW_CONN_BPMONLINE_DEFAULT": sandbox.airflow_connection_json(),
        "AIRFLOW_CONN_ROISTAT_WAREHOUSE": warehouse_url,
        # The settings file, not a Variable someone left in the environment.
        "AIRFLOW_VAR_ROISTAT_INTEGRATION": None,
    }


def _snapshot(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            table: sorted(conn.execute(query).fetchall(), key=repr)
            for table, query in COMPARED.items()
        }


@pytest.fixture
def two_warehouses(warehouse_server):
    names = [warehouse_server.create_scratch_database("roistat_celery") for _ in range(2)]
    try:
        urls = [warehouse_server.url_for(name) for name in names]
        for url in urls:
            deploy_schema_at(url)
        yield urls
    finally:
        for name in names:
            warehouse_server.drop_database(name)


def test_celery_run_loads_the_same_warehouse_as_dags_test(
    tmp_path, two_warehouses, warehouse_server
):
    from sandbox.testing import run_sandbox

    distributed_url, reference_url = two_warehouses
    with run_sandbox(leads=LEADS, orders=ORDERS, seed=SEED, data_dir=tmp_path / "sandbox") as sb:
        env = _connection_env(sb, distributed_url)
        # Only the runs this test triggers: no scheduled run on unpause.
        env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"

        started = time.monotonic()
        # No triggerer: nothing here defers, and on two cores every process slows start-up.
        with airflow_cluster(
            base_dir=tmp_path / "cluster", mode="celery", env=env, triggerer=False
        ) as cluster:
            ready = time.monotonic()
            for dag_id in (VISITS_DAG, STATUSES_DAG, SYNC_DAG):
                cluster.wait_for_dag(dag_id)
                cluster.unpause(dag_id)

            runs = []
            for dag_id, conf in (
                (VISITS_DAG, {"path": str(sb.visits_path)}),
                (STATUSES_DAG, {}),
                (SYNC_DAG, {"full_refresh": True}),
            ):
                run_id = cluster.trigger(dag_id, conf=conf)
                state = cluster.wait_for_run(dag_id, run_id, timeout=240)
                assert state == "success", (
                    f"{dag_id} {state}: {cluster.task_states(dag_id, run_id)}\n"
                    + _failed_logs(cluster, dag_id, run_id)
                )
                runs.append((dag_id, run_id))
            finished = time.monotonic()

            queue = cluster.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
            for dag_id, run_id in runs:
                for ti in _task_instances(cluster, dag_id, run_id):
                    # Run by the Celery worker, from our queue, not in the scheduler.
                    assert ti["queue"] == queue, ti
                    assert ti["executor"] in (None, "CeleryExecutor"), ti
            assert "roistat_bpmonline_sync" in _worker_log(cluster)
            pids = [proc.pid for proc in cluster.processes.values()]
            metadata_database = urlsplit(cluster.metadata_url).path.lstrip("/")

        print(
            f"\nCeleryExecutor: cluster ready in {ready - started:.0f} s; "
            f"visits + statuses + full sync ({LEADS:,} leads, {ORDERS:,} orders) "
            f"through the REST API in {finished - ready:.0f} s; "
            f"stopped in {time.monotonic() - finished:.0f} s"
        )

        # Every process group it started is gone, and so is its metadata database.
        assert len(pids) == 4
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.killpg(pid, 0)
        assert not _database_exists(warehouse_server, metadata_database)

        reference_started = time.monotonic()
        _dags_test_reference(tmp_path / "reference", sb, reference_url)
        print(f"airflow dags test reference in {time.monotonic() - reference_started:.0f} s")

    distributed, reference = _snapshot(distributed_url), _snapshot(reference_url)
    assert len(distributed["deal"]) + len(distributed["rejected_record"]) == LEADS + ORDERS
    assert distributed["visit"] and distributed["status"]
    for table in COMPARED:
        assert distributed[table] == reference[table], f"roistat.{table} differs"


# `airflow dags test` three times in one interpreter: the CLI's own parser and
# command, without paying Airflow's start-up for each DAG.
DAGS_TEST_SCRIPT = """
import json, sys
from airflow.cli.cli_parser import get_parser
for command in json.loads(sys.argv[1]):
    args = get_parser().parse_args(command)
    args.func(args)
"""


def _dags_test_reference(home: Path, sandbox, warehouse_url: str) -> None:
    """The same three runs with `airflow dags test`, in a SQLite Airflow home of their own."""
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    for key, value in _connection_env(sandbox, warehouse_url).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'plugins'}",
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    dags_test = [
        ["dags", "test", VISITS_DAG, "-c", json.dumps({"path": str(sandbox.visits_path)})],
        ["dags", "test", STATUSES_DAG],
        ["dags", "test", SYNC_DAG, "-c", json.dumps({"full_refresh": True})],
    ]
    for name, command in (
        ("db-migrate", [airflow, "db", "migrate"]),
        ("dags-test", [sys.executable, "-c", DAGS_TEST_SCRIPT, json.dumps(dags_test)]),
    ):
        log = home / f"{name}.log"
        with open(log, "wb") as out:
            result = subprocess.run(
                command, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=300
            )
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        assert result.returncode == 0, f"{name} failed:\n{tail}"


def _database_exists(server, name: str) -> bool:
    with psycopg.connect(server.url) as conn:
        return bool(
            conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        )


def _task_instances(cluster, dag_id: str, run_id: str) -> list[dict]:
    response = cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
    response.raise_for_status()
    return response.json()["task_instances"]


def _failed_logs(cluster, dag_id: str, run_id: str) -> str:
    parts = []
    for ti in _task_instances(cluster, dag_id, run_id):
        if ti["state"] not in ("success", "skipped"):
            log = cluster.task_log(dag_id, run_id, ti["task_id"], max(ti["try_number"], 1))
            parts.append(f"--- {ti['task_id']} ({ti['state']}):\n{log[-3000:]}")
    return "\n".join(parts) + "\n--- worker:\n" + cluster.processes["celery-worker"].log_tail()


def _worker_log(cluster) -> str:
    return cluster.processes["celery-worker"].log_path.read_text(errors="replace")
