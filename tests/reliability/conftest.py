"""Fixtures of the reliability tests, and the recorders behind the secrets scan.

For the whole package: every log record is kept formatted (the `roistat`
loggers at DEBUG, so a per-request line that leaked a token would be seen),
and the sandboxes' own session store is watched so the scan knows every
cookie, CSRF token and bearer token they issued. The sandbox's admin API
shows only how many sessions and tokens are live, not their values, so the
recorder wraps `sandbox.auth.AuthState` in this process; it only copies what
the methods return.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest

from roistat.warehouse_schema import deploy_schema_at
from tests.reliability.support import EVIDENCE, ISSUED, wipe


class _RecordEverything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            EVIDENCE.add(f"log {record.name}", self.format(record))
        except Exception:  # a record that cannot be formatted is still not our failure
            EVIDENCE.add(f"log {record.name}", repr(record.msg))


_RECORDER = _RecordEverything()


@pytest.fixture(autouse=True)
def _keep_recording() -> None:
    # Airflow configures logging when it is first imported (and may again), which
    # replaces the root logger's handlers and levels: attach again for each test.
    root = logging.getLogger()
    if _RECORDER not in root.handlers:
        root.addHandler(_RECORDER)
    logging.getLogger("roistat").setLevel(logging.DEBUG)


@pytest.fixture(scope="package", autouse=True)
def record_logs_and_issued_secrets() -> Iterator[None]:
    from sandbox.auth import AuthState

    root = logging.getLogger()
    product = logging.getLogger("roistat")
    level = product.level

    open_session, issue_token = AuthState.open_session, AuthState.issue_token

    def recording_open_session(self, *args, **kwargs):
        session = open_session(self, *args, **kwargs)
        if session is not None:
            ISSUED.cookies.update({session.aspxauth, session.loader})
            ISSUED.csrf.add(session.csrf)
        return session

    def recording_issue_token(self, *args, **kwargs):
        token = issue_token(self, *args, **kwargs)
        ISSUED.bearer.add(token.value)
        return token

    AuthState.open_session = recording_open_session
    AuthState.issue_token = recording_issue_token
    try:
        yield
    finally:
        AuthState.open_session, AuthState.issue_token = open_session, issue_token
        product.setLevel(level)
        root.removeHandler(_RECORDER)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A failing test's traceback is an exception text the scan must see too.
    if report.failed and "reliability" in report.nodeid:
        EVIDENCE.add(f"failure {report.nodeid}", report.longreprtext)


class WarehousePool:
    """Warehouse databases made once per package and emptied for each use.

    Creating and dropping a PostgreSQL database costs a checkpoint each (a
    second or more on a busy disk); emptying the tables costs milliseconds.
    """

    def __init__(self, server) -> None:
        self._server = server
        self._free: list[str] = []
        self._names: list[str] = []

    def take(self) -> str:
        if self._free:
            url = self._free.pop()
            wipe(url)
            return url
        name = self._server.create_scratch_database("roistat_rel")
        self._names.append(name)
        url = self._server.url_for(name)
        deploy_schema_at(url)
        return url

    def give_back(self, url: str) -> None:
        self._free.append(url)

    def drop_all(self) -> None:
        for name in self._names:
            self._server.drop_database(name)


@pytest.fixture(scope="package")
def warehouse_pool(warehouse_server) -> Iterator[WarehousePool]:
    pool = WarehousePool(warehouse_server)
    yield pool
    pool.drop_all()


@pytest.fixture
def new_warehouse(warehouse_pool) -> Iterator[Callable[[], str]]:
    """A factory of empty warehouse databases (schema deployed), for one test."""
    taken: list[str] = []

    def take() -> str:
        taken.append(warehouse_pool.take())
        return taken[-1]

    yield take
    for url in taken:
        warehouse_pool.give_back(url)


@pytest.fixture(scope="module")
def module_warehouse(warehouse_pool) -> Iterator[Callable[[], str]]:
    """Like `new_warehouse`, held for a whole module."""
    taken: list[str] = []

    def take() -> str:
        taken.append(warehouse_pool.take())
        return taken[-1]

    yield take
    for url in taken:
        warehouse_pool.give_back(url)
