"""A small Python client for the admin endpoint, for tests and demos."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from sandbox.schema import build_schema
from sandbox.ticks import from_ticks

ADMIN_HEADER = "X-Sandbox-Admin"


class AdminError(RuntimeError):
    """The admin endpoint refused a call."""


class AdminClient:
    """Drive a running sandbox: faults, quirks, data changes, counters."""

    def __init__(
        self,
        url: str,
        token: str,
        db_path: Path | None = None,
        roistat_column: str = "UsrRoistat",
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/") + "/_sandbox"
        self.db_path = db_path
        self.roistat_column = roistat_column
        self.timeout = timeout
        self._http = requests.Session()
        self._http.headers[ADMIN_HEADER] = token

    # --- faults and quirks ---------------------------------------------------

    def set_fault(self, kind: str, **spec: Any) -> dict[str, Any]:
        """Add a fault (see sandbox.faults for the keys); return it with its id."""
        return self._call("POST", "/faults", {"kind": kind, **spec})

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def set_quirks(self, **changes: Any) -> dict[str, Any]:
        return self._call("PATCH", "/quirks", changes)

    def quirks(self) -> dict[str, Any]:
        return self._call("GET", "/quirks")

    def reset(self) -> None:
        """Clear faults and counters, and restore the start-up quirks."""
        self._call("POST", "/reset")

    def expire_sessions(self) -> int:
        return self._call("POST", "/expire-sessions")["expired"]

    # --- data ------------------------------------------------------------------

    def touch(
        self,
        entity: str,
        ids: list[str] | None = None,
        count: int | None = None,
        modified_on: str | None = None,
        **changes: Any,
    ) -> list[str]:
        """Change rows and set their ModifiedOn to the sandbox clock (or `modified_on`).

        `changes` use OData names (`QualifyStatusId`, `Budget`) or the aliases
        `status`, `roistat`, `amount`, `first_cost`, `profit`, `brand`, `title`.
        Without `ids`, `count` random rows are picked (one by default).
        """
        body = {
            "entity": entity,
            "ids": ids,
            "count": count,
            "changes": changes,
            "modified_on": modified_on,
        }
        return self._call("POST", "/touch", body)["ids"]

    def insert(
        self, entity: str, n: int = 1, modified_on: str | None = None, **values: Any
    ) -> list[str]:
        body = {"entity": entity, "n": n, "values": values, "modified_on": modified_on}
        return self._call("POST", "/insert", body)["ids"]

    def delete(self, entity: str, ids: list[str]) -> int:
        return self._call("POST", "/delete", {"entity": entity, "ids": ids})["deleted"]

    def rename_status(self, entity: str, status_id: str, new_name: str) -> None:
        body = {"entity": entity, "status_id": status_id, "name": new_name}
        self._call("POST", "/statuses/rename", body)

    def add_status(self, entity: str, name: str) -> str:
        return self._call("POST", "/statuses", {"entity": entity, "name": name})["id"]

    def delete_status(self, entity: str, status_id: str) -> int:
        body = {"entity": entity, "status_id": status_id}
        return self._call("POST", "/statuses/delete", body)["deleted"]

    # --- reading -----------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return self._call("GET", "/info")

    def counters(self) -> dict[str, Any]:
        """`counters` (totals by kind) and `requests` (the last 5,000 requests)."""
        return self._call("GET", "/counters")

    def reset_counters(self) -> None:
        self._call("DELETE", "/counters")

    def rows(self, entity: str, raw: bool = False) -> list[dict[str, Any]]:
        """Rows as the server stores them, read straight from SQLite.

        Datetimes are aware UTC datetimes (truncated to the microsecond), money is
        Decimal, empty lookups are None (or the all-zero GUID where stored so).
        With `raw`, values stay as stored: datetimes as 100 ns ticks since the
        Unix epoch (exact to the seventh digit), money as text.
        Without a database path, falls back to the admin endpoint.
        """
        if self.db_path is None:
            return self._call("GET", f"/rows/{entity}")
        table = build_schema(self.roistat_column)[entity]
        conn = sqlite3.connect(f"{Path(self.db_path).resolve().as_uri()}?mode=ro", uri=True)
        try:
            cursor = conn.execute(f"SELECT * FROM {table.table} ORDER BY rowid")  # noqa: S608
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor]
        finally:
            conn.close()
        if raw:
            return rows
        for row in rows:
            for column in table.columns:
                value = row[column.name]
                if value is None:
                    continue
                if column.kind == "datetime":
                    row[column.name] = from_ticks(value)
                elif column.kind == "money":
                    row[column.name] = Decimal(value)
                elif column.kind == "bool":
                    row[column.name] = bool(value)
        return rows

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, self.url + path, json=body, timeout=self.timeout)
        if response.status_code >= 400:
            raise AdminError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()
