"""Load mapped deals into the warehouse: COPY into a stage, then one merge per batch.

The caller owns the transaction: a sync opens one per entity per run, and the
loader only ever writes inside it, so a task that dies leaves nothing
half-written and its retry does the whole window again. Batches bound the
memory a run needs: `batch_size` rows are held, copied and merged at a time.

Each batch takes three statements: a binary COPY into `deal_stage`,
classify_deals.sql (one row per deal, its content hash, and whether the
warehouse has it and this version replaces it) and merge_deals.sql (status
history, quarantine, then a plain insert of the new deals and an upsert of
the known ones).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg

from roistat.package_paths import sql_path
from roistat.warehouse_writer import WarehouseWriter

DEFAULT_BATCH_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class DealRecord:
    """One deal as the warehouse stores it, after the rules ran."""

    entity: str
    crm_id: str
    title: str | None
    created_on: datetime | None
    modified_on: datetime
    status_id: str | None
    status_group: str
    roistat_raw: str | None
    roistat_kind: str
    visit_id: int | None
    marker: str | None
    revenue: Decimal | None
    first_cost: Decimal | None
    profit: Decimal | None
    filter_value: str | None
    passes_filter: bool


STAGE_COLUMNS = tuple(f.name for f in fields(DealRecord))
# The PostgreSQL types the COPY sends, column by column (create_deal_stage.sql).
# Binary COPY takes less than half the time of text COPY (formatting here,
# parsing in the server), but each value must be of its field's declared Python
# type (str, datetime with a time zone, Decimal, int, bool): the format is
# chosen by column, not by value.
STAGE_TYPES = (
    "text",  # entity
    "text",  # crm_id: a GUID string, cast to uuid in classify_deals.sql
    "text",  # title
    "timestamptz",  # created_on
    "timestamptz",  # modified_on
    "text",  # status_id: as crm_id
    "text",  # status_group
    "text",  # roistat_raw
    "text",  # roistat_kind
    "int8",  # visit_id
    "text",  # marker
    "numeric",  # revenue
    "numeric",  # first_cost
    "numeric",  # profit
    "text",  # filter_value
    "bool",  # passes_filter
)
_stage_row = operator.attrgetter(*STAGE_COLUMNS)
_COPY_STAGE = f"copy deal_stage ({', '.join(STAGE_COLUMNS)}) from stdin (format binary)"


@dataclass
class LoadCounts:
    staged: int = 0
    loaded_new: int = 0
    loaded_changed: int = 0
    excluded: int = 0
    rejected: int = 0

    @property
    def loaded_unchanged(self) -> int:
        return self.staged - self.loaded_new - self.loaded_changed


def _sql(name: str) -> str:
    return sql_path("load", name).read_text(encoding="utf-8")


def _storable(value: Any) -> Any:
    """Make a raw payload storable as jsonb, which refuses NUL and lone surrogates.

    The quarantine must keep what the CRM sent even when that is what broke a
    rule, so those characters are written as visible escapes instead.
    """
    if isinstance(value, str):
        value = value.replace("\x00", "\\u0000")
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, Mapping):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


class DealLoader:
    """Stage and merge deals of one entity inside the caller's transaction.

    The caller holds the entity's advisory lock for that whole transaction
    (entity_sync._take_entity_lock): the merge inserts deals and history rows
    it found absent with a plain INSERT, which only that lock keeps safe.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        *,
        sync_run_id: int,
        synced_at: datetime,
        batch_size: int = DEFAULT_BATCH_SIZE,
        writer: WarehouseWriter | None = None,
    ) -> None:
        """With a `writer`, full batches are written on its thread while the caller goes on."""
        self._conn = conn
        self._params = {"sync_run_id": sync_run_id, "synced_at": synced_at}
        self._batch_size = batch_size
        self._writer = writer
        self._batch: list[tuple[Any, ...]] = []
        self._rejections: list[dict[str, Any]] = []
        self._classify_sql = _sql("classify_deals.sql")
        self._merge_sql = _sql("merge_deals.sql")
        self.counts = LoadCounts()
        conn.execute(_sql("create_deal_stage.sql"))

    def add(self, record: DealRecord) -> None:
        """Queue a deal; the batch is copied and merged when full."""
        self._batch.append(_stage_row(record))
        if len(self._batch) >= self._batch_size:
            self._hand_off()

    def reject(
        self,
        *,
        entity: str,
        crm_id: str,
        modified_on: str | None,
        reason: str,
        raw_payload: Mapping[str, Any],
    ) -> None:
        """Quarantine a row that broke a rule, with the reason and what the CRM sent.

        Written with the batch being filled, before its deals: the order in
        which an inline write would have reached the warehouse.
        """
        self.counts.rejected += 1
        self._rejections.append(
            {
                "entity": entity,
                "crm_id": crm_id,
                "modified_on": modified_on,
                "reason": reason,
                "payload": json.dumps(_storable(raw_payload), default=str, ensure_ascii=False),
                **self._params,
            }
        )
        if len(self._rejections) >= self._batch_size:
            self._hand_off()

    def flush(self) -> None:
        """Write everything queued and wait until it is in (with a writer, all it runs)."""
        self._hand_off()
        if self._writer is not None:
            self._writer.drain()

    def _hand_off(self) -> None:
        if not (self._batch or self._rejections):
            return
        batch, rejections = self._batch, self._rejections
        self._batch, self._rejections = [], []
        if self._writer is None:
            self._write(batch, rejections)
        else:
            self._writer.submit(lambda: self._write(batch, rejections))

    def _write(self, batch: list[tuple[Any, ...]], rejections: list[dict[str, Any]]) -> None:
        with self._conn.cursor() as cur:
            if rejections:
                cur.executemany(_QUARANTINE, rejections)
            if not batch:
                return
            with cur.copy(_COPY_STAGE) as copy:
                copy.set_types(STAGE_TYPES)
                for row in batch:
                    copy.write_row(row)
            cur.execute(self._classify_sql)
            cur.execute(self._merge_sql, self._params)
            staged, new, changed, excluded = cur.fetchone()
            cur.execute("truncate deal_stage, deal_batch")
        self.counts.staged += staged
        self.counts.loaded_new += new
        self.counts.loaded_changed += changed
        self.counts.excluded += excluded


_QUARANTINE = """
    insert into roistat.rejected_record as r
        (entity, crm_id, modified_on, reason, raw_payload, sync_run_id,
         first_rejected_at, last_rejected_at)
    values (%(entity)s, %(crm_id)s, %(modified_on)s, %(reason)s, %(payload)s,
            %(sync_run_id)s, %(synced_at)s, %(synced_at)s)
    on conflict (entity, crm_id) do update set
        modified_on = excluded.modified_on,
        reason = excluded.reason,
        raw_payload = excluded.raw_payload,
        sync_run_id = excluded.sync_run_id,
        last_rejected_at = excluded.last_rejected_at,
        resolved_at = null
"""
