"""Find a PostgreSQL server for the demo and the tests.

In production the warehouse is whatever the `roistat_warehouse` connection names.
For `make demo` and `make test` we need a real server on any machine, in order:

1. `ROISTAT_WAREHOUSE_URL`, when set: that server (its database is used as is by
   the demo; tests create databases of their own beside it);
2. a server answering on 127.0.0.1:5432: a database of our own there;
3. otherwise an embedded PostgreSQL from the `pgserver` package, whose data
   folder lives in `.pgdata/` (ignored by git).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from roistat.errors import WarehouseError

log = logging.getLogger(__name__)

WAREHOUSE_URL_ENV = "ROISTAT_WAREHOUSE_URL"
LOCAL_SERVER = ("127.0.0.1", 5432)
REPO_ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_DIR = REPO_ROOT / ".pgdata"


@dataclass(frozen=True)
class WarehouseServer:
    """A reachable server, and how it was found (for the demo's printout)."""

    url: str  # a URL whose database we may connect to and create databases from
    origin: str  # "ROISTAT_WAREHOUSE_URL", "local server", "embedded"

    def url_for(self, database: str) -> str:
        """Return the server's URL with another database name."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path="/" + database))

    def create_database(self, database: str) -> str:
        """Create `database` if missing; return its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (database,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
        return self.url_for(database)

    def drop_database(self, database: str) -> None:
        """Drop `database` (and end its sessions) if it exists."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database))
            )

    def create_scratch_database(self, prefix: str = "roistat_test") -> str:
        """Create a database with a unique name; return its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.create_database(name)
        return name


def find_server(
    *,
    local_server: tuple[str, int] = LOCAL_SERVER,
    embedded_dir: Path = EMBEDDED_DIR,
    env: dict[str, str] | None = None,
) -> WarehouseServer:
    """Return the first PostgreSQL server of the three this module describes."""
    env = os.environ if env is None else env
    configured = env.get(WAREHOUSE_URL_ENV)
    if configured:
        _check_connects(configured, origin=WAREHOUSE_URL_ENV)
        return WarehouseServer(configured, WAREHOUSE_URL_ENV)

    host, port = local_server
    if _answers(host, port):
        user = env.get("PGUSER", "postgres")
        url = f"postgresql://{user}@{host}:{port}/postgres"
        _check_connects(url, origin=f"the server on {host}:{port}")
        return WarehouseServer(url, "local server")

    return WarehouseServer(_start_embedded(embedded_dir), "embedded")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _check_connects(url: str, *, origin: str) -> None:
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error as exc:
        raise WarehouseError(
            f"cannot connect to PostgreSQL given by {origin}: {_first_line(exc)}. "
            f"Set {WAREHOUSE_URL_ENV}=postgresql://USER:PASSWORD@HOST:PORT/DATABASE "
            "to name a server you can use."
        ) from None


def _start_embedded(data_dir: Path) -> str:
    # pgserver ships real PostgreSQL binaries in its wheel; it starts (or reuses)
    # a server on a Unix socket inside data_dir, and stops it when the last
    # process using it exits.
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - pgserver is pinned in requirements
        raise WarehouseError(
            f"no PostgreSQL in reach and pgserver is not installed: {exc}"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    log.info(
        "No PostgreSQL configured or on %s:%s; starting an embedded one in %s",
        *LOCAL_SERVER,
        data_dir,
    )
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    return server.get_uri()


def stop_embedded(data_dir: Path = EMBEDDED_DIR) -> None:
    """Stop the embedded server of `data_dir` now, rather than at interpreter exit.

    pgserver stops it at exit anyway, but by then a test's temporary folder may
    be gone and logging closed, which turns a clean stop into a noisy kill.
    """
    import pgserver

    pgserver.get_server(data_dir, cleanup_mode="stop").cleanup()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
