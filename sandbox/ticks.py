"""Datetimes as 100 ns ticks since the Unix epoch, and Creatio's text form of them.

Creatio writes `2024-06-17T15:28:32.7013964Z`: seven fractional digits, `Z`
(reference §3.7). Ticks keep that seventh digit, which Python's datetime drops.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

TICKS_PER_SECOND = 10_000_000
TICKS_PER_MINUTE = 60 * TICKS_PER_SECOND
TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_ISO = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
    r"(Z|[+-]\d\d:\d\d)?$",
    re.IGNORECASE,
)


def format_ticks(ticks: int) -> str:
    """Write ticks as Creatio does: `YYYY-MM-DDTHH:MM:SS.fffffffZ`."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    t = time.gmtime(seconds)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{fraction:07d}Z"
    )


def parse_iso_ticks(text: str) -> int:
    """Parse an ISO-8601 datetime into ticks, keeping up to 7 fractional digits.

    A value without an offset is taken as UTC. Raises ValueError on bad input.
    """
    match = _ISO.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO datetime: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    moment = datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
    )
    ticks = to_ticks(moment)
    if fraction:
        ticks += int((fraction + "0000000")[:7])
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = int(zone[1:3]) * 60 + int(zone[4:6])
        ticks -= sign * offset * TICKS_PER_MINUTE
    return ticks


def to_ticks(moment: datetime) -> int:
    """Convert an aware datetime to ticks (exact to the microsecond)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * TICKS_PER_SECOND + delta.microseconds * 10


def from_ticks(ticks: int) -> datetime:
    """Convert ticks to an aware UTC datetime, truncated to the microsecond."""
    return EPOCH + timedelta(microseconds=ticks // 10)


def now_ticks() -> int:
    return time.time_ns() // 100
