"""A sync killed with SIGKILL at chosen points, then run again.

The sync runs in a child process (forked by `crash_child.py`) that dies the
way a task dies when its worker is OOM-killed or lost: no exception, no
clean-up. After the kill the warehouse must hold exactly what it held before
the run (or, for a kill after the commit, what the finished run wrote), and
after the next run exactly what a clean run leaves. `roistat.sync_run` must
tell the story: the killed run is `running` until the next run marks it
`failed` as abandoned; one killed after its commit is `success`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.reliability.support import (
    EVIDENCE,
    business_dump,
    connections,
    diff,
    import_statuses,
    record_exception,
    sandbox,
    settings,
    settings_raw,
    sync,
    sync_all,
    sync_runs,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")
FULL = {"full_refresh": True}
CONFIG = settings()
TIMEOUT = 120


@pytest.fixture(scope="module")
def crm(sandbox_data_dir):
    with sandbox(sandbox_data_dir, seed=12) as sb, connections(sb):
        yield sb


class Forker:
    """`crash_child.py`, started once: it imports the package, then forks a child per job."""

    def __init__(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "plugins")]),
        }
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD)],
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self._expect("ready")

    def _expect(self, prefix: str) -> str:
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(
                    f"crash_child.py exited ({self.process.wait()}):\n" + "".join(self.output[-40:])
                )
            self.output.append(line)
            EVIDENCE.add("crash child output", line)
            if line.startswith(prefix):
                return line.rstrip("\n")

    def start(self, **job) -> int:
        """Hand a job over; return the pid of the child running it."""
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        return int(self._expect("pid ").split()[1])

    def wait(self, pid: int) -> int:
        """Wait for the child to end; return its code (negative: the signal that ended it)."""
        return int(self._expect(f"exit {pid} ").split()[2])

    def stop(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        EVIDENCE.add("crash child output", self.process.stdout.read())


@pytest.fixture(scope="module")
def forker():
    process = Forker()
    yield process
    process.stop()


def _signal_while_a_page_is_held(sb, held: dict, pid: int, sig: signal.Signals) -> None:
    """Signal the child from outside while the sandbox holds one of its pages."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        fault = next(f for f in sb.admin.faults() if f["id"] == held["id"])
        if fault["fired"]:
            time.sleep(0.3)  # the child is now waiting for that page
            os.kill(pid, sig)
            return
        time.sleep(0.05)
    raise AssertionError("the child never asked for the held page")


def _wait_for_backend_to_end(url: str, pid: int) -> None:
    # PostgreSQL sees the socket close and rolls back within milliseconds; a
    # run that starts before that cannot yet tell the killed run is dead.
    with psycopg.connect(url, autocommit=True) as conn:
        for _ in range(200):
            if not conn.execute("select 1 from pg_stat_activity where pid = %s", (pid,)).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} of the killed run is still there")


@pytest.mark.parametrize(
    ("kill_at", "rows"),
    [
        pytest.param("mid-read", 0, id="mid-read"),
        pytest.param("mid-copy", 120, id="mid-copy"),
        pytest.param("before-commit", 0, id="before-commit"),
        pytest.param("after-commit", 0, id="after-commit"),
    ],
)
def test_a_killed_sync_leaves_nothing_half_done_and_the_next_run_repairs_it(
    crm, forker, new_warehouse, kill_at, rows
):
    case, reference = new_warehouse(), new_warehouse()
    for url in (case, reference):
        sync_all(url, CONFIG, FULL)
    crm.admin.touch("Lead", count=7, title=f"renamed before the {kill_at} kill")
    sync(reference, CONFIG, "lead", FULL)
    clean = business_dump(reference)
    before = business_dump(case)
    runs_before = len(sync_runs(case))

    # Mid-read: the sandbox holds the fourth page for 5 s, and we kill the
    # child from outside while it waits for it, its transaction open.
    held = None
    if kill_at == "mid-read":
        held = crm.admin.set_fault("latency", entity="Lead", after=3, seconds=5, times=1)
    pid = forker.start(
        url=case,
        entity="lead",
        kill_at="never" if held else kill_at,
        rows=rows,
        settings=settings_raw(),
        params=FULL,
        connection=os.environ["AIRFLOW_CONN_BPMONLINE_DEFAULT"],
    )
    if held:
        _signal_while_a_page_is_held(crm, held, pid, signal.SIGKILL)
    assert forker.wait(pid) == -signal.SIGKILL, "".join(forker.output[-40:])

    (killed,) = sync_runs(case)[runs_before:]
    _wait_for_backend_to_end(case, killed["backend_pid"])
    left = business_dump(case)
    if kill_at == "after-commit":
        assert killed["status"] == "success"
        assert left == clean, diff(clean, left)
    else:
        assert killed["status"] == "running"
        assert left == before, f"the killed run left a trace: {diff(before, left)}"

    sync(case, CONFIG, "lead", FULL)
    repaired = business_dump(case)
    assert repaired == clean, diff(clean, repaired)

    killed_now, rerun = sync_runs(case)[runs_before:]
    assert rerun["status"] == "success"
    if kill_at == "after-commit":
        assert killed_now["status"] == "success"
        assert rerun["loaded_new"] == rerun["loaded_changed"] == 0
    else:
        assert killed_now["status"] == "failed"
        assert killed_now["error"].startswith("abandoned"), killed_now["error"]
        assert killed_now["finished_at"] is not None
        assert rerun["loaded_changed"] == 7


def test_a_frozen_sync_does_not_block_the_next_one_for_ever(
    crm, forker, new_warehouse, monkeypatch
):
    """A worker that froze mid-run (SIGSTOP here; a paused VM or a lost host in
    production) keeps its PostgreSQL session, its open transaction and the
    entity's lock. The next run must not wait for it in silence: within its
    bounded lock wait it must fail, naming the run that holds the lock."""
    import roistat.entity_sync as entity_sync
    from roistat.errors import RoistatError

    monkeypatch.setattr(entity_sync, "LOCK_WAIT_SECONDS", 3)
    url = new_warehouse()
    import_statuses(url, CONFIG)
    held = crm.admin.set_fault("latency", entity="Lead", after=2, seconds=3, times=1)
    pid = forker.start(
        url=url,
        entity="lead",
        kill_at="never",
        settings=settings_raw(),
        params=FULL,
        connection=os.environ["AIRFLOW_CONN_BPMONLINE_DEFAULT"],
    )
    outcome: dict = {}
    waiter = threading.Thread(target=lambda: outcome.update(result=_sync_or_error(url)))
    try:
        _signal_while_a_page_is_held(crm, held, pid, signal.SIGSTOP)
        (frozen,) = sync_runs(url)
        waiter.start()
        waiter.join(timeout=20)
        assert not waiter.is_alive(), "the next run is still waiting for the frozen one's lock"
    finally:
        os.kill(pid, signal.SIGKILL)
        assert forker.wait(pid) == -signal.SIGKILL
        waiter.join(timeout=60)

    error = outcome["result"]
    assert isinstance(error, RoistatError), f"expected a clear failure, got {error!r}"
    message = record_exception(error)
    assert "lock" in message and str(frozen["sync_run_id"]) in message, message
    waited = sync_runs(url)[-1]
    assert waited["status"] == "failed" and waited["error"], waited


def _sync_or_error(url: str):
    try:
        return sync(url, CONFIG, "lead", FULL)
    except Exception as exc:  # handed to the test thread
        return exc
