"""Write the "Sent leads" list as CSV, a chunk at a time.

The rows come from a server-side cursor (sent_leads_query.iter_export) and
leave as encoded chunks of a few hundred rows, so the download of a million
deals holds one chunk in memory, not the list.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

ROWS_PER_CHUNK = 500


def csv_chunks(
    columns: Iterable[str], rows: Iterable[tuple[Any, ...]], *, rows_per_chunk: int = ROWS_PER_CHUNK
) -> Iterator[bytes]:
    """Yield the header line, then the rows, as UTF-8 CSV (RFC 4180, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(columns))

    pending = 0
    for row in rows:
        writer.writerow([_cell(value) for value in row])
        pending += 1
        if pending >= rows_per_chunk:
            yield _drain(buffer)
            pending = 0
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> bytes:
    chunk = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return chunk


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return str(value)  # Decimal keeps its exact digits; UUIDs in their usual form
