"""`roistat.sync_run` bookkeeping: telling a dead run from a live one.

A run is known to be alive by its PostgreSQL session. PostgreSQL reuses pids,
so the session is matched by pid *and* start time; these tests hold real
sessions open on a real server and fake only the dead run's row.
"""

from __future__ import annotations

import psycopg
import pytest

from roistat.sync_runs import close_abandoned_runs, start_run
from roistat.sync_window import SyncWindow
from roistat.warehouse_schema import deploy_schema


@pytest.fixture
def conn(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as connection:
        deploy_schema(connection)
        yield connection


def _insert_running(conn, pid, backend_start) -> int:
    return conn.execute(
        """
        insert into roistat.sync_run (entity, mode, status, backend_pid, backend_start)
        values ('lead', 'incremental', 'running', %s, %s)
        returning sync_run_id
        """,
        (pid, backend_start),
    ).fetchone()[0]


def _status(conn, sync_run_id) -> str:
    return conn.execute(
        "select status from roistat.sync_run where sync_run_id = %s", (sync_run_id,)
    ).fetchone()[0]


def _session(conn) -> tuple[int, object]:
    return conn.execute(
        "select pid, backend_start from pg_stat_activity where pid = pg_backend_pid()"
    ).fetchone()


def test_a_run_whose_session_lives_is_left_running(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as other:
        pid, started = _session(other)
        alive = _insert_running(conn, pid, started)
        assert close_abandoned_runs(conn, "lead") == 0
        assert _status(conn, alive) == "running"


def test_a_run_whose_pid_went_to_a_newer_session_is_closed(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as other:
        pid, started = _session(other)
        # The dead run's session had this pid once, a year before the live one.
        dead = _insert_running(conn, pid, started.replace(year=started.year - 1))
        assert close_abandoned_runs(conn, "lead") == 1
        assert _status(conn, dead) == "failed"


def test_a_run_whose_pid_is_gone_is_closed(conn):
    unused_pid = conn.execute("select max(pid) + 100000 from pg_stat_activity").fetchone()[0]
    dead = _insert_running(conn, unused_pid, None)
    assert close_abandoned_runs(conn, "lead") == 1
    assert _status(conn, dead) == "failed"


def test_a_row_from_before_the_start_column_counts_as_alive_while_its_pid_lives(
    conn, warehouse_url
):
    with psycopg.connect(warehouse_url) as other:
        pid, _ = _session(other)
        old_row = _insert_running(conn, pid, None)
        assert close_abandoned_runs(conn, "lead") == 0
        assert _status(conn, old_row) == "running"


def test_start_run_records_the_session_it_runs_in(conn):
    window = SyncWindow(None, None, "full_refresh", True)
    sync_run_id = start_run(
        conn, entity="lead", window=window, dag_id="d", run_id="r", try_number=1
    )
    recorded = conn.execute(
        "select backend_pid, backend_start from roistat.sync_run where sync_run_id = %s",
        (sync_run_id,),
    ).fetchone()
    assert recorded == _session(conn)


def test_the_lock_holder_is_described_in_utc_whatever_the_warehouse_time_zone(conn):
    from roistat.entity_sync import _describe_lock_holder

    conn.execute("set time zone 'Asia/Vladivostok'")  # UTC+10, no daylight saving
    holder = conn.execute(
        """
        insert into roistat.sync_run (entity, mode, status, run_id, started_at, backend_pid)
        values ('lead', 'interval', 'running', 'scheduled__x', '2026-01-01 10:00+00', 4711)
        returning sync_run_id
        """
    ).fetchone()[0]
    message = _describe_lock_holder(conn, "lead", holder + 1)
    assert f"sync_run {holder}" in message
    assert "started 2026-01-01 10:00 UTC" in message, message
    assert "pg_terminate_backend(4711)" in message


def test_warehouse_sessions_cannot_hold_a_lock_for_hours(warehouse_url, monkeypatch):
    """A frozen or lost worker's session must end by itself: the idle-in-
    transaction timeout and the server's TCP keepalive probes are set."""
    from roistat.warehouse_connection import warehouse_connection

    monkeypatch.setenv("AIRFLOW_CONN_ROISTAT_TEST_WAREHOUSE", warehouse_url)
    with warehouse_connection("roistat_test_warehouse") as session:
        show = lambda name: session.execute(f"show {name}").fetchone()[0]  # noqa: E731
        assert show("idle_in_transaction_session_timeout") == "30min"
        over_tcp = session.execute("select inet_client_addr() is not null").fetchone()[0]
        if over_tcp:  # PostgreSQL reads these as 0 on a Unix socket, where they do not apply
            assert show("tcp_keepalives_idle") == "60"
            assert show("tcp_keepalives_interval") == "10"
            assert show("tcp_keepalives_count") == "6"
