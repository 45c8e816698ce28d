"""A 30-day backfill run by a real Airflow scheduler equals one read of the same range.

`airflow_cluster(mode="standalone")` starts the API server, the scheduler and
the dag-processor on a scratch PostgreSQL metadata database; the sync DAG gets
a daily timetable (`ROISTAT_SYNC_CRON`), so the range is 30 runs, created
through `POST /api/v2/backfills` and run three at a time. The scheduler's own
cron runs are switched off (`[scheduler] use_job_schedule`), so the backfill's
runs are the only ones; otherwise unpausing would start a run for the latest
interval that reads from the watermark, outside the range.

The CRM misbehaves a little during the backfill (a session that ends, 503s
with Retry-After), so the task logs hold the warning paths the secrets scan
reads. The expected warehouse is one sync with `start`/`end` equal to the
range, into a second database.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.reliability.support import (
    EVIDENCE,
    business_dump,
    connection_json,
    connections,
    diff,
    sandbox,
    settings,
    settings_raw,
    sync_all,
    sync_runs,
)
from tests.support.airflow_processes import airflow_cluster

pytestmark = pytest.mark.slow

DAG_ID = "roistat_bpmonline_sync"
DAYS = 30
BACKFILL_TIMEOUT = 900


def _range(sb) -> tuple[date, date]:
    """Thirty days around the leads' bulk update: hundreds of rows share one ModifiedOn."""
    burst = datetime.fromisoformat(sb.admin.info()["bursts"]["Lead"]["modified_on"][:19])
    first = burst.date() - timedelta(days=DAYS // 2)
    return first, first + timedelta(days=DAYS - 1)


def _backfill_runs(cluster) -> list[dict]:
    response = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100})
    assert response.status_code == 200, response.text[:500]
    return response.json()["dag_runs"]


def test_a_30_day_backfill_through_the_scheduler_equals_one_read_of_the_range(
    tmp_path, sandbox_data_dir, new_warehouse
):
    until = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=10
    )
    backfilled, reference = new_warehouse(), new_warehouse()
    with sandbox(sandbox_data_dir, leads=1200, orders=600, seed=17, until=until.isoformat()) as sb:
        first, last = _range(sb)
        env = {
            "AIRFLOW_CONN_BPMONLINE_DEFAULT": connection_json(sb),
            "AIRFLOW_CONN_ROISTAT_WAREHOUSE": backfilled,
            "AIRFLOW_VAR_ROISTAT_INTEGRATION": json.dumps(settings_raw()),
            "ROISTAT_TASK_RETRIES": "0",
            "ROISTAT_SYNC_CRON": "0 0 * * *",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        }
        # Each fault fires once (two firings in a row would end the fresh session
        # too, which the client rightly gives up on), early: the backfill makes
        # about 45 requests to Lead and 30 to Order.
        for after in (3, 12):
            sb.admin.set_fault("expire_session", entity="Lead", after=after, times=1)
            sb.admin.set_fault("status", entity="Order", status=503, retry_after=1, after=after)
        try:
            with airflow_cluster(
                base_dir=tmp_path, mode="standalone", env=env, triggerer=False
            ) as cluster:
                cluster.wait_for_dag(DAG_ID)
                cluster.unpause(DAG_ID)
                response = cluster.api(
                    "POST",
                    "/api/v2/backfills",
                    json={
                        "dag_id": DAG_ID,
                        "from_date": f"{first.isoformat()}T00:00:00Z",
                        "to_date": f"{last.isoformat()}T00:00:00Z",
                        "max_active_runs": 3,
                    },
                )
                assert response.status_code in (200, 201), response.text[:500]

                deadline = time.monotonic() + BACKFILL_TIMEOUT
                while time.monotonic() < deadline:
                    cluster.check_alive()
                    runs = _backfill_runs(cluster)
                    if len(runs) == DAYS and all(r["state"] in ("success", "failed") for r in runs):
                        break
                    time.sleep(3)
                states = {r["dag_run_id"]: r["state"] for r in runs}
                EVIDENCE.add_files(cluster.log_files())
                EVIDENCE.add_files(sorted((tmp_path / "process-logs").glob("*.log")))
        finally:
            faults = sb.admin.faults()

        assert len(states) == DAYS, states
        assert all(r["run_type"] == "backfill" for r in runs)
        assert set(states.values()) == {"success"}, {
            k: v for k, v in states.items() if v != "success"
        }
        # Which run meets a fault depends on the scheduler's order; at least one
        # must have fired for the comparison below to say anything about faults.
        assert any(f["fired"] for f in faults), [
            (f["kind"], f["entity"], f["after"], f["seen"], f["fired"]) for f in faults
        ]

        with connections(sb, reference):
            end = (last + timedelta(days=1)).isoformat()
            sync_all(reference, settings(), {"start": first.isoformat(), "end": end})

    expected, actual = business_dump(reference), business_dump(backfilled)
    # The range holds the bulk update: more rows share one ModifiedOn than two pages hold.
    ties = Counter(row[4] for row in expected["deal"] if row[0] == "lead")
    assert max(ties.values()) > 2 * settings().page_size, ties.most_common(1)
    assert actual == expected, diff(expected, actual)

    # Each run read its own day, widened by the lookback, and nothing else.
    windows = sorted(
        (run["entity"], run["window_start"], run["window_end"])
        for run in sync_runs(backfilled)
        if run["status"] == "success"
    )
    days = [
        datetime.combine(first + timedelta(days=n), datetime.min.time(), tzinfo=UTC)
        for n in range(DAYS)
    ]
    assert windows == sorted(
        (entity, day - timedelta(hours=24), day + timedelta(days=1))
        for entity in ("lead", "order")
        for day in days
    )
