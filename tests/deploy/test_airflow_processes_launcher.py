"""tests/support/airflow_processes.py without starting Airflow: environment, stop, skip."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.support import airflow_processes
from tests.support.airflow_processes import (
    REPO_ROOT,
    AirflowProcess,
    _build_env,
    _stop_all,
    airflow_cluster,
    sqlalchemy_url,
)

# A parent and a child that both ignore SIGTERM, as a busy worker might.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
subprocess.Popen([sys.executable, "-c", child])
print("started", flush=True)
time.sleep(600)
"""


def _env(mode: str = "standalone", **overrides) -> dict[str, str]:
    return _build_env(
        home=REPO_ROOT / ".airflow-test-home",
        port=18080,
        mode=mode,
        metadata_url="postgresql+psycopg://u@127.0.0.1:5432/meta",
        broker_url="redis://127.0.0.1:6379/3",
        worker_concurrency=2,
        admin_user="admin",
        overrides=overrides,
    )


def test_stop_ends_the_whole_process_group_even_when_sigterm_is_ignored(tmp_path):
    log = tmp_path / "stubborn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", STUBBORN], stdout=out, start_new_session=True
        )
    deadline = time.monotonic() + 30
    while "started" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)

    try:
        started = time.monotonic()
        _stop_all({"stubborn": AirflowProcess("stubborn", process, log)}, grace=1.0)

        assert process.poll() is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # the child, in the same group, is gone too
        assert time.monotonic() - started < 15
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # only if the code under test failed


def test_environment_binds_loopback_and_imports_the_package():
    env = _env()
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__PORT"] == "18080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"
    assert int(env["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"]) <= 10
    path = env["PYTHONPATH"].split(os.pathsep)
    assert path[:2] == [str(REPO_ROOT), str(REPO_ROOT / "plugins")]


def test_celery_environment_uses_redis_and_the_metadata_database():
    env = _env("celery")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/3"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg://u@127.0.0.1:5432/meta"
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"].startswith("roistat_test_")


def test_caller_settings_win_and_none_unsets(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")
    monkeypatch.setenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", "{}")
    env = _env(ROISTAT_TASK_RETRIES="0", AIRFLOW_VAR_ROISTAT_INTEGRATION=None)
    # The caller's AIRFLOW__* variables do not leak into the cluster...
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    # ...while what the test passes is applied last.
    assert env["ROISTAT_TASK_RETRIES"] == "0"
    assert "AIRFLOW_VAR_ROISTAT_INTEGRATION" not in env


@pytest.mark.parametrize(
    ("url", "expected_scheme"),
    [
        pytest.param("postgresql://postgres@127.0.0.1:5432/m", "postgresql+", id="tcp"),
        pytest.param("postgresql://postgres:@/m?host=/tmp/pg", "postgresql+", id="socket"),
    ],
)
def test_sqlalchemy_url_names_an_installed_driver(url, expected_scheme):
    converted = sqlalchemy_url(url)
    driver = converted.split("://")[0].split("+")[1]
    __import__(driver)
    assert converted.startswith(expected_scheme)
    assert converted.split("://")[1] == url.split("://")[1]


def test_celery_mode_skips_with_a_reason_when_no_redis_answers(tmp_path, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setattr(airflow_processes, "REDIS_ADDRESS", ("127.0.0.1", closed_port))

    with pytest.raises(pytest.skip.Exception, match="needs a Redis broker"):
        with airflow_cluster(base_dir=tmp_path, mode="celery"):
            pass  # pragma: no cover - never reached
    assert not (tmp_path / "process-logs" / "scheduler.log").exists()


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of"):
        with airflow_cluster(base_dir=tmp_path, mode="kubernetes"):
            pass  # pragma: no cover
