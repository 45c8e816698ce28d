"""Run a sandbox inside the test process: `with run_sandbox(...) as sb:`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sandbox.admin_client import AdminClient
from sandbox.app import create_app
from sandbox.auth_routes import LOGIN_PATH
from sandbox.options import SandboxOptions
from sandbox.server import BackgroundServer
from sandbox.state import SandboxState


@dataclass
class RunningSandbox:
    """What a test needs to talk to a running sandbox."""

    url: str
    odata_path: str
    user: str
    password: str
    client_id: str
    client_secret: str
    token_url: str
    visits_path: Path
    db_path: Path
    admin_token: str
    admin: AdminClient
    options: SandboxOptions

    @property
    def odata_url(self) -> str:
        return self.url + self.odata_path

    def airflow_connection_json(self) -> str:
        """This sandbox as a forms-login `bpmonline` connection, for AIRFLOW_CONN_* variables."""
        return json.dumps(
            {
                "conn_type": "bpmonline",
                "host": self.url,
                "login": self.user,
                "password": self.password,
                "extra": {"odata_path": self.odata_path},
            }
        )

    def login(self) -> requests.Session:
        """A `requests` session logged in by forms auth, sending BPMCSRF as required."""
        session = requests.Session()
        response = session.post(
            self.url + LOGIN_PATH,
            json={"UserName": self.user, "UserPassword": self.password},
            timeout=30,
        )
        if response.json().get("Code") != 0:
            raise RuntimeError(f"sandbox login refused: {response.text[:200]}")
        session.headers.update({"BPMCSRF": session.cookies["BPMCSRF"], "ForceUseSession": "true"})
        return session


@contextmanager
def run_sandbox(
    *,
    leads: int = 300,
    orders: int = 200,
    seed: int = 1,
    data_dir: Path | str | None = None,
    **options: Any,
) -> Iterator[RunningSandbox]:
    """Start a sandbox on a free 127.0.0.1 port in a background thread.

    `options` take every CLI option by its Python name (user, password, netcore,
    until, roistat_column, token_lifetime, row_cap, client_id, client_secret,
    token_path, admin_token, db) and every quirk by name (decimals, empty_lookup,
    clock_offset_minutes, unauthorized, ...), or `quirks={...}`. Generated data is
    cached in `data_dir` (default `.sandbox/` under the current directory).
    """
    if data_dir is not None:
        options["data_dir"] = Path(data_dir)
    options.setdefault("host", "127.0.0.1")
    settings = SandboxOptions.from_kwargs(leads=leads, orders=orders, seed=seed, **options)
    state = SandboxState.open(settings)
    server = BackgroundServer(create_app(state), settings.host, settings.port)
    admin = AdminClient(
        server.url, settings.admin_token, state.dataset.db_path, settings.roistat_column
    )
    try:
        server.start()
        yield RunningSandbox(
            url=server.url,
            odata_path=settings.odata_path,
            user=settings.user,
            password=settings.password,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=server.url + settings.token_path,
            visits_path=state.dataset.visits_path,
            db_path=state.dataset.db_path,
            admin_token=settings.admin_token,
            admin=admin,
            options=settings,
        )
    finally:
        admin.close()
        server.stop()
        state.close()
