"""Deploy the warehouse DDL (include/sql/deploy/*.sql) idempotently.

Every sync calls `deploy_schema` first, so a new version of the package brings
its tables and views with it. The files run in name order inside one
transaction under an advisory lock: two tasks deploying at once (Celery workers
starting the lead and order syncs together) take turns instead of racing on
`create ... if not exists`, and a failed deploy leaves the old schema intact.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg

from roistat.package_paths import sql_path

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process of this package.
_DEPLOY_LOCK_KEY = 0x726F6973  # "rois"


def deploy_files() -> list[Path]:
    """Return the DDL files in the order they run."""
    files = sorted(sql_path("deploy").glob("*.sql"))
    if not files:
        raise FileNotFoundError(f"no DDL files in {sql_path('deploy')}")
    return files


def deploy_schema(conn: psycopg.Connection) -> list[str]:
    """Apply every DDL file in one transaction; return the file names applied."""
    applied = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_DEPLOY_LOCK_KEY,))
        for path in deploy_files():
            # A DDL file holds several statements and no parameters: psycopg sends
            # it with the simple query protocol when no parameters are passed.
            conn.execute(path.read_text(encoding="utf-8"))
            applied.append(path.name)
    log.info("Warehouse schema deployed: %s", ", ".join(applied))
    return applied


def deploy_schema_at(url: str) -> list[str]:
    """Connect to `url`, deploy the schema, and close the connection."""
    with psycopg.connect(url) as conn:
        return deploy_schema(conn)
