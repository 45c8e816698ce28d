"""The SQLite side: per-thread connections, reads, and the admin's writes.

Reads run on the server's worker threads, each with its own connection (SQLite
connections are not shared across threads). Writes take one lock and stamp
`ModifiedOn` from the sandbox clock: max(real now, latest ModifiedOn + 1 tick),
so a changed row always sorts after everything already served.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sandbox.catalog import ORDER_STATUSES, QUALIFY_STATUSES, SUPERVISOR_ID
from sandbox.deals import DealFactory, DrawRandom, VisitBook, new_guid
from sandbox.generate import read_meta
from sandbox.schema import DEAL_ENTITIES, STATUS_LOOKUPS, Column, Entity
from sandbox.ticks import TICKS_PER_DAY, now_ticks, parse_iso_ticks, to_ticks

# Friendly names the admin API accepts for deal columns.
ALIASES = {
    "Lead": {
        "status": "QualifyStatusId",
        "amount": "Budget",
        "title": "LeadName",
        "brand": "UsrBrand",
        "source": "LeadSourceId",
    },
    "Order": {
        "status": "StatusId",
        "amount": "Amount",
        "title": "Number",
        "brand": "UsrBrand",
        "first_cost": "UsrFirstCost",
        "profit": "UsrProfit",
        "payment": "PaymentAmount",
    },
}


class StoreError(ValueError):
    """An admin request names something the store does not have."""


def _ci_compare(a: str, b: str) -> int:
    a, b = a.casefold(), b.casefold()
    return (a > b) - (a < b)


def _ci(function: Any) -> Any:
    def wrapped(text: str | None, part: str | None) -> int | None:
        if text is None or part is None:
            return None
        return int(function(text.casefold(), part.casefold()))

    return wrapped


def _date_part(ticks: int | None, offset: int, part: str) -> int | None:
    if ticks is None:
        return None
    moment = time.gmtime((ticks + offset) // 10_000_000)
    return {
        "year": moment.tm_year,
        "month": moment.tm_mon,
        "day": moment.tm_mday,
        "hour": moment.tm_hour,
        "minute": moment.tm_min,
        "second": moment.tm_sec,
    }[part]


def open_connection(path: Path) -> sqlite3.Connection:
    """Open the database with the collation and functions filters need."""
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.create_collation("CI", _ci_compare)
    conn.create_function("ci_contains", 2, _ci(lambda t, p: p in t), deterministic=True)
    conn.create_function("ci_startswith", 2, _ci(str.startswith), deterministic=True)
    conn.create_function("ci_endswith", 2, _ci(str.endswith), deterministic=True)
    conn.create_function("py_lower", 1, lambda t: t if t is None else t.lower())
    conn.create_function("py_upper", 1, lambda t: t if t is None else t.upper())
    conn.create_function("date_part", 3, _date_part, deterministic=True)
    return conn


class Store:
    """Reads and writes the working copy of the sandbox database."""

    def __init__(self, path: Path, schema: dict[str, Entity], roistat_column: str, seed: int):
        self.path = path
        self.schema = schema
        self.roistat_column = roistat_column
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._rng = DrawRandom(f"{seed}:admin")
        conn = self.connection()
        self.meta = read_meta(conn)
        self._last_tick = max(
            conn.execute(f'SELECT COALESCE(MAX("ModifiedOn"), 0) FROM {e.table}').fetchone()[0]  # noqa: S608
            for e in schema.values()
        )
        origin = parse_iso_ticks(self.meta["start"]) - 30 * TICKS_PER_DAY
        self._factory = DealFactory(self._rng, roistat_column, VisitBook(origin=origin))

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path)
            self._local.conn = conn
        return conn

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self.connection().execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self.connection().execute(sql, params).fetchone()[0]

    def clock(self) -> int:
        """The sandbox's now: never behind the newest ModifiedOn."""
        return max(now_ticks(), self._last_tick + 1)

    def count(self, entity: str) -> int:
        return self.scalar(f"SELECT COUNT(*) FROM {self.schema[entity].table}")  # noqa: S608

    # --- admin writes --------------------------------------------------------

    def touch(
        self,
        entity: str,
        ids: Sequence[str] | None = None,
        count: int | None = None,
        changes: dict[str, Any] | None = None,
        modified_on: str | int | None = None,
    ) -> list[str]:
        """Change rows (or just their ModifiedOn) and return their ids."""
        table = self._entity(entity)
        values = self._normalize(table, changes or {})
        with self._write_lock:
            if ids is None:
                ids = self._pick(table, count or 1)
            ids = [str(i).lower() for i in ids]
            stamp = self._stamp(modified_on)
            assignments = ", ".join(f"{table.by_name[name].sql} = ?" for name in values)
            sets = f'"ModifiedOn" = ?, "ModifiedById" = ?{", " if values else ""}{assignments}'
            statement = f'UPDATE {table.table} SET {sets} WHERE "Id" = ?'  # noqa: S608
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = []
                for row_id in ids:
                    cursor = conn.execute(
                        statement, (stamp, SUPERVISOR_ID, *values.values(), row_id)
                    )
                    if cursor.rowcount:
                        found.append(row_id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            missing = sorted(set(ids) - set(found))
            if missing:
                raise StoreError(f"no {entity} row with id {', '.join(missing[:5])}")
            self._advance(stamp)
        return ids

    def touch_after(self, entity: str, after: tuple[int, str]) -> str | None:
        """Move the first row after the keyset `after` to the end; return its id."""
        table = self._entity(entity)
        row = (
            self.connection()
            .execute(
                f'SELECT "Id" FROM {table.table} WHERE ("ModifiedOn", "Id") > (?, ?) '  # noqa: S608
                'ORDER BY "ModifiedOn", "Id" LIMIT 1',
                after,
            )
            .fetchone()
        )
        if row is None:
            return None
        self.touch(entity, [row[0]])
        return row[0]

    def insert(
        self,
        entity: str,
        n: int = 1,
        values: dict[str, Any] | None = None,
        modified_on: str | int | None = None,
        generated: bool = True,
    ) -> list[str]:
        """Insert `n` rows and return their ids.

        Deals are generated like the seeded data unless `generated` is false; then,
        as an OData POST does, unset columns take Creatio's defaults (blank text,
        empty lookups, the default stage or status).
        """
        table = self._entity(entity)
        overrides = self._normalize(table, values or {})
        names = [c.name for c in table.columns]
        statement = f"INSERT INTO {table.table} VALUES ({', '.join('?' for _ in names)})"  # noqa: S608
        with self._write_lock:
            stamp = self._stamp(modified_on)
            if generated:
                rows = [self._new_row(table, stamp) for _ in range(n)]
            else:
                rows = [self._blank_row(table, stamp) for _ in range(n)]
            if table.name == "Order":
                first = self._next_order_number()
                for offset, row in enumerate(rows):
                    row["Number"] = f"ORD-{first + offset}"
            rows = [row | overrides for row in rows]
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(statement, [tuple(r.get(k) for k in names) for r in rows])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self._advance(stamp)
        return [row["Id"] for row in rows]

    def delete(self, entity: str, ids: Iterable[str]) -> int:
        table = self._entity(entity)
        with self._write_lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            deleted = 0
            for row_id in ids:
                deleted += conn.execute(
                    f'DELETE FROM {table.table} WHERE "Id" = ?',  # noqa: S608
                    (str(row_id).lower(),),
                ).rowcount
            conn.execute("COMMIT")
        return deleted

    def status_lookup(self, entity: str) -> str:
        """Map a deal entity (or a status lookup name) to its status lookup."""
        if entity in STATUS_LOOKUPS:
            return STATUS_LOOKUPS[entity][0]
        if entity in ("QualifyStatus", "OrderStatus"):
            return entity
        raise StoreError(f"{entity!r} has no statuses; use Lead, Order or a status lookup")

    def rename_status(self, entity: str, status_id: str, name: str) -> None:
        lookup = self.status_lookup(entity)
        self.touch(lookup, [status_id], changes={"Name": name})

    def add_status(self, entity: str, name: str) -> str:
        lookup = self.status_lookup(entity)
        return self.insert(lookup, 1, {"Name": name})[0]

    def rows(self, entity: str) -> list[dict[str, Any]]:
        table = self._entity(entity)
        cursor = self.connection().execute(f"SELECT * FROM {table.table} ORDER BY rowid")  # noqa: S608
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    # --- helpers ---------------------------------------------------------------

    def _entity(self, name: str) -> Entity:
        try:
            return self.schema[name]
        except KeyError:
            raise StoreError(f"unknown entity {name!r}") from None

    def _pick(self, table: Entity, count: int) -> list[str]:
        total = self.scalar(f"SELECT COUNT(*) FROM {table.table}")  # noqa: S608
        offsets = self._rng.sample(range(total), min(count, total))
        return [
            self.scalar(f'SELECT "Id" FROM {table.table} ORDER BY rowid LIMIT 1 OFFSET ?', (o,))  # noqa: S608
            for o in offsets
        ]

    def _next_order_number(self) -> int:
        highest = self.scalar(
            'SELECT MAX(CAST(substr("Number", 5) AS INTEGER)) FROM "Order" '
            "WHERE \"Number\" LIKE 'ORD-%'"
        )
        return (highest or 0) + 1

    def _stamp(self, modified_on: str | int | None) -> int:
        if modified_on is None:
            return self.clock()
        if isinstance(modified_on, int):
            return modified_on
        return parse_iso_ticks(modified_on)

    def _advance(self, stamp: int) -> None:
        self._last_tick = max(self._last_tick, stamp)

    def _new_row(self, table: Entity, stamp: int) -> dict[str, Any]:
        if table.name == "Lead":
            return self._factory.lead(stamp, stamp)
        if table.name == "Order":
            return self._factory.order(stamp, stamp)
        return self._blank_row(table, stamp)

    def _blank_row(self, table: Entity, stamp: int) -> dict[str, Any]:
        row: dict[str, Any] = {
            "Id": new_guid(self._rng),
            "CreatedOn": stamp,
            "CreatedById": SUPERVISOR_ID,
            "ModifiedOn": stamp,
            "ModifiedById": SUPERVISOR_ID,
            "ProcessListeners": 0,
        }
        for column in table.columns:
            if column.name not in row:
                row[column.name] = {"string": "", "int": 0, "bool": 0}.get(column.kind)
        # Sys settings DefaultLeadStage and OrderStatusDef (reference §5.1, §5.2).
        if table.name == "Lead":
            row["QualifyStatusId"] = QUALIFY_STATUSES[0].id
        if table.name == "Order":
            row["StatusId"] = ORDER_STATUSES[0].id
            row["Date"] = stamp
        return row

    def _normalize(self, table: Entity, changes: dict[str, Any]) -> dict[str, Any]:
        aliases = ALIASES.get(table.name, {}) | (
            {"roistat": self.roistat_column} if table.name in DEAL_ENTITIES else {}
        )
        values: dict[str, Any] = {}
        for key, value in changes.items():
            name = aliases.get(key, key)
            column = table.by_name.get(name)
            if column is None or name in ("Id", "ModifiedOn"):
                raise StoreError(f"{table.name} has no writable column {key!r}")
            values[name] = _convert(column, value)
        return values


def _convert(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.kind == "money":
        try:
            return str(Decimal(str(value)).quantize(Decimal("0.01")))
        except InvalidOperation:
            raise StoreError(f"{column.name}: {value!r} is not a decimal") from None
    if column.kind == "datetime":
        if isinstance(value, datetime):
            return to_ticks(value)
        return parse_iso_ticks(str(value))
    if column.kind in ("guid", "lookup"):
        return str(value).lower()
    if column.kind in ("int", "bool"):
        return int(value)
    return str(value)
