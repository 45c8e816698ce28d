"""Read the "Sent leads" list from the warehouse: filters, keyset pages, totals.

The page lists `roistat.sent_leads` newest first by creation time. It pages by
keyset, never OFFSET: a page is "the next 50 rows after (sort time, entity,
crm_id)", which an index scan answers in the same time on page 1 and page
20,000 (include/sql/deploy/030_sent_leads_indexes.sql). The key ends with the
deal's primary key, so deals created in the same microsecond still have one
order, and no row is shown twice or skipped from one page to the next.

Every filter reaches SQL as a bound parameter; the SQL text itself comes only
from include/sql/sent_leads/.

Known shortcomings, measured on a million deals (bench/sent_leads_page.py):
a page filtered by channel or status group takes about a second, because both
are computed in the view from joined tables and PostgreSQL misjudges how many
rows they keep, so it reads and sorts the whole table; the totals and chart
box counts the whole filtered list on every load (3-8 s). Storing the channel
and group on roistat.deal (kept by the sync and the visit import), or a
summary table kept by each sync, would fix both; neither is built yet.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row

from roistat.package_paths import sql_path
from roistat.settings import STATUS_GROUPS

ENTITIES = ("lead", "order")
PAGE_ROWS = 50
CHART_DAYS = 90
CHANNEL_CHOICES = 100
TEXT_LIMIT = 200
EXPORT_BATCH_ROWS = 2000
# Deals without a creation time sort last: the key the index and the queries
# share is coalesce(created_on, '-infinity').
NO_CREATION_TIME = "-infinity"
_BIGINT_MAX = 2**63 - 1


class FilterError(ValueError):
    """A query-string value the page cannot use; `name` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class SentLeadsFilters:
    """The page's filters, as the query string carries them (empty means no filter)."""

    entity: str | None = None
    status_group: str | None = None
    channel: str | None = None
    created_from: date | None = None
    created_to: date | None = None  # inclusive, as a person reads a date range
    search: str | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> SentLeadsFilters:
        """Validate the filter parameters of a request; raise FilterError on a bad one."""
        entity = _parse_choice(params, "entity", ENTITIES)
        status_group = _parse_choice(params, "status_group", STATUS_GROUPS)
        channel = _parse_text(params, "channel")
        search = _parse_text(params, "q")
        created_from = _parse_date(params, "from")
        created_to = _parse_date(params, "to")
        if created_from and created_to and created_from > created_to:
            raise FilterError("to", f"the range ends ({created_to}) before it starts")
        return cls(entity, status_group, channel, created_from, created_to, search)

    @property
    def is_active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def query_items(self) -> list[tuple[str, str]]:
        """Return the filters as query-string pairs, for links that keep them."""
        items = [
            ("entity", self.entity),
            ("status_group", self.status_group),
            ("channel", self.channel),
            ("from", self.created_from.isoformat() if self.created_from else None),
            ("to", self.created_to.isoformat() if self.created_to else None),
            ("q", self.search),
        ]
        return [(name, value) for name, value in items if value is not None]

    def bind(self) -> dict[str, Any]:
        """Return the bind parameters of filter_sent_leads.sql."""
        return {
            "entity": self.entity,
            "status_group": self.status_group,
            "channel": self.channel,
            "created_from": _day_start(self.created_from),
            "created_before": _day_start(self.created_to, plus_days=1),
            "search_like": _like_pattern(self.search),
            "search_uuid": _search_uuid(self.search),
            "search_number": _search_number(self.search),
        }


@dataclass(frozen=True)
class PagePosition:
    """A place in the list: one row's sort key, written into "older"/"newer" links."""

    sort: str  # the creation time in ISO form, or '-infinity'
    entity: str
    crm_id: uuid.UUID

    def encode(self) -> str:
        return f"{self.sort}~{self.entity}~{self.crm_id}"

    @classmethod
    def decode(cls, name: str, text: str) -> PagePosition:
        """Parse a position from a link; raise FilterError when it was not made by `encode`."""
        parts = text.split("~")
        if len(parts) != 3 or parts[1] not in ENTITIES:
            raise FilterError(name, "not a page position this page made")
        sort, entity, crm_id = parts
        if sort != NO_CREATION_TIME:
            try:
                sort = datetime.fromisoformat(sort).isoformat()
            except ValueError:
                raise FilterError(name, "not a page position this page made") from None
        try:
            return cls(sort, entity, uuid.UUID(crm_id))
        except ValueError:
            raise FilterError(name, "not a page position this page made") from None


@dataclass(slots=True)
class SentLead:
    """One row of the list (the columns of select_page_older.sql)."""

    entity: str
    crm_id: uuid.UUID
    title: str | None
    created_on: datetime | None
    modified_on: datetime

    status_id: uuid.UUID | None
    status_name: str | None
    status_group: str
    is_status_mapped: bool

    revenue: Decimal | None
    first_cost: Decimal | None
    profit: Decimal | None

    roistat_raw: str | None
    roistat_kind: str
    visit_id: int | None
    visit_date: datetime | None
    channel: str

    first_synced_at: datetime
    last_synced_at: datetime
    paid_at: datetime | None
    excluded_at: datetime | None
    deleted_at: datetime | None
    was_rejected: bool

    @property
    def position(self) -> PagePosition:
        sort = self.created_on.isoformat() if self.created_on else NO_CREATION_TIME
        return PagePosition(sort, self.entity, self.crm_id)


EXPORT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(SentLead))


@dataclass(frozen=True)
class Page:
    """A page of rows, and the positions the "older" and "newer" links start from."""

    rows: list[SentLead]
    older: PagePosition | None = None  # the last row, when older rows exist
    newer: PagePosition | None = None  # the first row, when newer rows exist


@dataclass(frozen=True)
class Totals:
    """The header's numbers for the filtered list."""

    listed: int
    deals: int  # live: neither excluded nor deleted
    not_registered: int
    processing: int
    paid: int
    rejected: int
    revenue: Decimal
    forecast_revenue: Decimal
    excluded: int
    deleted: int
    newest_created_on: datetime | None


@dataclass(frozen=True)
class SyncRunNotice:
    """The newest sync run of an entity."""

    entity: str
    sync_run_id: int
    dag_id: str | None
    run_id: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class Notices:
    """What the page warns about: unsorted statuses and failed syncs."""

    unmapped_statuses: list[dict[str, Any]] = field(default_factory=list)
    last_runs: list[SyncRunNotice] = field(default_factory=list)

    @property
    def failed_runs(self) -> list[SyncRunNotice]:
        return [run for run in self.last_runs if run.status == "failed"]


# -- the warehouse ------------------------------------------------------------


def prepare_connection(conn: psycopg.Connection, *, statement_timeout_ms: int) -> None:
    """Set up a warehouse connection for the page's read-only queries."""
    # Never prepared: a prepared statement may get a generic plan, where the
    # "filter is null or ..." tests no longer fold away and the indexes go unused.
    conn.prepare_threshold = None
    conn.execute("select set_config('statement_timeout', %s, false)", (str(statement_timeout_ms),))


def warehouse_state(conn: psycopg.Connection) -> str:
    """Return "no_schema", "never_synced" or "ready"."""
    if conn.execute("select to_regclass('roistat.sent_leads')").fetchone()[0] is None:
        return "no_schema"
    synced = conn.execute(
        "select exists (select 1 from roistat.deal) or exists "
        "(select 1 from roistat.sync_run where status = 'success')"
    ).fetchone()[0]
    return "ready" if synced else "never_synced"


def fetch_page(
    conn: psycopg.Connection,
    filters: SentLeadsFilters,
    *,
    after: PagePosition | None = None,
    before: PagePosition | None = None,
    rows: int = PAGE_ROWS,
) -> Page:
    """Return the page after `after` (older rows), before `before` (newer rows), or the first."""
    if before is not None:
        newer_rows = _select(
            conn,
            "select_page_newer.sql",
            {
                **filters.bind(),
                "before_sort": before.sort,
                "before_entity": before.entity,
                "before_crm_id": before.crm_id,
                "page_rows": rows + 1,
            },
            row_type=SentLead,
        )
        if len(newer_rows) > rows:
            shown = list(reversed(newer_rows[:rows]))
            return Page(shown, older=shown[-1].position, newer=shown[0].position)
        # Fewer than a page above this one: that is simply the first page.
        after = None

    found = _select(
        conn,
        "select_page_older.sql",
        {**filters.bind(), **_after_params(after), "page_rows": rows + 1},
        row_type=SentLead,
    )
    shown = found[:rows]
    older = shown[-1].position if len(found) > rows else None
    newer = shown[0].position if after is not None and shown else None
    if after is not None and not shown:
        # Past the end (the rows after the position were deleted): offer the way back.
        newer = after
    return Page(shown, older=older, newer=newer)


def fetch_totals(conn: psycopg.Connection, filters: SentLeadsFilters) -> Totals:
    """Return the header's totals for the filtered list."""
    return _select(conn, "select_totals.sql", filters.bind(), row_type=Totals)[0]


def fetch_daily(
    conn: psycopg.Connection,
    filters: SentLeadsFilters,
    newest: datetime | None,
    *,
    days: int = CHART_DAYS,
) -> dict[str, Any]:
    """Return deals per day and group for the `days` up to the newest deal, chart-ready."""
    if newest is None:
        return {"since": None, "days": [], "groups": {group: [] for group in STATUS_GROUPS}}
    last_day = newest.astimezone(timezone.utc).date()
    first_day = last_day - timedelta(days=days - 1)
    if filters.created_from and filters.created_from > first_day:
        first_day = filters.created_from
    found = _select(
        conn,
        "select_daily.sql",
        {**filters.bind(), "chart_from": _day_start(first_day)},
        row_type=None,
    )
    counts = {(row["created_date"], row["status_group"]): row["deals"] for row in found}
    all_days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    return {
        "since": _day_start(first_day),
        "days": [day.isoformat() for day in all_days],
        "groups": {
            group: [counts.get((day, group), 0) for day in all_days] for group in STATUS_GROUPS
        },
    }


def fetch_channels(
    conn: psycopg.Connection,
    filters: SentLeadsFilters,
    since: datetime | None,
    *,
    limit: int = CHANNEL_CHOICES,
) -> list[dict[str, Any]]:
    """Return the channels of the filtered list since `since`, with their deal counts."""
    if since is None:
        return []
    params = {**filters.bind(), "chart_from": since, "channel_rows": limit}
    return _select(conn, "select_channels.sql", params, row_type=None)


def fetch_notices(conn: psycopg.Connection) -> Notices:
    """Return the unsorted statuses and the newest sync run of each entity."""
    unmapped = _select(conn, "select_unmapped_statuses.sql", {}, row_type=None)
    runs = _select(conn, "select_last_sync_runs.sql", {}, row_type=SyncRunNotice)
    return Notices(unmapped_statuses=unmapped, last_runs=runs)


def iter_export(
    conn: psycopg.Connection, filters: SentLeadsFilters, *, batch_rows: int = EXPORT_BATCH_ROWS
) -> Iterator[tuple[Any, ...]]:
    """Yield every row of the filtered list, newest first, in `EXPORT_COLUMNS` order.

    A server-side (named) cursor hands the rows over `batch_rows` at a time, so
    a million rows never sit in memory, here or in the driver.
    """
    query = _query("select_page_older.sql")
    params = {**filters.bind(), **_after_params(None), "page_rows": None}
    with conn.transaction():
        with conn.cursor(name="sent_leads_export") as cursor:
            cursor.itersize = batch_rows
            cursor.execute(query, params)
            yield from cursor


# -- helpers ------------------------------------------------------------------


@cache
def _query(name: str) -> sql.Composed:
    """Return a query from include/sql/sent_leads with the filters put in place."""
    folder = sql_path("sent_leads")
    filters = (folder / "filter_sent_leads.sql").read_text(encoding="utf-8")
    text = (folder / name).read_text(encoding="utf-8")
    return sql.SQL(text).format(filters=sql.SQL(filters))


def _select(
    conn: psycopg.Connection, name: str, params: dict[str, Any], *, row_type: type | None
) -> list[Any]:
    factory = dict_row if row_type is None else class_row(row_type)
    with conn.cursor(row_factory=factory) as cursor:
        return cursor.execute(_query(name), params).fetchall()


def _after_params(after: PagePosition | None) -> dict[str, Any]:
    return {
        "after_sort": after.sort if after else None,
        "after_entity": after.entity if after else None,
        "after_crm_id": after.crm_id if after else None,
    }


def _parse_choice(params: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if value not in choices:
        raise FilterError(name, f"must be one of {', '.join(choices)}")
    return value


def _parse_text(params: Mapping[str, str], name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if len(value) > TEXT_LIMIT:
        raise FilterError(name, f"at most {TEXT_LIMIT} characters")
    if "\x00" in value:
        raise FilterError(name, "holds a NUL character")
    return value


def _parse_date(params: Mapping[str, str], name: str) -> date | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(name, "a date as YYYY-MM-DD") from None


def _day_start(day: date | None, *, plus_days: int = 0) -> datetime | None:
    if day is None:
        return None
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return start + timedelta(days=plus_days)


def _like_pattern(search: str | None) -> str | None:
    if search is None:
        return None
    # '\' is ilike's default escape character: the user's %, _ and \ match themselves.
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_uuid(search: str | None) -> uuid.UUID | None:
    if search is None:
        return None
    try:
        return uuid.UUID(search)
    except ValueError:
        return None


_VISIT_NUMBER = re.compile(r"[\d\s-]+")


def _search_number(search: str | None) -> int | None:
    # A visit number as managers type it, "123 456" or "123-456" (DESIGN.md §4).
    if search is None or not _VISIT_NUMBER.fullmatch(search):
        return None
    digits = re.sub(r"\D", "", search)
    if not digits or int(digits) > _BIGINT_MAX:
        return None
    return int(digits)
