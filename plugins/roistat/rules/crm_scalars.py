"""Read the CRM's scalar values: date-times, lookup ids and display text.

Each function takes the raw JSON value of one column and returns what the
warehouse stores, or raises a `CrmValueError` subclass whose reason says what
is wrong. Nothing here guesses: a value that could mean two things is refused.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from roistat.rules.rule_errors import DateValueError, LookupIdError, TextValueError

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"

# Creatio writes `2024-06-17T15:28:32.7013964Z` (creatio-api.md §3.7). We accept
# that shape with any offset, with or without a fraction, and nothing looser:
# `datetime.fromisoformat` would also take dates without a time or a zone.
_DATETIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"[Tt ](?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)
_DATETIME_EXAMPLE = "2024-06-17T15:28:32.7013964Z"

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_SURROGATE = re.compile("[\ud800-\udfff]")


class CleanedText(NamedTuple):
    """Text ready for a PostgreSQL `text` column, and what was changed to get it."""

    text: str | None
    notes: tuple[str, ...]


def parse_crm_datetime(value: object) -> datetime:
    """Return a CRM date-time as an aware UTC `datetime`.

    Accepts ISO 8601 with a `Z` or a `±hh:mm` offset and up to nine fraction
    digits. Digits past the sixth are truncated, never rounded: a watermark
    that is at most one microsecond early re-reads a row instead of missing it.
    Refuses values without a zone (their meaning depends on the session's
    time zone), `0001-01-01T00:00:00` (.NET's empty date), and anything else.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise DateValueError(value, "date-time has no time zone")
        # The hook hands over parsed datetimes, so the empty-date check must run
        # here too, not only on text.
        if (value.year, value.month, value.day) == (1, 1, 1):
            raise DateValueError(value, "0001-01-01 is .NET's DateTime.MinValue, an empty date")
        return _to_utc(value, value)
    if not isinstance(value, str):
        raise DateValueError(value, f"expected an ISO 8601 string, got {type(value).__name__}")
    if not value.strip():
        raise DateValueError(value, "date-time is empty")

    match = _DATETIME.fullmatch(value)
    if match is None:
        raise DateValueError(value, f"not an ISO 8601 date-time like {_DATETIME_EXAMPLE}")
    if match["zone"] is None:
        raise DateValueError(value, "date-time has no time zone offset, so its moment is unknown")

    parts = match.groupdict()
    if (parts["year"], parts["month"], parts["day"]) == ("0001", "01", "01"):
        raise DateValueError(value, "0001-01-01 is .NET's DateTime.MinValue, an empty date")

    fraction = (parts["fraction"] or "").ljust(6, "0")[:6]
    try:
        parsed = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"]),
            int(fraction),
            tzinfo=_parse_zone(value, parts["zone"]),
        )
    except ValueError as exc:
        raise DateValueError(value, f"invalid date-time: {exc}") from None
    return _to_utc(value, parsed)


def parse_lookup_id(value: object) -> str | None:
    """Return a lookup's GUID in lowercase canonical form, or None when it is empty.

    Creatio may send an empty lookup as null or as the all-zero GUID
    (creatio-api.md §3.5); both, and the empty string, mean "no value".
    Anything that is not a hyphenated 36-character GUID is refused.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LookupIdError(value, f"expected a GUID string, got {type(value).__name__}")
    if _GUID.fullmatch(value) is None:
        raise LookupIdError(value, "not a GUID like 1f3ad326-effd-4ac3-a3e2-957e7def3684")

    canonical = value.lower()
    return None if canonical == EMPTY_GUID else canonical


def clean_text(value: object, max_len: int | None = None) -> CleanedText:
    """Return display text (a title) as it can be stored, with notes on any change.

    None stays None. NUL characters are removed, because PostgreSQL `text`
    cannot hold them and they carry no meaning; the notes say how many. Text
    longer than `max_len` is cut to it and noted. Unpaired surrogates cannot
    be encoded as UTF-8 at all, so such text is refused. Everything else,
    control characters, right-to-left marks, emoji and combining marks
    included, is kept exactly.
    """
    if value is None:
        return CleanedText(None, ())
    if not isinstance(value, str):
        raise TextValueError(value, f"expected text, got {type(value).__name__}")
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be positive, got {max_len}")

    surrogate = _SURROGATE.search(value)
    if surrogate is not None:
        raise TextValueError(
            value,
            f"unpaired surrogate U+{ord(surrogate.group()):04X} at position "
            f"{surrogate.start()} cannot be encoded as UTF-8",
        )

    notes: list[str] = []
    nul_count = value.count("\x00")
    if nul_count:
        value = value.replace("\x00", "")
        notes.append(f"removed {nul_count} NUL character(s)")
    if max_len is not None and len(value) > max_len:
        notes.append(f"cut from {len(value)} to {max_len} characters")
        value = value[:max_len]
    return CleanedText(value, tuple(notes))


def _parse_zone(raw: str, zone: str) -> timezone:
    """Return the tzinfo for a `Z` or `±hh:mm` suffix."""
    if zone in ("Z", "z"):
        return timezone.utc

    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise DateValueError(raw, f"time zone offset {zone} is out of range")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)


def _to_utc(raw: object, value: datetime) -> datetime:
    """Convert an aware datetime to UTC, refusing one that falls outside year 1..9999."""
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise DateValueError(raw, "date-time is out of range once converted to UTC") from None
