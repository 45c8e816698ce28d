"""Both DAGs through `airflow dags test`, checked against sums made from the sandbox's own data.

The expected report is computed here from what the sandbox stores (its rows,
its visits file, and the vocabulary its generator drew junk and offline
markers from), not from the package's rules, so a wrong rule shows up as a
wrong total.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from roistat.settings import DEFAULT_SETTINGS_FILE, load_settings_file
from sandbox import vocabulary

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
COMPLETED = "40de86ee-274d-4098-9b92-9ebdcf83d4fc"  # order status "4. Completed", paid

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> dict[str, str]:
    """A throwaway Airflow home with a migrated SQLite metadata database."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'plugins'}",
        "ROISTAT_TASK_RETRIES": "0",
        "ROISTAT_SETTINGS_FILE": str(DEFAULT_SETTINGS_FILE),
    }
    env.pop("AIRFLOW_VAR_ROISTAT_INTEGRATION", None)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def _dags_test(env: dict[str, str], dag_id: str, conf: dict) -> str:
    result = subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, "-c", json.dumps(conf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def _expected_channel(raw: str | None, visits: dict[int, str]) -> str:
    """The channel a deal belongs to, from what the generator put in the column."""
    if raw is None or not raw.strip():
        return "no visit number"
    if raw == "nocookie":
        return "nocookie"
    if raw in vocabulary.OFFLINE_MARKERS:
        return raw
    if raw in vocabulary.JUNK_VALUES:
        return "no visit number"
    # a visit number, maybe typed by hand with spaces, dashes or a no-break space
    visit_id = int(re.sub(r"[\s\-\u00a0]", "", raw))
    return visits.get(visit_id, "unknown visit")


def test_dags_fill_the_report_with_the_sandboxs_own_totals(airflow_home, sandbox, warehouse_url):
    env = {
        **airflow_home,
        "AIRFLOW_CONN_BPMONLINE_DEFAULT": sandbox.airflow_connection_json(),
        "AIRFLOW_CONN_ROISTAT_WAREHOUSE": warehouse_url,
    }
    _dags_test(env, "roistat_visits_import", {"path": str(sandbox.visits_path)})
    _dags_test(env, "roistat_bpmonline_statuses", {})
    _dags_test(env, "roistat_bpmonline_sync", {"full_refresh": True})

    settings = load_settings_file(DEFAULT_SETTINGS_FILE)
    group_of = {sid.lower(): group for group, ids in settings.status_groups.items() for sid in ids}
    with open(sandbox.visits_path, newline="", encoding="utf-8") as handle:
        visits = {int(row["visit_id"]): row["marker"] for row in csv.DictReader(handle)}

    expected: dict[tuple, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for entity, status_column, amount_column in (
        ("lead", "QualifyStatusId", "Budget"),
        ("order", "StatusId", "Amount"),
    ):
        for row in sandbox.admin.rows(entity.capitalize()):
            status = (row[status_column] or "").lower()
            group = group_of.get(status, "not_registered")
            amount = row[amount_column] or Decimal(0)
            key = (
                row["CreatedOn"].date(),
                entity,
                _expected_channel(row[settings.roistat_column], visits),
            )
            totals = expected[key]
            totals["deals"] += 1
            totals[group] += 1
            if group == "paid":
                totals["revenue"] += amount
            if group in ("processing", "paid"):
                totals["forecast_revenue"] += amount

    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select day, entity, channel, deals, not_registered, processing, paid, rejected, "
            "revenue, forecast_revenue from roistat.channel_report"
        ).fetchall()
    actual = {
        (day, entity, channel): {
            "deals": deals,
            "not_registered": nr,
            "processing": pr,
            "paid": paid,
            "rejected": rej,
            "revenue": revenue,
            "forecast_revenue": forecast,
        }
        for day, entity, channel, deals, nr, pr, paid, rej, revenue, forecast in rows
    }
    assert set(actual) == set(expected)
    for key, totals in expected.items():
        for column in (
            "deals",
            "not_registered",
            "processing",
            "paid",
            "rejected",
            "revenue",
            "forecast_revenue",
        ):
            assert actual[key][column] == totals.get(column, 0), (key, column)
    # every kind of channel the design names shows up in this data
    channels = {channel for _, _, channel in actual}
    assert {"nocookie", "no visit number", "unknown visit"} <= channels
    assert channels & set(vocabulary.OFFLINE_MARKERS)

    # The status DAG again: nothing changes; then a rename keeps the group.
    statuses = (
        "select entity, status_id, name, status_group, is_mapped, renamed_from from roistat.status"
    )
    with psycopg.connect(warehouse_url) as conn:
        before = sorted(conn.execute(statuses).fetchall())
    _dags_test(env, "roistat_bpmonline_statuses", {})
    sandbox.admin.rename_status("OrderStatus", COMPLETED, "4. Оплачен")
    with psycopg.connect(warehouse_url) as conn:
        assert sorted(conn.execute(statuses).fetchall()) == before
    _dags_test(env, "roistat_bpmonline_statuses", {})
    with psycopg.connect(warehouse_url) as conn:
        renamed = conn.execute(
            "select name, status_group, renamed_from from roistat.status where status_id = %s",
            (COMPLETED,),
        ).fetchall()
    assert renamed == [("4. Оплачен", "paid", "4. Completed")]


def test_the_bpmonline_connection_type_is_registered(airflow_home):
    def airflow(*args: str) -> str:
        result = subprocess.run([AIRFLOW, *args], env=airflow_home, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result.stdout

    assert "roistat-bpmonline" in airflow("providers", "list")
    airflow(
        "connections",
        "add",
        "bpm_cli_check",
        "--conn-type",
        "bpmonline",
        "--conn-host",
        "https://mysite.creatio.com",
        "--conn-login",
        "integration",
        "--conn-password",
        "not-a-real-password",
        "--conn-extra",
        '{"odata_path": "/odata"}',
    )
    stored = json.loads(airflow("connections", "get", "bpm_cli_check", "-o", "json"))
    assert stored[0]["conn_type"] == "bpmonline"
    assert stored[0]["extra_dejson"] == {"odata_path": "/odata"}
