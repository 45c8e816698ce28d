"""Shared helpers of the reliability tests: sandboxes, warehouses, syncs, comparisons.

Every sandbox here runs with a distinctive password and OAuth client secret,
and `EVIDENCE` collects everything these tests saw (log records, child process
output, exception texts, Airflow log files), so that
`test_zz_secrets_scan.py`, which runs last, can look through all of it for
the credentials and the cookies, CSRF tokens and bearer tokens the sandboxes
issued (`ISSUED`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from roistat.settings import DEFAULT_SETTINGS_FILE, IntegrationSettings, parse_settings

PASSWORD = "S3cret-Pa55!"
CLIENT_SECRET = "0auth-Cl1ent-S3cret!"
CONN_ENV = "AIRFLOW_CONN_BPMONLINE_DEFAULT"
WAREHOUSE_ENV = "AIRFLOW_CONN_ROISTAT_WAREHOUSE"
PAGE_SIZE = 50

# Short waits keep a retried fault cheap; the policy (count, budget) is the product's.
FAST_RETRY = {"retry_initial_wait": 0.01, "retry_max_wait": 0.1}

# What a sync writes that identifies a run rather than the data (ids, clocks).
BUSINESS_QUERIES = {
    "deal": """
        select entity, crm_id, title, created_on, modified_on, status_id, status_group,
               roistat_raw, roistat_kind, visit_id, marker, revenue, first_cost, profit,
               filter_value, content_hash, paid_at is not null as paid,
               excluded_at is not null as excluded, deleted_at is not null as deleted
        from roistat.deal
    """,
    "deal_status_history": """
        select entity, crm_id, modified_on, status_id, status_group
        from roistat.deal_status_history
    """,
    "rejected_record": """
        select entity, crm_id, modified_on, reason, raw_payload::text, resolved_at is not null
        from roistat.rejected_record
    """,
    "status": """
        select entity, status_id, name, status_group, is_mapped,
               vanished_at is not null, renamed_from
        from roistat.status
    """,
    "watermark": "select entity, modified_on from roistat.watermark",
    "channel_report": "select * from roistat.channel_report",
}
WAREHOUSE_TABLES = (
    "deal",
    "deal_status_history",
    "rejected_record",
    "status",
    "sync_run",
    "watermark",
    "visit",
)


# -- evidence for the secrets scan -------------------------------------------


@dataclass
class Evidence:
    """Every text these tests saw, by where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, source: str, text: object) -> None:
        with self._lock:
            self.texts.append((source, str(text)))

    def add_files(self, paths: list[Path]) -> None:
        with self._lock:
            self.files.extend(paths)


@dataclass
class Issued:
    """The session cookies, CSRF tokens and bearer tokens the sandboxes handed out."""

    cookies: set[str] = field(default_factory=set)
    csrf: set[str] = field(default_factory=set)
    bearer: set[str] = field(default_factory=set)


EVIDENCE = Evidence()
ISSUED = Issued()


def record_exception(exc: BaseException) -> str:
    """Keep an exception's text for the secrets scan; return it."""
    text = f"{type(exc).__name__}: {exc}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        text += f"\ncaused by {type(cause).__name__}: {cause}"
    EVIDENCE.add("exception", text)
    return text


# -- sandboxes and connections -------------------------------------------------


@contextmanager
def sandbox(data_dir: Path, *, leads: int = 300, orders: int = 200, seed: int = 11, **options):
    """A sandbox with the distinctive credentials the secrets scan looks for."""
    from sandbox.testing import run_sandbox

    options.setdefault("password", PASSWORD)
    options.setdefault("client_secret", CLIENT_SECRET)
    with run_sandbox(leads=leads, orders=orders, seed=seed, data_dir=data_dir, **options) as sb:
        yield sb


def connection_json(sb: Any, *, auth: str = "forms", **extra: Any) -> str:
    """The `bpmonline_default` connection for a sandbox, as AIRFLOW_CONN_* JSON."""
    extra = {"odata_path": sb.odata_path, **extra}
    body: dict[str, Any] = {"conn_type": "bpmonline", "host": sb.url}
    if auth == "oauth2":
        extra.update(
            auth="oauth2",
            client_id=sb.client_id,
            client_secret=sb.client_secret,
            token_url=sb.token_url,
        )
    else:
        body.update(login=sb.user, password=sb.password)
    body["extra"] = extra
    return json.dumps(body)


@contextmanager
def connections(sb: Any, warehouse_url: str | None = None, **kwargs: Any) -> Iterator[None]:
    """Point the Airflow connections (env) at a sandbox and a warehouse, for a block."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONN_ENV, connection_json(sb, **kwargs))
        if warehouse_url is not None:
            patch.setenv(WAREHOUSE_ENV, warehouse_url)
        patch.delenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", raising=False)
        yield


def settings_raw(**overrides: Any) -> dict[str, Any]:
    """The example settings file with small pages, plus `overrides`, as a mapping."""
    raw = yaml.safe_load(DEFAULT_SETTINGS_FILE.read_text(encoding="utf-8"))
    raw["page_size"] = PAGE_SIZE
    raw.update(overrides)
    return raw


def settings(**overrides: Any) -> IntegrationSettings:
    """The example settings file with small pages, plus `overrides`."""
    return parse_settings(settings_raw(**overrides), source="reliability test")


def fast_hook(**kwargs: Any):
    from roistat.bpmonline_hook import BpmOnlineHook

    return BpmOnlineHook(**{**FAST_RETRY, **kwargs})


# -- running syncs in process ---------------------------------------------------


def import_statuses(url: str, config: IntegrationSettings, hook: Any = None) -> None:
    from roistat.status_import import import_statuses as run_import

    with hook or fast_hook() as crm, psycopg.connect(url, autocommit=True) as conn:
        run_import(crm, conn, config)


def sync(
    url: str,
    config: IntegrationSettings,
    entity: str,
    params: Mapping[str, Any] | None = None,
    *,
    hook: Any = None,
    **context: Any,
) -> dict[str, Any]:
    """Sync one entity the way `run_entity_sync` does, with a hook of our choosing.

    `run_entity_sync` builds its hook from the connection with the product's
    default retry waits (seconds to a minute); the tests pass a hook with short
    waits instead, and otherwise run the very same `sync_entity`.
    """
    from roistat.entity_sync import RunContext, sync_entity

    with hook or fast_hook() as crm, psycopg.connect(url, autocommit=True) as conn:
        return sync_entity(
            crm, conn, config, entity, RunContext(params=dict(params or {}), **context)
        )


def sync_all(
    url: str, config: IntegrationSettings, params: Mapping[str, Any] | None = None, **kw: Any
) -> dict[str, dict[str, Any]]:
    """The status import, then each entity with a hook of its own (as the DAG's tasks)."""
    import_statuses(url, config)
    return {entity: sync(url, config, entity, params, **kw) for entity in config.entities}


# -- looking at the warehouse ----------------------------------------------------


def rows(url: str, query: str, params: Any = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return sorted(conn.execute(query, params).fetchall(), key=repr)


def business_dump(url: str) -> dict[str, list[tuple]]:
    """Every table a sync writes, by the columns that describe the data, not the run."""
    return {table: rows(url, query) for table, query in BUSINESS_QUERIES.items()}


def full_dump(url: str) -> dict[str, list[tuple]]:
    """Every warehouse table whole, sync_run included: for "nothing changed" checks."""
    dump = {
        table: rows(url, f"select * from roistat.{table}")  # noqa: S608 - constant names
        for table in WAREHOUSE_TABLES
    }
    dump["channel_report"] = rows(url, BUSINESS_QUERIES["channel_report"])
    return dump


def sync_runs(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn:
        cursor = conn.execute("select * from roistat.sync_run order by sync_run_id")
        names = [d.name for d in cursor.description]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for run in found:
        if run["error"]:
            EVIDENCE.add("sync_run.error", run["error"])
    return found


def wipe(url: str) -> None:
    """Empty every warehouse table (faster than a new database per case)."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "truncate "
            + ", ".join(f"roistat.{table}" for table in WAREHOUSE_TABLES)
            + " restart identity"
        )


def diff(expected: Mapping[str, list], actual: Mapping[str, list]) -> str:
    """A short description of how two dumps differ, for assertion messages."""
    lines = []
    for table in expected:
        want, got = set(expected[table]), set(actual.get(table, []))
        if want != got:
            lines.append(
                f"{table}: {len(want - got)} rows missing, {len(got - want)} extra; "
                f"e.g. missing {sorted(want - got, key=repr)[:1]} extra {sorted(got - want, key=repr)[:1]}"
            )
    return "; ".join(lines) or "no difference"


def requests_to(sb: Any, entity_set: str) -> int:
    """How many requests addressed `entity_set` since the counters were reset."""
    return int(sb.admin.counters()["counters"].get(f"entity.{entity_set}", 0))


def env_without_airflow_settings() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
