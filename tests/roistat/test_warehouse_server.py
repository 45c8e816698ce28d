from __future__ import annotations

import socket

import psycopg
import pytest

from roistat.errors import WarehouseError
from roistat.warehouse_schema import deploy_schema_at
from roistat.warehouse_server import find_server, stop_embedded


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_embedded_fallback_when_no_url_and_no_local_server(tmp_path):
    # CI always has a local server, so point the probe at a port nobody listens on
    # and give no ROISTAT_WAREHOUSE_URL: the embedded PostgreSQL must start.
    data_dir = tmp_path / "pg"
    server = find_server(local_server=("127.0.0.1", _free_port()), embedded_dir=data_dir, env={})
    try:
        assert server.origin == "embedded"
        database = server.create_scratch_database()
        url = server.url_for(database)
        assert deploy_schema_at(url)
        with psycopg.connect(url) as conn:
            assert conn.execute("select count(*) from roistat.deal").fetchone() == (0,)
        server.drop_database(database)
    finally:
        stop_embedded(data_dir)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=3)


def test_configured_url_wins_over_the_local_server(warehouse_server):
    server = find_server(env={"ROISTAT_WAREHOUSE_URL": warehouse_server.url})
    assert server.origin == "ROISTAT_WAREHOUSE_URL"
    assert server.url == warehouse_server.url


def test_unreachable_configured_url_names_the_variable():
    url = f"postgresql://nobody@127.0.0.1:{_free_port()}/nothing"
    with pytest.raises(WarehouseError, match="ROISTAT_WAREHOUSE_URL"):
        find_server(env={"ROISTAT_WAREHOUSE_URL": url})
