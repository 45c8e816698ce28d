"""Fixtures for the "Sent leads" page: warehouses with real and made-up deals, clients.

`synced_warehouse` is a warehouse filled the way production fills it: the
status import, the visits file and a full sync against the sandbox, once per
module. `warehouse_url` (tests/conftest.py) is an empty one, for tests that
insert the rows they need (equal timestamps, hostile titles, failed runs).
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from starlette.testclient import TestClient

from roistat.settings import DEFAULT_SETTINGS_FILE, load_settings_file
from roistat.warehouse_schema import deploy_schema_at
from tests.web.sent_leads_support import page_client


@pytest.fixture(scope="module")
def synced_warehouse(warehouse_server, sandbox_data_dir) -> Iterator[str]:
    """A warehouse after a real full sync of a small sandbox (400 leads, 250 orders)."""
    from roistat.status_task import run_status_import
    from roistat.sync_task import run_entity_sync
    from roistat.visit_task import run_visit_import
    from sandbox.testing import run_sandbox

    name = warehouse_server.create_scratch_database("roistat_test_web")
    url = warehouse_server.url_for(name)
    try:
        deploy_schema_at(url)
        with run_sandbox(leads=400, orders=250, seed=3, data_dir=sandbox_data_dir) as sandbox:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(
                    "AIRFLOW_CONN_BPMONLINE_DEFAULT",
                    sandbox.airflow_connection_json(),
                )
                patch.setenv("AIRFLOW_CONN_ROISTAT_WAREHOUSE", url)
                patch.delenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", raising=False)
                patch.setenv("ROISTAT_SETTINGS_FILE", str(DEFAULT_SETTINGS_FILE))
                settings = load_settings_file(DEFAULT_SETTINGS_FILE)
                run_visit_import(str(sandbox.visits_path))
                run_status_import(settings)
                for entity in settings.entities:
                    run_entity_sync(
                        entity,
                        params={"full_refresh": True},
                        data_interval_start=None,
                        data_interval_end=None,
                        settings=settings,
                    )
        yield url
    finally:
        warehouse_server.drop_database(name)


@pytest.fixture(scope="module")
def synced_client(synced_warehouse) -> Iterator[TestClient]:
    with page_client(synced_warehouse) as client:
        yield client


@pytest.fixture
def warehouse(warehouse_url) -> Iterator[psycopg.Connection]:
    """An autocommit connection to an empty warehouse (schema deployed)."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def client(warehouse_url) -> Iterator[TestClient]:
    with page_client(warehouse_url) as client:
        yield client
