"""Breakers for the text keyset (`canonical_timestamp`) and `RowConverter` (commit bf0cc48).

The keyset now compares ModifiedOn as text in Creatio's canonical form. These
tests drive `ModifiedOnKeyset` against an in-memory CRM that answers the
keyset's queries by the true instant but SPELLS each ModifiedOn in one of
several legal ways, chosen per row and per answer (offsets, fewer fraction
digits, no fraction), with tie groups across page boundaries, windows, years
before 1000 and rows modified mid-read. Then the value-level edges: impossible
dates, non-ASCII digits, out-of-range offsets, wrong JSON types.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roistat.bpmonline_errors import BpmOnlinePagingError
from roistat.bpmonline_paging import ModifiedOnKeyset
from roistat.bpmonline_values import (
    ODataTimestamp,
    RowConverter,
    canonical_timestamp,
    convert_row,
)
from roistat.rules.crm_scalars import parse_crm_datetime
from roistat.rules.rule_errors import CrmValueError

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TPS = 10_000_000

SPELLINGS = ("canonical", "trimmed", "+03:00", "-05:30", "+00:00", "-00:00", "+14:00", "-12:00")


def spell(ticks: int, how: str) -> str:
    """One legal OData spelling of the instant `ticks` (canonical when it cannot be spelled so)."""
    canonical = ODataTimestamp(ticks).literal()
    if how == "canonical":
        return canonical
    if how == "trimmed":  # fewer fraction digits, or none at all
        fraction = canonical[20:27].rstrip("0")
        return canonical[:19] + ("." + fraction if fraction else "") + "Z"
    sign = 1 if how[0] == "+" else -1
    minutes = sign * (int(how[1:3]) * 60 + int(how[4:6]))
    seconds, fraction = divmod(ticks, _TPS)
    try:
        local = _EPOCH + dt.timedelta(seconds=seconds, minutes=minutes)
    except OverflowError:
        return canonical
    return f"{local.year:04d}-{local:%m-%dT%H:%M:%S}.{fraction:07d}{how}"


@dataclass
class SpellingCrm:
    """Answers a keyset's queries by instant, spelling every ModifiedOn at random."""

    rows: dict[str, int]
    rng: random.Random
    spellings: tuple[str, ...] = SPELLINGS
    mutations: dict[int, list[list[str]]] = field(default_factory=dict)
    requests: int = 0
    clock: int = 0

    def answer(self, query: dict[str, str]) -> tuple[list[dict[str, str]], int | None]:
        for ids in self.mutations.get(self.requests, []):
            self.clock = max(self.clock, *self.rows.values()) + 1
            for row_id in ids:
                self.rows[row_id] = self.clock  # a bulk update: one new stamp, a new tie group
        self.requests += 1
        matching = [(t, i) for i, t in self.rows.items() if _matches(t, query.get("$filter", ""))]
        matching.sort(key=(lambda p: p[1]) if query["$orderby"] == "Id asc" else None)
        skip = int(query.get("$skip", 0))
        page = matching[skip : skip + int(query["$top"])]
        count = len(matching) if query.get("$count") == "true" else None
        return [
            {"Id": i, "ModifiedOn": spell(t, self.rng.choice(self.spellings))} for t, i in page
        ], count


def _matches(ticks: int, odata_filter: str) -> bool:
    for condition in filter(None, odata_filter.split(" and ")):
        column, op, literal = condition.split(" ")
        assert column == "ModifiedOn"
        # The literal the keyset sends must itself be Creatio's canonical form.
        assert canonical_timestamp(literal) == literal, literal
        bound = ODataTimestamp.parse(literal).ticks
        if not {"ge": ticks >= bound, "gt": ticks > bound, "lt": ticks < bound,
                "eq": ticks == bound}[op]:  # fmt: skip
            return False
    return True


def read_all(crm: SpellingCrm, keyset: ModifiedOnKeyset) -> list[tuple[str, int]]:
    emitted = []
    for _ in range(20_000):
        query = keyset.next_query()
        if query is None:
            return emitted
        rows, count = crm.answer(query)
        emitted += [
            (r["Id"], ODataTimestamp.parse(r["ModifiedOn"]).ticks) for r in keyset.take(rows, count)
        ]
    raise AssertionError("the keyset did not finish")


# Instants the rows are drawn around: the sandbox's era, before 1970, before year
# 1000 and at both ends of what OData can write.
ANCHORS = [
    ODataTimestamp.parse(text).ticks
    for text in (
        "2025-06-01T00:00:00Z",
        "1969-12-31T23:59:59.9999990Z",
        "0999-12-31T23:59:59Z",
        "0100-03-01T00:00:00Z",
        "0001-01-02T00:00:00Z",
        "9999-12-30T00:00:00Z",
    )
]


@st.composite
def spelled_tables(draw):
    anchor = draw(st.sampled_from(ANCHORS))
    # Tie groups (several rows at one instant) a few ticks, seconds or hours apart.
    steps = draw(st.lists(st.sampled_from([1, 9, _TPS, 3600 * _TPS]), min_size=1, max_size=6))
    sizes = draw(st.lists(st.integers(1, 9), min_size=len(steps), max_size=len(steps)))
    ids = (f"{n:08x}-0000-4000-8000-000000000000" for n in itertools.count())
    stamps = list(itertools.accumulate(steps, initial=anchor))[1:]
    rows = {
        next(ids): stamp for stamp, size in zip(stamps, sizes, strict=True) for _ in range(size)
    }
    page_size = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32))
    return rows, stamps, page_size, seed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spelled_tables(), st.data())
def test_mixed_spellings_neither_miss_nor_repeat_in_any_window(table, data):
    rows, stamps, page_size, seed = table
    start = data.draw(st.sampled_from([None, *stamps]), label="start")
    end = data.draw(st.sampled_from([None, *stamps, stamps[-1] + 1]), label="end")
    if start is not None and end is not None and start >= end:
        start, end = end, (start if start > end else None)
    keyset = ModifiedOnKeyset(
        page_size=page_size,
        window_start=None if start is None else ODataTimestamp(start),
        window_end=None if end is None else ODataTimestamp(end),
    )
    emitted = read_all(SpellingCrm(dict(rows), random.Random(seed)), keyset)
    expected = sorted(
        (
            (t, i)
            for i, t in rows.items()
            if (start is None or t >= start) and (end is None or t < end)
        )
    )
    assert emitted == [(i, t) for t, i in expected]


@settings(max_examples=200, deadline=None)
@given(spelled_tables(), st.data())
def test_mixed_spellings_under_bulk_updates_miss_nothing_and_repeat_nothing(table, data):
    rows, _stamps, page_size, seed = table
    ids = sorted(rows)
    mutations = data.draw(
        st.dictionaries(
            st.integers(1, 30),
            st.lists(st.lists(st.sampled_from(ids), min_size=1, max_size=10), max_size=2),
            max_size=5,
        ),
        label="mutations",
    )
    crm = SpellingCrm(
        dict(rows), random.Random(seed), mutations=mutations, clock=max(rows.values())
    )
    emitted = read_all(crm, ModifiedOnKeyset(page_size=page_size))
    assert len(emitted) == len(set(emitted)), "an (Id, ModifiedOn) pair came twice"
    assert set(crm.rows.items()) - set(emitted) == set(), "a row's final version was missed"


def test_one_tie_group_spelled_every_way_across_page_boundaries():
    """Twelve rows at one instant, every row spelled differently each time, page of 5."""
    stamp = ODataTimestamp.parse("2025-06-01T12:00:00.1200000Z").ticks
    rows = {f"{n:08x}-0000-4000-8000-000000000000": stamp for n in range(12)}
    rows["ffffffff-0000-4000-8000-000000000000"] = stamp + 1
    rows["00000000-1111-4000-8000-000000000000"] = stamp - 1
    crm = SpellingCrm(dict(rows), random.Random(7))
    emitted = read_all(crm, ModifiedOnKeyset(page_size=5))
    assert sorted(emitted, key=lambda p: (p[1], p[0])) == emitted
    assert sorted(emitted) == sorted(rows.items())


# -- canonical_timestamp / ODataTimestamp: the value-level edges -------------


@pytest.mark.parametrize(
    "raw",
    [
        "2024-02-30T00:00:00.0000000Z",
        "2023-02-29T00:00:00.0000000Z",
        "2024-13-01T00:00:00.0000000Z",
        "2024-06-17T24:00:00.0000000Z",
        "2024-06-17T15:60:00.0000000Z",
        "2016-12-31T23:59:60.0000000Z",
        "0000-01-01T00:00:00.0000000Z",
    ],
)
def test_canonical_timestamp_refuses_impossible_dates_in_creatio_form(raw):
    """Its docstring: 'Raises ValueError for what is no datetime at all'. Before bf0cc48
    the keyset parsed every ModifiedOn, so such a row stopped the read with a
    BpmOnlinePagingError; the fast path now returns the text as it came."""
    with pytest.raises(ValueError):
        canonical_timestamp(raw)


def test_a_row_with_an_impossible_modifiedon_is_a_paging_error_not_a_mark():
    keyset = ModifiedOnKeyset(page_size=2)
    rows = [
        {"Id": "a", "ModifiedOn": "2024-02-28T00:00:00.0000000Z"},
        {"Id": "b", "ModifiedOn": "2024-02-30T00:00:00.0000000Z"},
    ]
    with pytest.raises(BpmOnlinePagingError):
        keyset.take(rows)
    # ...and never sent back to the CRM as a filter literal
    assert "2024-02-30" not in str(keyset.next_query())


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00+03:00",  # .NET's empty date written in a +03:00 zone
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_an_out_of_range_offset_stamp_is_a_paging_error_not_an_overflow(raw):
    """A ModifiedOn whose UTC instant lies outside years 1-9999 must stop the read
    with BpmOnlinePagingError like any unusable ModifiedOn, not a bare OverflowError."""
    keyset = ModifiedOnKeyset(page_size=5)
    with pytest.raises(BpmOnlinePagingError):
        keyset.take([{"Id": "a", "ModifiedOn": raw}])


@pytest.mark.parametrize(
    "raw",
    [
        "\u0662\u0660\u0662\u0664-06-17T15:28:32.7013964Z",  # Arabic-Indic year
        "2024-06-17T15:28:32.701396\u0663Z",  # Arabic-Indic last fraction digit
        "\uff12\uff10\uff12\uff14-06-17T15:28:32.7013964Z",  # full-width year
        "2024-06-17T15:28:32.7013964+\u0660\u0663:00",  # Arabic-Indic offset
    ],
    ids=["arabic-year", "arabic-fraction", "fullwidth-year", "arabic-offset"],
)
def test_non_ascii_digits_are_no_odata_timestamp(raw):
    """tests/roistat/test_bpmonline_values.py::test_impossible_creatio_timestamps_are_refused
    means to check this ('arabic-digit-year'), but its `.encode().decode("unicode_escape")`
    turns the Arabic digit into mojibake, so the case it runs is not the one it names.
    The regex `_TIMESTAMP` lacks re.ASCII and `int()` reads any Unicode digit."""
    with pytest.raises(ValueError):
        ODataTimestamp.parse(raw)
    with pytest.raises(ValueError):
        canonical_timestamp(raw)


def test_lowercase_z_modifiedon_pages_like_uppercase():
    """`Z`/`z` are one designator in ISO 8601/RFC 3339, and the mapping rules
    (parse_crm_datetime) accept `z`; the keyset refuses it and stops the read.
    (Same before bf0cc48: ODataTimestamp.parse never took `z`.)"""
    keyset = ModifiedOnKeyset(page_size=5)
    fresh = keyset.take(
        [
            {"Id": "a", "ModifiedOn": "2024-06-17T15:28:32.7013964Z"},
            {"Id": "b", "ModifiedOn": "2024-06-17T15:28:32.7013965z"},
        ]
    )
    assert [r["Id"] for r in fresh] == ["a", "b"]


# -- RowConverter: converted values agree with the rules ---------------------

TYPES = {
    "Id": "Edm.Guid",
    "ModifiedOn": "Edm.DateTimeOffset",
    "CreatedOn": "Edm.DateTimeOffset",
    "StatusId": "Edm.Guid",
    "Title": "Edm.String",
    "DueDate": "Edm.Date",
}
COLUMNS = list(TYPES)


def _row(**changes):
    row = {
        "Id": "1f3ad326-effd-4ac3-a3e2-957e7def3684",
        "ModifiedOn": "2024-06-17T15:28:32.7013964Z",
        "CreatedOn": "2024-06-17T15:28:32.7013964Z",
        "StatusId": "00000000-0000-0000-0000-000000000000",
        "Title": "x",
        "DueDate": "2024-06-17",
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    "value",
    [
        0,
        1.5,
        True,
        [],
        ["2024-06-17T15:28:32.7013964Z"],
        {"v": 1},
        None,
        "",
        "2024-02-30T00:00:00.0000000Z",
        "2024-06-17T24:00:00.0000000Z",
        "0000-01-01T00:00:00.0000000Z",
        " 2024-06-17T15:28:32.7013964Z",
        "2024-06-17T15:28:32.7013964Z\n",
    ],
    ids=repr,
)
def test_wrong_types_and_impossible_values_stay_as_sent_in_both_roads(value):
    expected = _row(CreatedOn=value)
    converter = RowConverter(TYPES, columns=COLUMNS)
    in_place = converter(_row(CreatedOn=value))
    copied = converter({**_row(CreatedOn=value), "@odata.etag": "W/1"})
    for got in (in_place, copied):
        assert got["CreatedOn"] == value and type(got["CreatedOn"]) is type(value)
        assert got["StatusId"] is None
        assert got["DueDate"] == dt.date(2024, 6, 17)
    assert expected["Title"] == in_place["Title"]


@pytest.mark.parametrize(
    "raw",
    ["0001-01-01T00:00:00+03:00", "9999-12-31T23:59:59-01:00"],
)
def test_an_out_of_range_datetime_is_left_as_text_not_an_overflow(raw):
    """convert_row promises: 'A datetime that does not parse is left as the server's
    text: the mapping rules reject that one row with the reason, instead of the
    whole read failing.' An instant outside years 1-9999 raises OverflowError
    out of the converter and so out of the whole read."""
    converter = RowConverter(TYPES, columns=COLUMNS)
    got = converter(_row(CreatedOn=raw))
    assert got["CreatedOn"] == raw
    with pytest.raises(CrmValueError):
        parse_crm_datetime(got["CreatedOn"])


@pytest.mark.parametrize(
    "raw",
    [
        "\u0662\u0660\u0662\u0664-06-17T15:28:32.7013964Z",
        "\uff12\uff10\uff12\uff14-06-17T15:28:32.7Z",
    ],
    ids=["arabic-year", "fullwidth-year"],
)
def test_a_datetime_the_rules_refuse_is_not_turned_into_a_datetime(raw):
    """parse_crm_datetime (re.ASCII) refuses non-ASCII digits, so the row should be
    rejected; the converter turns the text into a datetime first and the rules
    then accept it (a value nobody wrote is loaded)."""
    with pytest.raises(CrmValueError):
        parse_crm_datetime(raw)
    got = RowConverter(TYPES, columns=COLUMNS)(_row(CreatedOn=raw))
    assert got["CreatedOn"] == raw


@settings(max_examples=300, deadline=None)
@given(st.integers(ANCHORS[4] - 86_400 * _TPS, ANCHORS[5]))
def test_fast_road_and_long_road_agree_on_every_creatio_timestamp(ticks):
    text = ODataTimestamp(ticks).literal()
    fast = RowConverter(TYPES, columns=COLUMNS)(_row(CreatedOn=text))["CreatedOn"]
    long = ODataTimestamp.parse(text).to_datetime()
    assert fast == long and fast.utcoffset() == dt.timedelta(0)
    if not text.startswith("0001-01-01"):  # .NET's empty date: the rules refuse it on purpose
        assert parse_crm_datetime(text) == long  # the rules agree to the microsecond
    assert ODataTimestamp.parse(text).ticks == ticks and canonical_timestamp(text) == text


def test_in_place_and_copy_roads_agree_on_unknown_columns_and_zero_guids():
    zero = "00000000-0000-0000-0000-000000000000"
    row = {"Id": zero, "ModifiedOn": "2024-06-17T15:28:32.7013964Z", "Unknown": zero, "Title": zero}
    types = {"Id": "Edm.Guid", "ModifiedOn": "Edm.DateTimeOffset", "Title": "Edm.String"}
    converter = RowConverter(types, columns=list(row))
    in_place = converter(dict(row))
    copied = converter({**row, "@odata.etag": "x"})
    assert in_place == copied == convert_row(dict(row), types)
    assert in_place["Unknown"] is None and in_place["Title"] == zero
