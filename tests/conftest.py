"""Shared fixtures: a real PostgreSQL server and scratch databases on it.

The server is found the way the demo finds it (roistat.warehouse_server):
ROISTAT_WAREHOUSE_URL, else 127.0.0.1:5432, else an embedded PostgreSQL. Each
test that needs a warehouse gets a database of its own, dropped afterwards, so
tests never touch data they did not create.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from roistat.warehouse_schema import deploy_schema
from roistat.warehouse_server import WarehouseServer, find_server


@pytest.fixture(scope="session")
def warehouse_server() -> WarehouseServer:
    return find_server()


@pytest.fixture
def empty_database_url(warehouse_server: WarehouseServer) -> Iterator[str]:
    """A fresh, empty database; dropped after the test."""
    name = warehouse_server.create_scratch_database()
    try:
        yield warehouse_server.url_for(name)
    finally:
        warehouse_server.drop_database(name)


@pytest.fixture
def warehouse_url(empty_database_url: str) -> str:
    """A fresh database with the warehouse schema deployed."""
    with psycopg.connect(empty_database_url) as conn:
        deploy_schema(conn)
    return empty_database_url


@pytest.fixture(scope="session")
def sandbox_data_dir(tmp_path_factory) -> Path:
    """Generated sandbox data, shared: each sandbox run works on a private copy."""
    return tmp_path_factory.mktemp("sandbox-data")


@pytest.fixture
def sandbox(sandbox_data_dir):
    """A small bpm'online sandbox over real HTTP, fresh for each test."""
    from sandbox.testing import run_sandbox

    with run_sandbox(leads=400, orders=250, seed=3, data_dir=sandbox_data_dir) as running:
        yield running


@pytest.fixture
def airflow_connections(sandbox, warehouse_url, monkeypatch):
    """Point `bpmonline_default` and `roistat_warehouse` at the sandbox and the test database."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_BPMONLINE_DEFAULT",
        sandbox.airflow_connection_json(),
    )
    monkeypatch.setenv("AIRFLOW_CONN_ROISTAT_WAREHOUSE", warehouse_url)
    monkeypatch.delenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", raising=False)
    return {"bpmonline": sandbox, "warehouse_url": warehouse_url}
