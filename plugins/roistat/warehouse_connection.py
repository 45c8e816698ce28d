"""Open the warehouse through Airflow's PostgresHook, as a psycopg 3 connection.

With SQLAlchemy 2 and psycopg 3 installed (both pinned), PostgresHook hands out
psycopg 3 connections (reference/airflow3.md §4). The loader relies on psycopg 3
(COPY, `conn.transaction()`), so anything else is refused with a plain message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from roistat.errors import WarehouseError


@contextmanager
def warehouse_connection(conn_id: str) -> Iterator[psycopg.Connection]:
    """Yield a psycopg 3 connection for the Airflow connection `conn_id`; close it after."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    if not isinstance(conn, psycopg.Connection):
        conn.close()
        raise WarehouseError(
            f"the connection {conn_id!r} gave a {type(conn).__module__} connection; "
            "roistat-bpmonline needs psycopg 3 (install the pinned requirements: "
            "SQLAlchemy 2 and psycopg 3 make PostgresHook use it)"
        )
    # Autocommit: every unit of work opens its own `conn.transaction()` block,
    # so nothing is left in an implicit transaction between them.
    conn.autocommit = True
    # A frozen worker must not hold its transaction (and the entity lock) for the
    # two hours Linux's default TCP keepalive takes to notice it:
    # - PostgreSQL ends a session idle in a transaction this long, far above the
    #   hook's 300 s retry budget per request (a paused process, peer alive);
    # - the server probes the client after 60 s of silence and drops the session
    #   after 6 unanswered probes 10 s apart (a lost host or a cut network).
    #   These are ignored on a Unix socket, where a dead peer is seen at once.
    conn.execute("set idle_in_transaction_session_timeout = '30min'")
    conn.execute("set tcp_keepalives_idle = 60")
    conn.execute("set tcp_keepalives_interval = 10")
    conn.execute("set tcp_keepalives_count = 6")
    try:
        yield conn
    finally:
        conn.close()
