"""Fixtures: sandboxes on small generated datasets, and logged-in HTTP sessions.

One sandbox serves the whole module set for read-only checks; tests that change
quirks, faults or data either reset it afterwards (`sandbox` fixture) or start a
sandbox of their own with `run_sandbox`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from sandbox.testing import RunningSandbox, run_sandbox


@pytest.fixture(scope="session")
def sandbox_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sandbox-data")


@pytest.fixture(scope="session")
def shared_sandbox(sandbox_data_dir: Path) -> Iterator[RunningSandbox]:
    with run_sandbox(leads=300, orders=200, seed=1, data_dir=sandbox_data_dir) as sb:
        yield sb


@pytest.fixture
def sandbox(shared_sandbox: RunningSandbox) -> Iterator[RunningSandbox]:
    """The shared sandbox, with faults, quirks and counters reset after the test."""
    shared_sandbox.admin.reset()
    yield shared_sandbox
    shared_sandbox.admin.reset()


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[requests.Session]:
    session = sandbox.login()
    yield session
    session.close()


@pytest.fixture
def odata(sandbox: RunningSandbox, client: requests.Session) -> Callable[..., requests.Response]:
    """GET an OData path of the shared sandbox with a logged-in session."""

    def get(path: str, **params: str) -> requests.Response:
        return client.get(sandbox.odata_url + path, params=params, timeout=10)

    return get
