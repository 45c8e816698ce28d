"""Run real Airflow processes for a test: `with airflow_cluster(base_dir=...) as cluster:`.

Two topologies, both bound to 127.0.0.1 on a free port:

- `mode="standalone"`: what `airflow standalone` starts (api-server, scheduler,
  dag-processor, triggerer) with LocalExecutor, each as its own process;
- `mode="celery"`: the same plus `airflow celery worker`, with CeleryExecutor,
  Redis as the broker and the metadata database as the result backend, the
  topology of docker-compose.yaml without containers.

The metadata database is a scratch PostgreSQL database on the test server
(`roistat.warehouse_server.find_server()`), dropped at the end, unless
`metadata_url` names one. Standalone falls back to SQLite when no PostgreSQL is
reachable; celery needs PostgreSQL, and skips the test when no Redis answers.

Every process runs in a session of its own, its stdout and stderr in
`base_dir/process-logs/<name>.log`. At the end, even when the test fails, each
process group gets SIGTERM, then SIGKILL after a grace period, by its PID.

The admin's password is pre-seeded in `simple_auth_manager_passwords.json.generated`
(reference/airflow3.md §5), so a test (or a browser) can log in without reading
the api-server's output.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
REDIS_ADDRESS = ("127.0.0.1", 6379)
MODES = ("standalone", "celery")
FINAL_STATES = frozenset({"success", "failed"})
STOP_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 40


class AirflowStartError(RuntimeError):
    """An Airflow process exited, or the cluster was not ready in time."""


@dataclass
class AirflowProcess:
    name: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class AirflowCluster:
    """A running Airflow: its URL, home, admin login, environment and processes."""

    base_url: str
    home: Path
    admin_user: str
    admin_password: str
    env: dict[str, str]
    mode: str
    metadata_url: str
    processes: dict[str, AirflowProcess] = field(default_factory=dict)
    request_timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    # -- REST API -------------------------------------------------------------

    def token(self) -> str:
        """Return a bearer token for the admin (POST /auth/token), cached."""
        if self._token is None:
            response = requests.post(
                f"{self.base_url}/auth/token",
                json={"username": self.admin_user, "password": self.admin_password},
                timeout=self.request_timeout,
            )
            if response.status_code not in (200, 201):
                raise AirflowStartError(
                    f"POST /auth/token answered {response.status_code}: {response.text[:300]}"
                )
            self._token = response.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send an authorized request; `path` is like "/api/v2/dags"."""
        kwargs.setdefault("timeout", self.request_timeout)
        headers = dict(kwargs.pop("headers", None) or {})

        def send() -> requests.Response:
            headers["Authorization"] = f"Bearer {self.token()}"
            return requests.request(method, self.base_url + path, headers=headers, **kwargs)

        response = send()
        if response.status_code == 401:
            self._token = None  # expired: log in again, once
            response = send()
        return response

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed `dag_id` and the API knows it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if self.api("GET", f"/api/v2/dags/{dag_id}").status_code == 200:
                return
            time.sleep(1.0)
        errors = self.api("GET", "/api/v2/importErrors").json().get("import_errors", [])
        raise TimeoutError(
            f"DAG {dag_id} did not appear within {timeout:.0f} s; import errors: "
            f"{json.dumps(errors)[:2000]}; dag-processor log:\n" + self._tail("dag-processor")
        )

    def unpause(self, dag_id: str) -> None:
        response = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        _raise_for(response, f"unpause {dag_id}")

    def trigger(
        self,
        dag_id: str,
        *,
        conf: dict | None = None,
        logical_date: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Create a manual run and return its run id; `logical_date=None` sends null."""
        body = {
            "dag_run_id": run_id or f"test__{uuid.uuid4().hex[:12]}",
            "logical_date": logical_date,
            "conf": conf or {},
        }
        response = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        _raise_for(response, f"trigger {dag_id}")
        return response.json()["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Wait until the run is success or failed; return that state."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self.check_alive()
            response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            _raise_for(response, f"read run {dag_id}/{run_id}")
            state = response.json()["state"]
            if state in FINAL_STATES:
                return state
            time.sleep(1.0)
        raise TimeoutError(
            f"run {dag_id}/{run_id} still {state} after {timeout:.0f} s; "
            f"task instances: {self.task_states(dag_id, run_id)}"
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        _raise_for(response, f"read task instances of {dag_id}/{run_id}")
        return {ti["task_id"]: ti["state"] for ti in response.json()["task_instances"]}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """Return a task try's log as the API streams it: one JSON object per line."""
        response = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/x-ndjson"},
        )
        _raise_for(response, f"read the log of {dag_id}/{run_id}/{task_id}")
        return response.text

    def log_files(self) -> list[Path]:
        """Every task log file written under home/logs (dag_id=*/run_id=*/task_id=*/...)."""
        logs = self.home / "logs"
        return sorted(p for p in logs.rglob("*.log") if "dag_id=" in p.as_posix())

    # -- processes ----------------------------------------------------------

    def check_alive(self) -> None:
        """Raise, with the log's tail, if any of our processes has exited."""
        for proc in self.processes.values():
            if not proc.alive():
                raise AirflowStartError(
                    f"airflow {proc.name} (pid {proc.pid}) exited with code "
                    f"{proc.process.returncode}; {proc.log_path}:\n{proc.log_tail()}"
                )

    def _tail(self, name: str) -> str:
        proc = self.processes.get(name)
        return proc.log_tail() if proc else ""


@contextmanager
def airflow_cluster(
    *,
    base_dir: Path,
    mode: str = "standalone",
    env: Mapping[str, str | None] | None = None,
    port: int | None = None,
    metadata_url: str | None = None,
    ready_timeout: float = 240,
    triggerer: bool = True,
    worker_concurrency: int = 4,
    broker_url: str | None = None,
) -> Iterator[AirflowCluster]:
    """Start Airflow under `base_dir`, yield it when the API and scheduler are up, stop it.

    `env` is applied last, over everything this function sets (connections,
    `ROISTAT_TASK_RETRIES`, a different `AIRFLOW__CORE__DAGS_FOLDER`, ...); a
    value of None removes that variable.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    base_dir = Path(base_dir).resolve()
    home = base_dir / "airflow-home"
    log_dir = base_dir / "process-logs"
    home.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)

    with ExitStack() as stack:
        if mode == "celery":
            broker_url = broker_url or _redis_broker_or_skip()
            _require_celery_provider()
        if metadata_url is None:
            metadata_url = stack.enter_context(_scratch_metadata_database(home, mode))

        port = port or _free_port()
        admin_user, admin_password = "admin", secrets.token_urlsafe(12)
        (home / "simple_auth_manager_passwords.json.generated").write_text(
            json.dumps({admin_user: admin_password})
        )
        full_env = _build_env(
            home=home,
            port=port,
            mode=mode,
            metadata_url=metadata_url,
            broker_url=broker_url,
            worker_concurrency=worker_concurrency,
            admin_user=admin_user,
            overrides=env or {},
        )
        cluster = AirflowCluster(
            base_url=f"http://127.0.0.1:{port}",
            home=home,
            admin_user=admin_user,
            admin_password=admin_password,
            env=full_env,
            mode=mode,
            metadata_url=metadata_url,
        )

        deadline = time.monotonic() + ready_timeout
        _migrate(full_env, log_dir / "db-migrate.log", timeout=ready_timeout)

        stack.callback(_stop_all, cluster.processes)
        if mode == "celery":
            stack.callback(_purge_queue, broker_url, full_env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"])
        commands = {
            "api-server": ["api-server"],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
        }
        if triggerer:
            commands["triggerer"] = ["triggerer"]
        if mode == "celery":
            commands["celery-worker"] = [
                "celery",
                "worker",
                "--concurrency",
                str(worker_concurrency),
                "--queues",
                full_env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"],
                "--celery-hostname",
                f"roistat-test-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
            ]
        for name, args in commands.items():
            cluster.processes[name] = _start(name, args, full_env, log_dir / f"{name}.log")

        _wait_ready(cluster, deadline=deadline, expect_triggerer=triggerer)
        yield cluster


# -- environment ----------------------------------------------------------


def _build_env(
    *,
    home: Path,
    port: int,
    mode: str,
    metadata_url: str,
    broker_url: str | None,
    worker_concurrency: int,
    admin_user: str,
    overrides: Mapping[str, str | None],
) -> dict[str, str]:
    # Settings inherited from the caller's AIRFLOW__* variables (the Makefile's,
    # a developer's shell) would make the cluster depend on who runs the test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.pop("AIRFLOW_CONFIG", None)
    python_path = [str(REPO_ROOT), str(REPO_ROOT / "plugins")]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(python_path),
            "ROISTAT_SETTINGS_FILE": os.environ.get(
                "ROISTAT_SETTINGS_FILE", str(REPO_ROOT / "include" / "config" / "integration.yaml")
            ),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if mode == "celery" else "LocalExecutor",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{admin_user}:admin",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(24),
            # One shared secret: every process signs and checks the same JWTs.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # The log servers listen on every interface and a fixed port by
            # default (reference/airflow3.md §5); free ports keep parallel
            # clusters from colliding.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        }
    )
    if mode == "celery":
        env.update(
            {
                "AIRFLOW__CELERY__BROKER_URL": broker_url or "",
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
                # A queue of our own: a shared Redis may serve other clusters.
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"roistat_test_{uuid.uuid4().hex[:10]}",
            }
        )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)  # None unsets a variable the caller's environment has
        else:
            env[key] = value
    return env


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlalchemy_url(url: str) -> str:
    """Turn a libpq-style `postgresql://` URL into one SQLAlchemy opens with an installed driver."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=f"postgresql+{_postgres_driver()}"))


def _postgres_driver() -> str:
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg"
    return "psycopg2"


@contextmanager
def _scratch_metadata_database(home: Path, mode: str) -> Iterator[str]:
    from roistat.warehouse_server import find_server

    try:
        server = find_server()
    except Exception as exc:
        if mode == "celery":
            raise AirflowStartError(
                f"CeleryExecutor needs a PostgreSQL metadata database, and none is reachable: {exc}"
            ) from exc
        yield f"sqlite:///{home / 'airflow.db'}"
        return
    name = server.create_scratch_database("airflow_meta")
    try:
        yield sqlalchemy_url(server.url_for(name))
    finally:
        server.drop_database(name)


def _require_celery_provider() -> None:
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError as exc:
        raise AirflowStartError(
            "mode='celery' needs apache-airflow-providers-celery (pinned in requirements.txt); "
            "run `make venv`"
        ) from exc


def _redis_broker_or_skip() -> str:
    import pytest

    host, port = REDIS_ADDRESS
    try:
        with socket.create_connection((host, port), timeout=2.0) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        pytest.skip(f"CeleryExecutor needs a Redis broker; none answers on {host}:{port} ({exc})")
    if not answer.startswith(b"+PONG"):
        pytest.skip(f"{host}:{port} does not answer PING like Redis: {answer[:40]!r}")
    # A database index of its own, so a FLUSHDB elsewhere is unlikely to hit us.
    return f"redis://{host}:{port}/{random.randint(1, 15)}"


def _purge_queue(broker_url: str | None, queue: str) -> None:
    if not broker_url:
        return
    try:
        import redis

        client = redis.Redis.from_url(broker_url, socket_timeout=5)
        client.delete(queue, f"_kombu.binding.{queue}")
        client.close()
    except Exception:
        pass  # best effort: a leftover key holds no process


# -- processes ------------------------------------------------------------


def _migrate(env: dict[str, str], log_path: Path, *, timeout: float) -> None:
    with open(log_path, "wb") as log:
        try:
            result = subprocess.run(
                [str(AIRFLOW_BIN), "db", "migrate"],
                env=env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired as exc:
            raise AirflowStartError(f"airflow db migrate took over {timeout:.0f} s") from exc
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
        raise AirflowStartError(f"airflow db migrate failed ({result.returncode}):\n{tail}")


def _start(name: str, args: list[str], env: dict[str, str], log_path: Path) -> AirflowProcess:
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(AIRFLOW_BIN), *args],
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group: stopping it reaches the children it forks
            # (gunicorn/uvicorn workers, celery pool, task supervisors).
            start_new_session=True,
        )
    return AirflowProcess(name, process, log_path)


def _stop_all(processes: Mapping[str, AirflowProcess], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every process group we started, then SIGKILL what is left."""
    for proc in processes.values():
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in processes.values():
        try:
            proc.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    # Children can outlive their group leader; the group id is still the
    # leader's PID, so this reaches only what we started.
    for proc in processes.values():
        _signal_group(proc.pid, signal.SIGKILL)
        try:
            proc.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    # A killed orphan lingers until init reaps it; wait so that the caller
    # finds nothing of ours left.
    deadline = time.monotonic() + 10
    for proc in processes.values():
        while _group_exists(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_ready(cluster: AirflowCluster, *, deadline: float, expect_triggerer: bool) -> None:
    """Wait until the API answers and reports a healthy scheduler and dag-processor."""
    wanted = ["metadatabase", "scheduler", "dag_processor"]
    if expect_triggerer:
        wanted.append("triggerer")
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        cluster.check_alive()
        try:
            response = requests.get(f"{cluster.base_url}/api/v2/monitor/health", timeout=5)
            health = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError):
            health = {}
        if health and all((health.get(part) or {}).get("status") == "healthy" for part in wanted):
            if cluster.mode != "celery" or _worker_ready(cluster):
                cluster.token()
                return
        time.sleep(1.0)
    tails = "\n".join(
        f"--- {p.name} ({p.log_path}):\n{p.log_tail(15)}" for p in cluster.processes.values()
    )
    raise AirflowStartError(f"Airflow was not ready in time; last health {health}\n{tails}")


def _worker_ready(cluster: AirflowCluster) -> bool:
    # Celery prints "<hostname> ready." once the worker consumes its queues.
    worker = cluster.processes.get("celery-worker")
    if worker is None:
        return False
    try:
        return " ready." in worker.log_path.read_text(errors="replace")
    except OSError:
        return False


def _raise_for(response: requests.Response, action: str) -> None:
    if response.status_code >= 400:
        raise AirflowStartError(
            f"{action}: {response.request.method} {response.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
