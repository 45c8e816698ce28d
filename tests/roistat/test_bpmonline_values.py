"""Values as Creatio writes them: 7-digit datetimes, empty lookups, money; literals."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from bpmonline_fixtures import make_hook, sandbox_with_connection
from hypothesis import given
from hypothesis import strategies as st

from roistat.bpmonline_errors import BpmOnlineConfigError
from roistat.bpmonline_values import (
    EMPTY_GUID,
    ODataTimestamp,
    canonical_timestamp,
    convert_row,
    guid_literal,
    lookup_filter,
    odata_literal,
)
from sandbox.testing import RunningSandbox

UTC = dt.UTC

# -- timestamps ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "literal"),
    [
        pytest.param(
            "2024-06-17T15:28:32.7013964Z", "2024-06-17T15:28:32.7013964Z", id="seven-digits"
        ),
        pytest.param("2024-06-17T15:28:32Z", "2024-06-17T15:28:32.0000000Z", id="no-fraction"),
        pytest.param("2024-06-17T15:28:32.5Z", "2024-06-17T15:28:32.5000000Z", id="one-digit"),
        pytest.param(
            "2024-06-17T18:28:32.0000001+03:00", "2024-06-17T15:28:32.0000001Z", id="offset"
        ),
        pytest.param(
            "1969-12-31T23:59:59.9999999Z", "1969-12-31T23:59:59.9999999Z", id="before-1970"
        ),
    ],
)
def test_timestamps_keep_all_seven_digits(raw, literal):
    stamp = ODataTimestamp.parse(raw)
    assert stamp.literal() == literal
    assert ODataTimestamp.parse(stamp.literal()) == stamp


def test_timestamps_one_tick_apart_differ_and_order():
    low = ODataTimestamp.parse("2024-06-17T15:28:32.7013964Z")
    high = ODataTimestamp.parse("2024-06-17T15:28:32.7013965Z")
    assert low < high and high.ticks - low.ticks == 1


def test_timestamp_to_datetime_is_aware_utc_cut_to_microseconds():
    value = ODataTimestamp.parse("2024-06-17T15:28:32.7013964Z").to_datetime()
    assert value == dt.datetime(2024, 6, 17, 15, 28, 32, 701396, tzinfo=UTC)
    assert value.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "raw", ["2024-06-17", "2024-06-17T15:28:32.12345678Z", "2024-06-17 15:28:32Z", "", None, 5]
)
def test_malformed_timestamps_are_refused(raw):
    with pytest.raises(ValueError):
        ODataTimestamp.parse(raw)


@given(
    moment=st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)),
    fraction=st.integers(0, 9_999_999),
)
def test_creatio_timestamps_are_exact_to_the_tick(moment, fraction):
    """Creatio's own form (UTC, 7 digits) against calendar.timegm, an independent clock."""
    raw = f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:07d}Z"
    if moment.year < 1000:
        raw = f"{moment.year:04d}" + raw[len(str(moment.year)) :]
    expected = calendar.timegm(moment.timetuple()) * 10_000_000 + fraction
    assert ODataTimestamp.parse(raw).ticks == expected
    # the same instant written with an offset takes the general road: same ticks
    shifted = raw[:-1] + "+00:00"
    assert ODataTimestamp.parse(shifted).ticks == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2024-13-01T00:00:00.0000000Z",
        "2024-02-30T00:00:00.0000000Z",
        "2024-06-17T24:00:00.0000000Z",
        "2024-06-17X15:28:32.7013964Z",
        "2024-06-17T15:28:32.701396\u0663Z".encode().decode("unicode_escape"),
        "\u0662024-06-17T15:28:32.7013964Z".encode().decode("unicode_escape"),
    ],
    ids=[
        "month-13",
        "feb-30",
        "hour-24",
        "x-separator",
        "arabic-digit-fraction",
        "arabic-digit-year",
    ],
)
def test_impossible_creatio_timestamps_are_refused(raw):
    with pytest.raises(ValueError):
        ODataTimestamp.parse(raw)


def test_naive_datetimes_are_refused_not_guessed():
    with pytest.raises(BpmOnlineConfigError, match="time zone"):
        ODataTimestamp.from_datetime(dt.datetime(2024, 1, 1))


def test_aware_datetimes_in_other_zones_are_converted():
    moscow = dt.timezone(dt.timedelta(hours=3))
    stamp = ODataTimestamp.from_datetime(dt.datetime(2024, 1, 1, 3, 0, 0, 5, tzinfo=moscow))
    assert stamp.literal() == "2024-01-01T00:00:00.0000050Z"


# -- literals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        pytest.param("O'Brien", "'O''Brien'", id="string-quote-doubled"),
        pytest.param("Заявка", "'Заявка'", id="cyrillic"),
        pytest.param(
            uuid.UUID("d790a45d-03ff-4ddb-9dea-8087722c582c"),
            "d790a45d-03ff-4ddb-9dea-8087722c582c",
            id="guid-unquoted",
        ),
        pytest.param(
            dt.datetime(2024, 1, 1, tzinfo=UTC),
            "2024-01-01T00:00:00.0000000Z",
            id="datetime-unquoted",
        ),
        pytest.param(dt.date(2024, 1, 2), "2024-01-02", id="date"),
        pytest.param(None, "null", id="null"),
        pytest.param(True, "true", id="bool"),
        pytest.param(Decimal("1500.50"), "1500.50", id="decimal"),
        pytest.param(7, "7", id="int"),
    ],
)
def test_odata_literals(value, literal):
    assert odata_literal(value) == literal


def test_guid_literal_refuses_what_is_not_a_guid():
    assert (
        guid_literal("D790A45D-03FF-4DDB-9DEA-8087722C582C")
        == "d790a45d-03ff-4ddb-9dea-8087722c582c"
    )
    with pytest.raises(BpmOnlineConfigError):
        guid_literal("d790a45d' or 1 eq 1")


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        pytest.param(
            "QualifyStatusId",
            "D790A45D-03FF-4DDB-9DEA-8087722C582C",
            "QualifyStatus/Id eq d790a45d-03ff-4ddb-9dea-8087722c582c",
            id="scalar-name",
        ),
        pytest.param(
            "Status",
            uuid.UUID(int=1),
            "Status/Id eq 00000000-0000-0000-0000-000000000001",
            id="nav-name",
        ),
        pytest.param("LeadSourceId", None, "LeadSource eq null", id="empty"),
    ],
)
def test_lookup_filters_go_through_the_navigation_path(column, value, expected):
    assert lookup_filter(column, value) == expected


def test_convert_row_empties_lookups_and_parses_datetimes_by_type():
    types = {"ModifiedOn": "Edm.DateTimeOffset", "OwnerId": "Edm.Guid", "Note": "Edm.String"}
    row = convert_row(
        {
            "@odata.etag": "x",
            "ModifiedOn": "2024-06-17T15:28:32.7013964Z",
            "OwnerId": EMPTY_GUID,
            "SourceId": None,
            "Note": "2024-06-17T15:28:32Z",
            "Budget": Decimal("10.50"),
        },
        types,
    )
    assert row == {
        "ModifiedOn": dt.datetime(2024, 6, 17, 15, 28, 32, 701396, tzinfo=UTC),
        "OwnerId": None,
        "SourceId": None,
        "Note": "2024-06-17T15:28:32Z",  # a text column stays text, whatever it looks like
        "Budget": Decimal("10.50"),
    }


# -- values over HTTP ---------------------------------------------------------------

LOOKUPS = ["QualifyStatusId", "LeadSourceId", "LeadMediumId", "OwnerId"]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(tmp_path_factory) as sb:
        yield sb


@pytest.fixture
def sb(shared: RunningSandbox) -> Iterator[RunningSandbox]:
    shared.admin.reset()
    yield shared
    shared.admin.reset()


def read_by_id(entity: str, columns: list[str]) -> dict[str, dict]:
    with make_hook() as hook:
        return {row["Id"]: row for row in hook.iter_rows(entity, columns, page_size=200)}


@pytest.mark.parametrize("empty_lookup", ["zero", "null"])
def test_empty_lookups_become_none_whichever_way_they_are_written(sb, empty_lookup):
    sb.admin.set_quirks(empty_lookup=empty_lookup)
    rows = read_by_id("Lead", LOOKUPS)
    stored = {row["Id"]: row for row in sb.admin.rows("Lead")}
    empties = 0
    for row_id, row in rows.items():
        for column in LOOKUPS:
            value = stored[row_id][column]
            if value in (None, EMPTY_GUID):
                empties += 1
                assert row[column] is None
            else:
                assert row[column] == value
    assert empties > 0, "the dataset has empty lookups to check"


@pytest.mark.parametrize(
    ("decimals", "kind"),
    [pytest.param("number", Decimal, id="json-numbers"), pytest.param("string", str, id="strings")],
)
def test_money_is_kept_exactly_as_sent(sb, decimals, kind):
    sb.admin.set_quirks(decimals=decimals)
    money = ["Amount", "PaymentAmount", "UsrFirstCost"]
    rows = read_by_id("Order", money)
    stored = {row["Id"]: row for row in sb.admin.rows("Order")}
    checked = 0
    for row_id, row in rows.items():
        for column in money:
            if stored[row_id][column] is None:
                assert row[column] is None
                continue
            assert isinstance(row[column], kind)
            # The exact text, scale included: "1500.00" stays "1500.00".
            assert str(row[column]) == str(stored[row_id][column])
            checked += 1
    assert checked > 0


def test_datetimes_are_aware_utc_and_exact_to_the_microsecond(sb):
    rows = read_by_id("Order", ["CreatedOn", "Date"])
    stored = {row["Id"]: row for row in sb.admin.rows("Order")}
    for row_id, row in rows.items():
        for column in ("CreatedOn", "ModifiedOn", "Date"):
            assert row[column] == stored[row_id][column]
            assert row[column].tzinfo is not None and row[column].utcoffset() == dt.timedelta(0)


def test_lookup_filters_are_accepted_by_the_server(sb):
    satisfied = "0a0808c5-5415-41f0-bea3-118cc3089959"
    stored = sb.admin.rows("Lead")
    with make_hook() as hook:
        assert hook.count("Lead", lookup_filter("QualifyStatusId", satisfied)) == sum(
            row["QualifyStatusId"] == satisfied for row in stored
        )
        assert hook.count("Lead", lookup_filter("LeadSourceId", None)) == sum(
            row["LeadSourceId"] in (None, EMPTY_GUID) for row in stored
        )


def test_string_literals_with_quotes_are_accepted_by_the_server(sb):
    with make_hook() as hook:
        assert hook.count("Lead", "LeadName eq " + odata_literal("O'Brien & Co / Ltd")) == 0


def test_local_time_labelled_z_is_taken_as_labelled_and_paging_still_holds(sb):
    # A stand that writes local time with a Z (reference §3.7) shifts every value
    # and every filter alike; the client cannot tell, so it reads what it is told.
    clean = read_by_id("Lead", ["LeadName"])
    sb.admin.set_quirks(clock_offset_minutes=180)
    shifted = read_by_id("Lead", ["LeadName"])
    assert shifted.keys() == clean.keys()
    for row_id, row in shifted.items():
        assert row["ModifiedOn"] - clean[row_id]["ModifiedOn"] == dt.timedelta(hours=3)


_TICK_RANGE = (
    ODataTimestamp.parse("0001-01-01T00:00:00.0000000Z").ticks,
    ODataTimestamp.parse("9999-12-31T23:59:59.9999999Z").ticks,
)


@given(st.integers(*_TICK_RANGE), st.integers(*_TICK_RANGE))
def test_canonical_timestamps_sort_as_text_in_time_order(a, b):
    """The paging compares ModifiedOn as text; that is only sound if text order is time order."""
    text_a, text_b = ODataTimestamp(a).literal(), ODataTimestamp(b).literal()
    assert canonical_timestamp(text_a) == text_a  # Creatio's own form is kept as sent
    assert (text_a < text_b) == (a < b) and (text_a == text_b) == (a == b)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("2024-06-17T18:28:32.0000001+03:00", "2024-06-17T15:28:32.0000001Z"),
        ("2024-06-17T15:28:32Z", "2024-06-17T15:28:32.0000000Z"),
        ("2024-06-17T15:28:32.5Z", "2024-06-17T15:28:32.5000000Z"),
    ],
)
def test_other_spellings_are_rewritten_to_creatio_form(raw, canonical):
    assert canonical_timestamp(raw) == canonical


@pytest.mark.parametrize("raw", ["2024-06-17", None, "2024-06-17T15:28:32.7013964Z'; drop"])
def test_what_is_no_timestamp_is_refused_by_canonical_timestamp(raw):
    with pytest.raises(ValueError):
        canonical_timestamp(raw)
