"""Helpers for the bpm'online hook tests: sandboxes, connections, fast hooks.

Tests speak real HTTP to a sandbox (sandbox.testing.run_sandbox). The Airflow
connection comes from an ``AIRFLOW_CONN_*`` variable in JSON form, which the
Task SDK reads without a metadata database. Retry waits are made short through
the hook's constructor, never by patching time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from roistat.bpmonline_hook import BpmOnlineHook
from roistat.bpmonline_values import ODataTimestamp
from sandbox.admin_client import AdminClient
from sandbox.testing import RunningSandbox, run_sandbox

CONN_ID = "bpmonline_test"

# Retries in milliseconds rather than seconds, and a budget a test can outlast.
FAST_RETRY: dict[str, Any] = {
    "max_retries": 4,
    "retry_budget_seconds": 20.0,
    "retry_initial_wait": 0.01,
    "retry_max_wait": 0.05,
}

LEAD_COLUMNS = ["LeadName", "QualifyStatusId", "Budget", "LeadSourceId", "UsrRoistat", "CreatedOn"]


def sandbox_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of generated datasets for every hook test module."""
    path = tmp_path_factory.getbasetemp() / "bpmonline-sandbox-data"
    path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def sandbox_with_connection(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    conn_id: str = CONN_ID,
    extra: Mapping[str, Any] | None = None,
    **options: Any,
) -> Iterator[RunningSandbox]:
    """Start a sandbox and point ``AIRFLOW_CONN_<conn_id>`` at it for its lifetime."""
    options.setdefault("leads", 300)
    options.setdefault("orders", 200)
    options.setdefault("seed", 1)
    with (
        run_sandbox(data_dir=sandbox_data_dir(tmp_path_factory), **options) as sb,
        pytest.MonkeyPatch.context() as patch,
    ):
        set_connection(patch, sb, conn_id=conn_id, **(extra or {}))
        yield sb


def set_connection(
    monkeypatch: pytest.MonkeyPatch,
    sb: RunningSandbox,
    *,
    conn_id: str = CONN_ID,
    conn_type: str = "bpmonline",
    host: str | None = None,
    login: str | None = None,
    password: str | None = None,
    schema: str | None = None,
    **extra: Any,
) -> str:
    """Define an Airflow connection to the sandbox; return its id."""
    if sb.odata_path != "/0/odata":
        extra.setdefault("odata_path", sb.odata_path)
    connection = {
        "conn_type": conn_type,
        "host": sb.url if host is None else host,
        "login": sb.user if login is None else login,
        "password": sb.password if password is None else password,
        "extra": extra,
    }
    if schema is not None:
        connection["schema"] = schema
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    return conn_id


def oauth_extra(sb: RunningSandbox, **more: Any) -> dict[str, Any]:
    return {
        "auth": "oauth2",
        "client_id": sb.client_id,
        "client_secret": sb.client_secret,
        "token_url": sb.token_url,
        **more,
    }


def make_hook(conn_id: str = CONN_ID, **kwargs: Any) -> BpmOnlineHook:
    """A hook with millisecond retry waits (overridable)."""
    return BpmOnlineHook(conn_id, **{**FAST_RETRY, **kwargs})


def exact_rows(sb: RunningSandbox, entity: str) -> list[dict[str, Any]]:
    """Rows as stored, datetimes in Creatio's exact text form (7 digits, true UTC)."""
    client = AdminClient(sb.url, sb.admin_token)  # no db path: the admin endpoint's form
    try:
        return client.rows(entity)
    finally:
        client.close()


def stored_versions(sb: RunningSandbox, entity: str) -> dict[str, int]:
    """Id -> ModifiedOn ticks of every stored row."""
    return {
        row["Id"]: ODataTimestamp.parse(row["ModifiedOn"]).ticks for row in exact_rows(sb, entity)
    }


def version_keys(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, Any]]:
    """(Id, ModifiedOn) of rows the hook yielded, in order."""
    return [(row["Id"], row["ModifiedOn"]) for row in rows]


def as_datetime(ticks: int) -> Any:
    return ODataTimestamp(ticks).to_datetime()


def odata_requests(sb: RunningSandbox, entity: str | None = None) -> list[dict[str, Any]]:
    """The requests the sandbox logged (optionally only those addressing ``entity``)."""
    log = sb.admin.counters()["requests"]
    return [r for r in log if entity is None or r.get("entity") == entity]
