"""Decide which `ModifiedOn` window a sync run reads.

DESIGN.md §3, in the order the rules apply:

1. `full_refresh`: everything (and a deletion reconciliation);
2. `start` / `end` params: that window, widened backwards by the lookback;
3. a data interval (scheduled runs, backfills, manual runs with a logical date):
   the interval, widened backwards by the lookback. A *scheduled* run whose
   watermark is older than its interval (the scheduler was down, or catchup is
   off) starts from the watermark instead, so a gap is never skipped; backfills
   and manual runs read exactly their interval;
4. no interval and no params (a manual run with a null logical date): everything
   changed since the last successful load's watermark; with no watermark yet,
   everything.

The lookback re-reads rows committed late (Roistat itself tells customers to
resend the last 24 hours every hour). Windows are [start, end): `end` is
exclusive, and `None` means unbounded on that side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from roistat.errors import SettingsError
from roistat.utc_time import plain_utc


@dataclass(frozen=True)
class SyncWindow:
    start: datetime | None
    end: datetime | None
    mode: str  # full_refresh | params | interval | watermark | initial
    reconcile: bool

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "now"
        return f"[{start}, {end}) ({self.mode})"


def plan_window(
    *,
    params: Mapping[str, Any] | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_type: str | None,
    watermark: datetime | None,
    lookback_hours: int,
) -> SyncWindow:
    """Return the window a run reads; see the module docstring for the rules."""
    params = params or {}
    lookback = timedelta(hours=lookback_hours)
    data_interval_start = _plain_utc(data_interval_start)
    data_interval_end = _plain_utc(data_interval_end)
    watermark = _plain_utc(watermark)
    reconcile = bool(params.get("reconcile"))

    if params.get("full_refresh"):
        return SyncWindow(None, None, "full_refresh", True)

    start_param = _parse_param(params, "start")
    end_param = _parse_param(params, "end")
    if start_param or end_param:
        if start_param and end_param and start_param >= end_param:
            raise SettingsError(
                f"params: start {start_param.isoformat()} is not before end {end_param.isoformat()}"
            )
        start = start_param - lookback if start_param else None
        return SyncWindow(start, end_param, "params", reconcile)

    if data_interval_start is not None and data_interval_end is not None:
        start = data_interval_start
        if run_type == "scheduled" and watermark is not None and watermark < start:
            start = watermark
        # The first scheduled run of each UTC day also looks for deleted deals.
        if run_type == "scheduled" and _starts_a_utc_day(data_interval_start, data_interval_end):
            reconcile = True
        return SyncWindow(start - lookback, data_interval_end, "interval", reconcile)

    if watermark is not None:
        return SyncWindow(watermark - lookback, None, "watermark", reconcile)
    return SyncWindow(None, None, "initial", reconcile)


def _plain_utc(value: datetime | None) -> datetime | None:
    return None if value is None else plain_utc(value)


def _starts_a_utc_day(start: datetime, end: datetime) -> bool:
    midnight = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight < start:
        midnight += timedelta(days=1)
    return start <= midnight < end


def _parse_param(params: Mapping[str, Any], key: str) -> datetime | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise SettingsError(
                f"params.{key}: {text!r} is not an ISO datetime (e.g. 2025-01-31T00:00:00Z)"
            ) from None
    if parsed.tzinfo is None:
        # A bare date or datetime from the trigger form is read as UTC, like
        # every time in this package.
        parsed = parsed.replace(tzinfo=timezone.utc)
    return _plain_utc(parsed)
