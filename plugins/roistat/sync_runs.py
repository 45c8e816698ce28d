"""Book-keeping of sync runs in `roistat.sync_run`.

A run's row is committed as `running` before its load transaction starts, so
it survives a rollback and a killed task. The load transaction marks it
`success` together with the data, atomically. A failure is written after the
rollback. A row left `running` by a task that was killed (SIGKILL, OOM, a lost
worker) is recognised later by its PostgreSQL session being gone, and marked
`failed` by the next run of the same entity.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import psycopg

from roistat.sync_window import SyncWindow

log = logging.getLogger(__name__)

ERROR_TEXT_LIMIT = 2000


def close_abandoned_runs(conn: psycopg.Connection, entity: str) -> int:
    """Mark `failed` the runs of `entity` whose task died without saying so."""
    with conn.transaction():
        cursor = conn.execute(
            """
            update roistat.sync_run
            set status = 'failed',
                finished_at = now(),
                error = 'abandoned: the task ended without finishing (killed or lost); '
                        'its load was rolled back, and a later run reads the window again'
            where entity = %s
                and status = 'running'
                -- its session is gone: no session has its pid, or the one that
                -- has it started later (PostgreSQL reuses pids). A start time we
                -- cannot compare (rows from before the column; another role's
                -- session, whose details pg_stat_activity hides) counts as alive:
                -- better a stale 'running' than a live run marked failed.
                and not exists (
                    select 1
                    from pg_stat_activity as session
                    where session.pid = sync_run.backend_pid
                        and (
                            sync_run.backend_start is null
                            or session.backend_start is null
                            or session.backend_start = sync_run.backend_start
                        )
                )
            """,
            (entity,),
        )
    if cursor.rowcount:
        log.warning(
            "%d earlier %s sync run(s) had died mid-way; marked failed", cursor.rowcount, entity
        )
    return cursor.rowcount


def start_run(
    conn: psycopg.Connection,
    *,
    entity: str,
    window: SyncWindow,
    dag_id: str | None,
    run_id: str | None,
    try_number: int | None,
) -> int:
    """Insert and commit the `running` row; return its id."""
    with conn.transaction():
        row = conn.execute(
            """
            insert into roistat.sync_run
                (dag_id, run_id, try_number, entity, mode, window_start, window_end,
                 backend_pid, backend_start)
            values (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid(),
                    (select backend_start from pg_stat_activity where pid = pg_backend_pid()))
            returning sync_run_id
            """,
            (dag_id, run_id, try_number, entity, window.mode, window.start, window.end),
        ).fetchone()
    return row[0]


def finish_run(
    conn: psycopg.Connection,
    sync_run_id: int,
    counts: dict[str, Any],
    *,
    seconds: float,
    watermark: datetime | None,
) -> None:
    """Mark the run `success` with its counts; call inside the load transaction."""
    conn.execute(
        """
        update roistat.sync_run
        set status = 'success',
            rows_read = %(rows_read)s,
            filtered_out = %(filtered_out)s,
            loaded_new = %(loaded_new)s,
            loaded_changed = %(loaded_changed)s,
            loaded_unchanged = %(loaded_unchanged)s,
            rejected = %(rejected)s,
            unmapped_statuses = %(unmapped_statuses)s,
            deleted = %(deleted)s,
            watermark = %(watermark)s,
            finished_at = now(),
            seconds = %(seconds)s
        where sync_run_id = %(sync_run_id)s
        """,
        {
            "rows_read": counts.get("rows_read", 0),
            "filtered_out": counts.get("filtered_out", 0),
            "loaded_new": counts.get("loaded_new", 0),
            "loaded_changed": counts.get("loaded_changed", 0),
            "loaded_unchanged": counts.get("loaded_unchanged", 0),
            "rejected": counts.get("rejected", 0),
            "unmapped_statuses": counts.get("unmapped_statuses", 0),
            "deleted": counts.get("deleted", 0),
            "watermark": watermark,
            "seconds": round(seconds, 3),
            "sync_run_id": sync_run_id,
        },
    )


def fail_run(conn: psycopg.Connection, sync_run_id: int, error: str, *, seconds: float) -> None:
    """Record a failure after the load transaction rolled back."""
    try:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        with conn.transaction():
            conn.execute(
                """
                update roistat.sync_run
                set status = 'failed', finished_at = now(), seconds = %s, error = %s
                where sync_run_id = %s
                """,
                (round(seconds, 3), error[:ERROR_TEXT_LIMIT], sync_run_id),
            )
    except psycopg.Error as exc:
        # The warehouse itself may be what failed; the task's own error is the one
        # that matters, so this one is only logged.
        log.warning("Could not record the failure of sync run %s: %s", sync_run_id, exc)


def read_watermark(conn: psycopg.Connection, entity: str) -> datetime | None:
    """Return the last ModifiedOn loaded for `entity`, or None before the first load."""
    row = conn.execute(
        "select modified_on from roistat.watermark where entity = %s", (entity,)
    ).fetchone()
    return row[0] if row else None


def advance_watermark(
    conn: psycopg.Connection, entity: str, modified_on: datetime, sync_run_id: int
) -> None:
    """Move the watermark forward (never back: a backfill of old windows leaves it)."""
    conn.execute(
        """
        insert into roistat.watermark as w (entity, modified_on, sync_run_id)
        values (%s, %s, %s)
        on conflict (entity) do update set
            modified_on = excluded.modified_on,
            sync_run_id = excluded.sync_run_id,
            updated_at = now()
        where excluded.modified_on > w.modified_on
        """,
        (entity, modified_on, sync_run_id),
    )
