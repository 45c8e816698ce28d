"""Values as Creatio's OData 4 writes them, and literals as it wants to read them.

Creatio prints datetimes with seven fractional digits and a ``Z``
(``2024-06-17T15:28:32.7013964Z``); Python's datetime holds microseconds only,
so `ODataTimestamp` keeps the exact 100 ns tick count for paging and hands out
a datetime for everything else. Filter literals follow OData 4: datetimes and
GUIDs unquoted (quoting them is a 400), strings in single quotes with ``''``.
See reference/creatio-api.md §3.4-3.8.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from roistat.bpmonline_errors import BpmOnlineConfigError
from roistat.utc_time import plain_utc

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"

_TICKS_PER_SECOND = 10_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_NAIVE = dt.datetime(1970, 1, 1)
# ASCII digits only: int() would read Arabic-Indic or full-width digits too,
# which the mapping rules refuse. A lower-case z is still UTC.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,7}))?([Zz]|[+-]\d\d:\d\d)",
    re.ASCII,
)
# Years 1 to 9999 in UTC, what a datetime (and an OData literal) can hold.
_MIN_TICKS = -62_135_596_800 * 10_000_000
_MAX_TICKS = 253_402_300_800 * 10_000_000 - 1
# What Creatio itself writes, every time: UTC, seven fraction digits. A sync
# parses two or three of these per row, so this form takes a shorter road.
_CREATIO_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", re.ASCII)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

DATETIME_TYPES = frozenset({"Edm.DateTimeOffset", "Edm.DateTime"})


@dataclass(frozen=True, order=True, slots=True)
class ODataTimestamp:
    """A point in time to Creatio's full precision: 100 ns ticks since 1970 UTC."""

    ticks: int

    @classmethod
    def parse(cls, raw: str) -> ODataTimestamp:
        """Parse ``2024-06-17T15:28:32.7013964Z`` (any offset, 0-7 fraction digits)."""
        if isinstance(raw, str) and _CREATIO_TIMESTAMP.fullmatch(raw):
            since_epoch = dt.datetime.fromisoformat(raw[:19]) - _EPOCH_NAIVE
            seconds = since_epoch.days * 86_400 + since_epoch.seconds
            return cls(seconds * _TICKS_PER_SECOND + int(raw[20:27]))
        match = _TIMESTAMP.fullmatch(raw) if isinstance(raw, str) else None
        if match is None:
            raise ValueError(f"not an OData datetime: {raw!r}")
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        whole = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second),
            tzinfo=dt.UTC if zone in "Zz" else dt.datetime.strptime(zone, "%z").tzinfo,
        )  # fmt: skip
        seconds = (whole - _EPOCH) // dt.timedelta(seconds=1)
        ticks = seconds * _TICKS_PER_SECOND + int((fraction or "").ljust(7, "0"))
        if not _MIN_TICKS <= ticks <= _MAX_TICKS:
            # 0001-01-01T00:00:00+03:00 is in year 0 in UTC: no datetime holds it.
            raise ValueError(f"OData datetime {raw!r} falls outside years 1-9999 in UTC")
        return cls(ticks)

    @classmethod
    def from_datetime(cls, value: dt.datetime) -> ODataTimestamp:
        """Convert an aware datetime; a naive one is refused rather than guessed."""
        if value.tzinfo is None or value.utcoffset() is None:
            raise BpmOnlineConfigError(
                f"datetime {value.isoformat()} has no time zone; pass an aware (UTC) datetime"
            )
        plain = plain_utc(value)
        return cls(((plain - _EPOCH) // dt.timedelta(microseconds=1)) * 10)

    def literal(self) -> str:
        """Return the OData 4 filter literal: unquoted, UTC, seven fraction digits."""
        seconds, fraction = divmod(self.ticks, _TICKS_PER_SECOND)
        whole = _EPOCH + dt.timedelta(seconds=seconds)
        # %Y does not pad years before 1000 on every platform; OData wants four digits.
        return f"{whole.year:04d}-{whole:%m-%dT%H:%M:%S}.{fraction:07d}Z"

    def to_datetime(self) -> dt.datetime:
        """Return an aware UTC datetime (the 7th fraction digit is dropped)."""
        return _EPOCH + dt.timedelta(microseconds=self.ticks // 10)

    def __str__(self) -> str:
        return self.literal()


def canonical_timestamp(raw: str) -> str:
    """Return a CRM datetime in Creatio's own form (UTC, seven fraction digits).

    In that form text order is time order, so the paging compares and resends
    the text itself; any other spelling (an offset, fewer digits) is rewritten.
    Raises ValueError for what is no datetime at all.
    """
    if isinstance(raw, str) and _CREATIO_TIMESTAMP.fullmatch(raw):
        dt.datetime.fromisoformat(raw[:19])  # refuses 2024-02-30, 24:00, year 0
        return raw
    return ODataTimestamp.parse(raw).literal()


def odata_literal(value: Any) -> str:
    """Write a Python value as an OData 4 ``$filter`` literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, ODataTimestamp):
        return value.literal()
    if isinstance(value, dt.datetime):
        return ODataTimestamp.from_datetime(value).literal()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no OData literal for {type(value).__name__}")


def guid_literal(value: str | uuid.UUID) -> str:
    """Write a GUID unquoted, refusing anything that is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise BpmOnlineConfigError(f"{value!r} is not a GUID") from None


def lookup_filter(column: str, value: str | uuid.UUID | None) -> str:
    """Return a ``$filter`` on a lookup, through its navigation path.

    ``QualifyStatusId eq <guid>`` fails with a 500 on Creatio; the working form
    is ``QualifyStatus/Id eq <guid>`` (reference/creatio-api.md §3.5), and an
    empty lookup is ``QualifyStatus eq null`` (``Nav/Id eq null`` finds nothing).
    Accepts the scalar name (``QualifyStatusId``) or the navigation name.
    """
    check_identifier(column, "lookup column")
    nav = column[:-2] if column.endswith("Id") and len(column) > 2 else column
    if value is None:
        return f"{nav} eq null"
    return f"{nav}/Id eq {guid_literal(value)}"


def check_identifier(name: str, kind: str) -> str:
    """Return ``name`` if it is a plain OData identifier (entity set or column)."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise BpmOnlineConfigError(
            f"{kind} {name!r} is not an OData name: use Latin letters, digits and '_' "
            "exactly as the CRM names it (e.g. Lead, UsrRoistat)"
        )
    return name


def convert_row(row: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """Return a row with datetimes parsed and empty lookups as None.

    Money and other numbers stay as the server sent them: a Decimal (the JSON is
    parsed with ``parse_float=Decimal``) or a string, for the mapping rules. A
    datetime that does not parse is left as the server's text: the mapping rules
    reject that one row with the reason, instead of the whole read failing.
    """
    return RowConverter(types)(row)


class RowConverter:
    """`convert_row` for one read's columns and types, worked out once.

    Every row of a read has the same columns, so which of them are datetimes,
    dates and lookups is found once here. A row holding exactly the columns
    asked for (the usual case) is converted in place; anything else (OData
    annotations, columns nobody asked for) goes the long way through a copy.
    """

    __slots__ = ("_columns", "_datetimes", "_dates", "_lookups", "_types")

    def __init__(self, types: Mapping[str, str], columns: Iterable[str] | None = None) -> None:
        """`columns`, when given, are the ones the rows hold (the read's $select)."""
        self._types = types
        self._columns = None if columns is None else frozenset(columns)
        wanted = types if columns is None else {name: types.get(name) for name in columns}
        self._datetimes = tuple(name for name, edm in wanted.items() if edm in DATETIME_TYPES)
        self._dates = tuple(name for name, edm in wanted.items() if edm == "Edm.Date")
        # The all-zero GUID means "no lookup"; a column of unknown type may be one.
        self._lookups = tuple(name for name, edm in wanted.items() if edm in _LOOKUP_TYPES)

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if self._columns is None or row.keys() != self._columns:
            return self._copy(row)
        for name in self._lookups:
            if row[name] == EMPTY_GUID:
                row[name] = None
        for name in self._datetimes:
            value = row[name]
            if isinstance(value, str) and value:
                row[name] = _datetime_or_text(value)
        for name in self._dates:
            value = row[name]
            if isinstance(value, str) and value:
                row[name] = _date_or_text(value)
        return row

    def _copy(self, row: Mapping[str, Any]) -> dict[str, Any]:
        converted: dict[str, Any] = {}
        types = self._types
        for name, value in row.items():
            if name.startswith("@odata."):
                continue
            edm_type = types.get(name)
            if value == EMPTY_GUID and edm_type in _LOOKUP_TYPES:
                value = None
            elif isinstance(value, str) and value:
                if edm_type in DATETIME_TYPES:
                    value = _datetime_or_text(value)
                elif edm_type == "Edm.Date":
                    value = _date_or_text(value)
            converted[name] = value
        return converted


# Edm.Guid is how OData 4 types a lookup's id column; None is a column the
# metadata does not describe, which could be one.
_LOOKUP_TYPES = frozenset({"Edm.Guid", None})


def _datetime_or_text(value: str) -> dt.datetime | str:
    """An aware UTC datetime, or the text itself when it is no datetime (see convert_row)."""
    try:
        if _CREATIO_TIMESTAMP.fullmatch(value):
            # Python reads Creatio's own form directly and, like to_datetime,
            # drops the 7th fraction digit (tests compare the two).
            return dt.datetime.fromisoformat(value)
        return ODataTimestamp.parse(value).to_datetime()
    except ValueError:  # 2024-02-30, 25:00 ...
        return value


def _date_or_text(value: str) -> dt.date | str:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return value
