"""Sync one entity (leads or orders) for one run: read, apply the rules, load.

One transaction per entity per run holds every write of the load, the
watermark and the run's `success` row, so a task that dies leaves nothing
half-written and its retry reads the window again. A per-entity advisory lock
makes two runs of the same entity take turns; the merge is order-independent
anyway (newer ModifiedOn wins), so whichever finishes last leaves the same rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg

from roistat.crm_entities import ENTITIES, CrmEntity
from roistat.deal_loader import DealLoader
from roistat.deal_mapping import DealMapper, Rejection, filter_lookup
from roistat.deletion_reconcile import ReadIds, reconcile_deletions
from roistat.errors import RoistatError
from roistat.settings import IntegrationSettings
from roistat.sync_runs import (
    advance_watermark,
    close_abandoned_runs,
    fail_run,
    finish_run,
    read_watermark,
    start_run,
)
from roistat.sync_window import SyncWindow, plan_window
from roistat.warehouse_writer import WarehouseWriter

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 10.0
# How long a run waits for another run of the same entity to release its lock.
# A frozen or partitioned worker keeps its session (and the lock) until TCP
# keepalive ends it; waiting without bound would hang every later run silently.
LOCK_WAIT_SECONDS = 60


class EntityLockedError(RoistatError):
    """Another run of the same entity held its lock past LOCK_WAIT_SECONDS."""


@dataclass(frozen=True)
class RunContext:
    """What Airflow tells a run about itself (all optional: tests call this directly)."""

    params: Mapping[str, Any] = field(default_factory=dict)
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_type: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    try_number: int | None = None


def sync_entity(
    hook: Any,
    conn: psycopg.Connection,
    settings: IntegrationSettings,
    entity_name: str,
    context: RunContext,
) -> dict[str, Any]:
    """Run the sync of one entity; return its counts (the task's XCom)."""
    entity = ENTITIES[entity_name]
    close_abandoned_runs(conn, entity.name)
    window = plan_window(
        params=context.params,
        data_interval_start=context.data_interval_start,
        data_interval_end=context.data_interval_end,
        run_type=context.run_type,
        watermark=read_watermark(conn, entity.name),
        lookback_hours=settings.lookback_hours,
    )
    sync_run_id = start_run(
        conn,
        entity=entity.name,
        window=window,
        dag_id=context.dag_id,
        run_id=context.run_id,
        try_number=context.try_number,
    )
    started = time.monotonic()
    try:
        counts = _read_and_load(hook, conn, settings, entity, window, sync_run_id, started)
    except BaseException as exc:
        fail_run(
            conn, sync_run_id, f"{type(exc).__name__}: {exc}", seconds=time.monotonic() - started
        )
        raise
    _log_summary(entity, window, counts)
    return counts


def _read_and_load(
    hook: Any,
    conn: psycopg.Connection,
    settings: IntegrationSettings,
    entity: CrmEntity,
    window: SyncWindow,
    sync_run_id: int,
    started: float,
) -> dict[str, Any]:
    mapper = DealMapper.for_entity(
        entity,
        settings,
        status_groups=_status_groups(conn, entity.name),
        filter_names=filter_lookup(hook, entity, settings),
    )
    # The CRM's labels are true UTC plus its clock offset (0 on a healthy site):
    # window literals go out in the CRM's labels, values come back to UTC.
    crm_clock = timedelta(minutes=settings.crm_time_offset_minutes)
    hook.check_columns(entity.entity_set, mapper.required_columns())
    synced_at = datetime.now(timezone.utc)

    rows_read = 0
    watermark: datetime | None = None
    progress = _Progress(entity.name)
    with conn.transaction():
        _take_entity_lock(conn, entity.name, sync_run_id)
        # Batches are merged on the writer's thread while this one goes on
        # reading and mapping (warehouse_writer.py); every write of the
        # transaction goes through it, in order.
        writer = WarehouseWriter(name=f"warehouse-writer-{entity.name}")
        loader = DealLoader(conn, sync_run_id=sync_run_id, synced_at=synced_at, writer=writer)
        # A read of the whole entity sees every id the CRM holds: the deletion
        # check can use them instead of scanning the ids again.
        whole_entity = window.start is None and window.end is None
        read_ids = ReadIds(conn, writer=writer) if window.reconcile and whole_entity else None
        try:
            for row in hook.iter_rows(
                entity.entity_set,
                mapper.columns(),
                window_start=None if window.start is None else window.start + crm_clock,
                window_end=None if window.end is None else window.end + crm_clock,
                page_size=settings.page_size,
            ):
                rows_read += 1
                progress.tick(rows_read)
                outcome = mapper.map(row)
                if isinstance(outcome, Rejection):
                    if read_ids is not None:
                        read_ids.add_unchecked(row.get("Id"))
                    loader.reject(
                        entity=entity.name,
                        crm_id=outcome.crm_id,
                        modified_on=outcome.modified_on,
                        reason=outcome.reason,
                        raw_payload=row,
                    )
                    continue
                loader.add(outcome)
                if read_ids is not None:
                    read_ids.add(outcome.crm_id)
                if watermark is None or outcome.modified_on > watermark:
                    watermark = outcome.modified_on
            loader.flush()
        finally:
            # However the read ended, no write may still be running when the
            # transaction block below commits or rolls back.
            writer.wait()
        deleted = (
            reconcile_deletions(hook, conn, entity, synced_at, read_ids) if window.reconcile else 0
        )

        counts: dict[str, Any] = {
            "entity": entity.name,
            "window_start": window.start.isoformat() if window.start else None,
            "window_end": window.end.isoformat() if window.end else None,
            "mode": window.mode,
            "rows_read": rows_read,
            "filtered_out": mapper.filtered_out,
            "loaded_new": loader.counts.loaded_new,
            "loaded_changed": loader.counts.loaded_changed,
            "loaded_unchanged": loader.counts.loaded_unchanged,
            "rejected": loader.counts.rejected,
            "unmapped_statuses": len(mapper.unmapped_statuses),
            "deleted": deleted,
            "watermark": watermark.isoformat() if watermark else None,
            "sync_run_id": sync_run_id,
        }
        if watermark is not None:
            advance_watermark(conn, entity.name, watermark, sync_run_id)
        counts["seconds"] = round(time.monotonic() - started, 3)
        finish_run(conn, sync_run_id, counts, seconds=counts["seconds"], watermark=watermark)

    _warn(entity, settings, mapper, counts)
    return counts


def _take_entity_lock(conn: psycopg.Connection, entity: str, sync_run_id: int) -> None:
    # lock_timeout bounds the advisory lock wait; it is reset at once so the
    # load itself never meets it.
    conn.execute("select set_config('lock_timeout', %s, true)", (f"{LOCK_WAIT_SECONDS * 1000}ms",))
    try:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"roistat.deal:{entity}",))
    except psycopg.errors.LockNotAvailable:
        raise EntityLockedError(_describe_lock_holder(conn, entity, sync_run_id)) from None
    conn.execute("select set_config('lock_timeout', '0', true)")


def _describe_lock_holder(conn: psycopg.Connection, entity: str, sync_run_id: int) -> str:
    holder = conn.execute(
        """
        select sync_run_id, run_id, started_at at time zone 'UTC', backend_pid
        from roistat.sync_run
        where entity = %s and status = 'running' and sync_run_id <> %s
        order by started_at
        limit 1
        """,
        (entity, sync_run_id),
    ).fetchone()
    if holder is None:
        return (
            f"another {entity} sync still holds the {entity} lock after {LOCK_WAIT_SECONDS} s; "
            "see pg_locks for the session that holds it"
        )
    other_id, run_id, started_at, pid = holder
    return (
        f"another {entity} sync (sync_run {other_id}, run {run_id}, started {started_at:%Y-%m-%d %H:%M} UTC, "
        f"PostgreSQL pid {pid}) still holds the {entity} lock after {LOCK_WAIT_SECONDS} s; if that "
        f"task is gone, end its session with: select pg_terminate_backend({pid})"
    )


def _status_groups(conn: psycopg.Connection, entity: str) -> dict[str, str]:
    rows = conn.execute(
        "select status_id::text, status_group from roistat.status where entity = %s and is_mapped",
        (entity,),
    ).fetchall()
    return dict(rows)


class _Progress:
    """A progress line at most every ten seconds during long reads."""

    def __init__(self, entity: str) -> None:
        self._entity = entity
        self._started = self._last = time.monotonic()

    def tick(self, rows: int) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_SECONDS:
            return
        self._last = now
        elapsed = now - self._started
        log.info("%s: %d rows read so far, %.0f rows/s", self._entity, rows, rows / elapsed)


def _warn(
    entity: CrmEntity, settings: IntegrationSettings, mapper: DealMapper, counts: Mapping[str, Any]
) -> None:
    if mapper.unmapped_statuses:
        log.warning(
            "%s: %d deals have statuses nobody sorted into a group (counted as not_registered): %s. "
            "Run roistat_bpmonline_statuses and add the ids to status_groups in the settings.",
            entity.name,
            sum(mapper.unmapped_statuses.values()),
            ", ".join(
                f"{sid} ({n} deals)" for sid, n in sorted(mapper.unmapped_statuses.items(), key=str)
            ),
        )
    if (
        settings.filter.enabled
        and counts["rows_read"]
        and counts["filtered_out"] == counts["rows_read"]
    ):
        log.warning(
            "%s: the filter matched none of the %d deals read: %s must match %r. Every deal of this "
            "window was excluded; check filter.field and filter.value in the settings.",
            entity.name,
            counts["rows_read"],
            settings.filter.field,
            settings.filter.value,
        )
    if counts["rejected"]:
        log.warning(
            "%s: %d rows broke a rule and were not loaded; see roistat.rejected_record (reasons: %s)",
            entity.name,
            counts["rejected"],
            "; ".join(mapper.rejection_reasons(limit=5)),
        )


def _log_summary(entity: CrmEntity, window: SyncWindow, counts: Mapping[str, Any]) -> None:
    log.info(
        "%s sync done: window %s; read %d, filtered out %d, loaded %d new / %d changed / %d unchanged, "
        "rejected %d, unmapped statuses %d, deleted %d, watermark %s, %.1f s",
        entity.name,
        window.describe(),
        counts["rows_read"],
        counts["filtered_out"],
        counts["loaded_new"],
        counts["loaded_changed"],
        counts["loaded_unchanged"],
        counts["rejected"],
        counts["unmapped_statuses"],
        counts["deleted"],
        counts["watermark"] or "unchanged",
        counts["seconds"],
    )
