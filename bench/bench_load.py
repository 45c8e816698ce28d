"""Load figures: a bare COPY into an unindexed table (the limit) and the DealLoader path.

All three take the same mapped records, so mapping costs nothing here: the
bare COPY writes them with psycopg's `write_row` into a plain logged table
with the stage's columns and no index or key; the loader stages them by COPY
and merges them into `roistat.deal` (with its keys and indexes, the status
history and the quarantine) exactly as a sync does, in one transaction.
"""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import psycopg

from roistat.deal_loader import STAGE_COLUMNS, DealLoader, DealRecord

RAW_TABLE = "bench_raw_copy"
CHANGED_EVERY = 100  # 1 % of rows


def create_raw_table(url: str) -> None:
    """The unindexed target of the bare COPY: the stage's columns, no key."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"drop table if exists {RAW_TABLE}")
        conn.execute(
            f"""
            create table {RAW_TABLE} (
                entity text, crm_id uuid, title text, created_on timestamptz,
                modified_on timestamptz, status_id uuid, status_group text,
                roistat_raw text, roistat_kind text, visit_id bigint, marker text,
                revenue numeric, first_cost numeric, profit numeric,
                filter_value text, passes_filter boolean
            )
            """
        )


def as_rows(records: Sequence[DealRecord]) -> list[tuple]:
    return [tuple(getattr(r, name) for name in STAGE_COLUMNS) for r in records]


def as_copy_text(url: str, rows: Sequence[tuple]) -> bytes:
    """The rows in COPY text format, as PostgreSQL itself writes them (untimed)."""
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(f"create temporary table bench_text (like {RAW_TABLE}) on commit drop")
        with conn.cursor().copy("copy bench_text from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        buffer = io.BytesIO()
        with conn.cursor().copy("copy bench_text to stdout") as copy:
            for chunk in copy:
                buffer.write(chunk)
    return buffer.getvalue()


def raw_copy(url: str, rows: Sequence[tuple]) -> float:
    """COPY `rows` with write_row into the empty raw table; return the seconds."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"truncate {RAW_TABLE}")
        started = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(f"copy {RAW_TABLE} from stdin") as copy:
            for row in rows:
                copy.write_row(row)
        return time.perf_counter() - started


def raw_copy_text(url: str, text: bytes) -> float:
    """COPY preformatted text into the empty raw table; return the seconds."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"truncate {RAW_TABLE}")
        started = time.perf_counter()
        with conn.transaction(), conn.cursor().copy(f"copy {RAW_TABLE} from stdin") as copy:
            view = memoryview(text)
            for start in range(0, len(view), 1 << 20):
                copy.write(view[start : start + (1 << 20)])
        return time.perf_counter() - started


def empty_deal_tables(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate roistat.deal, roistat.deal_status_history, roistat.rejected_record")
        conn.execute("vacuum analyze roistat.deal, roistat.deal_status_history")


def load(url: str, records: Sequence[DealRecord], sync_run_id: int) -> float:
    """Stage and merge `records` as one sync run does; return the seconds."""
    synced_at = datetime.now(timezone.utc)
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        with conn.transaction():
            loader = DealLoader(conn, sync_run_id=sync_run_id, synced_at=synced_at)
            for record in records:
                loader.add(record)
            loader.flush()
        seconds = time.perf_counter() - started
    expected = len({(r.entity, r.crm_id) for r in records})
    if loader.counts.staged != expected:
        raise AssertionError(f"the loader staged {loader.counts.staged} of {expected} deals")
    return seconds


def with_one_percent_changed(records: Sequence[DealRecord], rep: int) -> list[DealRecord]:
    """The same records with every 100th changed as a CRM user would change it."""
    changed = list(records)
    for index in range(0, len(changed), CHANGED_EVERY):
        record = changed[index]
        changed[index] = dataclasses.replace(
            record,
            modified_on=record.modified_on + timedelta(seconds=rep + 1),
            title=f"{record.title or ''} (edited {rep})",
        )
    return changed
