"""Load website visits (visit number, date, channel marker, UTM tags) into `roistat.visit`.

Visits come from the tracker's export as CSV (with a header) or JSON lines,
with the columns `visit_id, visit_date, marker, utm_source, utm_medium,
utm_campaign, landing_page` (extra columns are ignored; all but `visit_id` may
be empty). The load is an upsert keyed by `visit_id`, in one transaction: a
file with a bad line loads nothing, and the error names the line.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg

from roistat.errors import RoistatError

log = logging.getLogger(__name__)

VISIT_COLUMNS = (
    "visit_id",
    "visit_date",
    "marker",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "landing_page",
)
_TEXT_COLUMNS = VISIT_COLUMNS[2:]
_BIGINT_MAX = 2**63 - 1


class VisitFileError(RoistatError, ValueError):
    """A visits file line that cannot be read; the message names the file and line."""


def read_visits(path: str | Path) -> Iterator[tuple[Any, ...]]:
    """Yield visit rows from a CSV or JSON-lines file, validated."""
    path = Path(path)
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        records = _json_lines(path)
    else:
        records = _csv_rows(path)
    for line_no, record in records:
        yield _visit_row(record, path, line_no)


def _csv_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "visit_id" not in reader.fieldnames:
            raise VisitFileError(
                f"{path}: the header must name a visit_id column, found {reader.fieldnames}"
            )
        for record in reader:
            yield reader.line_num, record


def _json_lines(path: Path) -> Iterator[tuple[int, Mapping[str, Any]]]:
    with path.open(encoding="utf-8-sig") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise VisitFileError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise VisitFileError(
                    f"{path}:{line_no}: expected an object, got {type(record).__name__}"
                )
            yield line_no, record


def _visit_row(record: Mapping[str, Any], path: Path, line_no: int) -> tuple[Any, ...]:
    raw_id = str(record.get("visit_id") or "").strip()
    if not raw_id.isdigit() or not 0 < int(raw_id) <= _BIGINT_MAX:
        raise VisitFileError(
            f"{path}:{line_no}: visit_id {raw_id!r} is not a positive visit number"
        )
    raw_date = str(record.get("visit_date") or "").strip()
    visit_date = None
    if raw_date:
        try:
            visit_date = datetime.fromisoformat(raw_date.replace("Z", "+00:00"))
        except ValueError:
            raise VisitFileError(
                f"{path}:{line_no}: visit_date {raw_date!r} is not an ISO datetime"
            ) from None
        if visit_date.tzinfo is None:
            visit_date = visit_date.replace(tzinfo=timezone.utc)
    texts = []
    for column in _TEXT_COLUMNS:
        value = record.get(column)
        value = None if value is None else str(value).strip()
        if value and "\x00" in value:
            raise VisitFileError(f"{path}:{line_no}: {column} holds a NUL character")
        texts.append(value or None)
    return (int(raw_id), visit_date, *texts)


def load_visits(conn: psycopg.Connection, path: str | Path) -> dict[str, int]:
    """Upsert every visit of the file in one transaction; return counts."""
    with conn.transaction():
        conn.execute(
            "create temporary table visit_stage (like roistat.visit including defaults) on commit drop"
        )
        with conn.cursor() as cur:
            with cur.copy(f"copy visit_stage ({', '.join(VISIT_COLUMNS)}) from stdin") as copy:
                read = 0
                for row in read_visits(path):
                    copy.write_row(row)
                    read += 1
            cur.execute(
                """
                insert into roistat.visit as v (visit_id, visit_date, marker, utm_source,
                                                utm_medium, utm_campaign, landing_page)
                select distinct on (visit_id)
                    visit_id, visit_date, marker, utm_source, utm_medium, utm_campaign, landing_page
                from visit_stage
                order by visit_id
                on conflict (visit_id) do update set
                    visit_date = excluded.visit_date,
                    marker = excluded.marker,
                    utm_source = excluded.utm_source,
                    utm_medium = excluded.utm_medium,
                    utm_campaign = excluded.utm_campaign,
                    landing_page = excluded.landing_page,
                    loaded_at = now()
                where (v.visit_date, v.marker, v.utm_source, v.utm_medium, v.utm_campaign, v.landing_page)
                    is distinct from
                    (excluded.visit_date, excluded.marker, excluded.utm_source,
                     excluded.utm_medium, excluded.utm_campaign, excluded.landing_page)
                """
            )
            written = cur.rowcount
    log.info("Visits from %s: %d read, %d new or changed", path, read, written)
    return {"read": read, "written": written}
