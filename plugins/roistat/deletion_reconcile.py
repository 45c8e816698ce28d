"""Find deals deleted in the CRM: an id-only scan, compared with the warehouse.

Creatio sends no tombstones, so a deleted lead or order simply stops being
returned. A reconciliation reads every id of the entity (cheap: `$select=Id`,
paged on the same keyset as the sync, so a row modified during the scan is
never skipped), streams them into a temporary table, and marks the deals that
are missing `deleted_at`; a deal that is back loses it. Deleted deals stay in
`roistat.deal` and leave the report.

Runs inside the sync's transaction, after the read, so the ids it compares
include every deal the run itself loaded. A full refresh has just read every
row of the entity, so it keeps their ids as it goes (`ReadIds`) and skips the
second scan: on a large CRM that scan is a third of the refresh.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import psycopg

from roistat.crm_entities import CrmEntity
from roistat.rules.crm_scalars import parse_lookup_id
from roistat.rules.rule_errors import CrmValueError
from roistat.warehouse_writer import WarehouseWriter

log = logging.getLogger(__name__)

ID_PAGE_SIZE = 5000
_CREATE_ID_TABLE = "create temporary table crm_ids (crm_id uuid not null) on commit drop"
_COPY_IDS = "copy crm_ids (crm_id) from stdin"


def _confirm_missing(hook: Any, cur: psycopg.Cursor, entity: CrmEntity) -> None:
    """Ask the CRM by Id about each deal the read or scan did not meet; keep those it has.

    A keyset read can pass a row by: a transaction that commits after the
    read went past its ModifiedOn (a late commit, app servers whose clocks
    differ) leaves the row behind the read. Such a deal is not deleted, and
    marking it would drop it from the report until it changes again. The
    missing ones are usually few, so asking for each by Id is cheap.
    """
    missing = [
        str(row[0])
        for row in cur.execute(
            """
            select d.crm_id
            from roistat.deal as d
            where d.entity = %s
                and d.deleted_at is null
                and not exists (select 1 from crm_ids as c where c.crm_id = d.crm_id)
            """,
            (entity.name,),
        )
    ]
    if not missing:
        return
    present = hook.existing_ids(entity.entity_set, missing)
    if present:
        log.info(
            "%s reconciliation: %d of %d deals the read did not meet are still in the CRM "
            "(changed behind the read); not marked deleted",
            entity.name,
            len(present),
            len(missing),
        )
        with cur.copy(_COPY_IDS) as copy:
            for crm_id in present:
                copy.write_row((crm_id,))


class ReadIds:
    """The ids a full read meets, kept in the `crm_ids` table as the read goes.

    Ids are copied a batch at a time, so memory stays flat however many deals
    the CRM holds. Every row read counts, a rejected one too: it exists in the
    CRM even if its values broke a rule.
    """

    # With a writer busy merging deals, ids wait in memory up to this many
    # batches rather than hold the read up (about 1 MB per 10,000 ids).
    _MAX_WAITING_BATCHES = 10

    def __init__(
        self,
        conn: psycopg.Connection,
        batch_size: int = 20_000,
        writer: WarehouseWriter | None = None,
    ) -> None:
        self._conn = conn
        self._batch_size = batch_size
        self._writer = writer
        self._batch: list[tuple[str]] = []
        conn.execute(_CREATE_ID_TABLE)

    def add(self, crm_id: str) -> None:
        """Keep an id the mapping rules already checked (a DealRecord's)."""
        self._batch.append((crm_id,))
        if len(self._batch) < self._batch_size:
            return
        if self._writer is None:
            self._copy(self._take())
        elif len(self._batch) >= self._batch_size * self._MAX_WAITING_BATCHES:
            batch = self._take()
            self._writer.submit(lambda: self._copy(batch))
        else:
            # Only when the writer is free: the ids' order does not matter,
            # and a deal batch waiting behind them would hold the read up.
            batch = self._batch
            if self._writer.try_submit(lambda: self._copy(batch)):
                self._batch = []

    def add_unchecked(self, raw_id: Any) -> None:
        """Keep a rejected row's id, if it is a GUID at all (no deal has any other)."""
        try:
            crm_id = parse_lookup_id(raw_id)
        except CrmValueError:
            return
        if crm_id is not None:
            self.add(crm_id)

    def flush(self) -> None:
        """Write every id kept and wait until they are in."""
        batch = self._take()
        if self._writer is None:
            self._copy(batch)
        else:
            self._writer.submit(lambda: self._copy(batch))
            self._writer.drain()

    def _take(self) -> list[tuple[str]]:
        batch, self._batch = self._batch, []
        return batch

    def _copy(self, batch: list[tuple[str]]) -> None:
        if not batch:
            return
        with self._conn.cursor().copy(_COPY_IDS) as copy:
            for row in batch:
                copy.write_row(row)


def reconcile_deletions(
    hook: Any,
    conn: psycopg.Connection,
    entity: CrmEntity,
    synced_at: datetime,
    read_ids: ReadIds | None = None,
) -> int:
    """Mark deals missing from the CRM deleted, clear the mark on those back; return newly deleted.

    With `read_ids` (a full read's ids), those are compared; without, the
    entity's ids are scanned now.
    """
    with conn.cursor() as cur:
        if read_ids is not None:
            read_ids.flush()
        else:
            cur.execute(_CREATE_ID_TABLE)
            with cur.copy(_COPY_IDS) as copy:
                for crm_id in hook.iter_ids(entity.entity_set, page_size=ID_PAGE_SIZE):
                    copy.write_row((crm_id,))
        cur.execute("create index on crm_ids (crm_id)")
        cur.execute("analyze crm_ids")
        seen = cur.execute("select count(distinct crm_id) from crm_ids").fetchone()[0]
        stored = cur.execute(
            "select count(*) from roistat.deal where entity = %s and deleted_at is null",
            (entity.name,),
        ).fetchone()[0]
        if seen == 0 and stored > 0:
            # An empty answer is far likelier a permission or configuration change
            # than every deal deleted at once: refuse to wipe the report.
            log.warning(
                "%s reconciliation: the CRM returned no ids at all while the warehouse holds %d; "
                "nothing is marked deleted. Check the integration user's access to %s.",
                entity.name,
                stored,
                entity.entity_set,
            )
            return 0

        _confirm_missing(hook, cur, entity)
        back = cur.execute(
            """
            update roistat.deal as d
            set deleted_at = null
            where d.entity = %s
                and d.deleted_at is not null
                and exists (select 1 from crm_ids as c where c.crm_id = d.crm_id)
            """,
            (entity.name,),
        ).rowcount
        deleted = cur.execute(
            """
            update roistat.deal as d
            set deleted_at = %s
            where d.entity = %s
                and d.deleted_at is null
                and not exists (select 1 from crm_ids as c where c.crm_id = d.crm_id)
            """,
            (synced_at, entity.name),
        ).rowcount
    log.info(
        "%s reconciliation: %d ids in the CRM; %d deals newly marked deleted, %d back",
        entity.name,
        seen,
        deleted,
        back,
    )
    if stored and deleted > stored // 10:
        log.warning(
            "%s reconciliation marked %d of %d deals deleted (over 10%%); if that is not a mass "
            "deletion in the CRM, check the integration user's access rights",
            entity.name,
            deleted,
            stored,
        )
    return deleted
