"""Row conversion keeps what it cannot parse, so one bad row cannot stop a read."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from roistat.bpmonline_values import RowConverter, convert_row

TYPES = {"CreatedOn": "Edm.DateTimeOffset", "DecisionDate": "Edm.Date", "StatusId": "Edm.Guid"}


def test_good_values_are_converted():
    row = convert_row(
        {
            "@odata.etag": "x",
            "CreatedOn": "2024-06-17T15:28:32.7013964Z",
            "DecisionDate": "2024-06-17",
            "StatusId": "00000000-0000-0000-0000-000000000000",
        },
        TYPES,
    )
    assert row == {
        "CreatedOn": datetime(2024, 6, 17, 15, 28, 32, 701396, tzinfo=timezone.utc),
        "DecisionDate": datetime(2024, 6, 17).date(),
        "StatusId": None,
    }


def test_an_unparseable_datetime_stays_as_text_for_the_rules_to_reject():
    row = convert_row({"CreatedOn": "31.12.2024 10:00", "DecisionDate": "soon"}, TYPES)
    assert row == {"CreatedOn": "31.12.2024 10:00", "DecisionDate": "soon"}


TYPED = {**TYPES, "ModifiedOn": "Edm.DateTimeOffset", "Title": "Edm.String", "Id": "Edm.Guid"}
ZERO = "00000000-0000-0000-0000-000000000000"


def _row(**changes):
    row = {
        "Id": "1f3ad326-effd-4ac3-a3e2-957e7def3684",
        "ModifiedOn": "2024-06-17T15:28:32.0000001Z",
        "CreatedOn": "2024-06-17T18:28:32.5+03:00",
        "DecisionDate": "2024-06-17",
        "StatusId": ZERO,
        "Title": ZERO,
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(_row(), id="as-selected"),
        pytest.param(_row(CreatedOn="31.12.2024 10:00", DecisionDate="soon"), id="unparseable"),
        pytest.param(_row(CreatedOn=None, ModifiedOn="", StatusId=None), id="empty"),
        pytest.param(_row(ModifiedOn="2024-02-30T00:00:00.0000000Z"), id="impossible-date"),
    ],
)
def test_a_read_converts_rows_as_convert_row_does(row):
    """The per-read converter (in place, for rows holding exactly the $select)
    and the general one agree, value for value."""
    expected = convert_row(dict(row), TYPED)
    read = RowConverter(TYPED, columns=list(row))
    assert read(dict(row)) == expected
    # a row with an annotation or an extra column takes the copying road: same result
    assert read({**row, "@odata.etag": "W/1"}) == expected


def test_the_zero_guid_empties_lookups_but_not_text():
    row = convert_row(_row(), TYPED)
    assert row["StatusId"] is None
    assert row["Title"] == ZERO  # a title that happens to read like the empty GUID is a title
    untyped = convert_row({"SomeLookupId": ZERO}, {})
    assert untyped == {"SomeLookupId": None}  # a column the metadata does not type may be a lookup


def test_creatio_and_offset_forms_of_one_instant_convert_alike():
    row = RowConverter(TYPED, columns=["ModifiedOn", "CreatedOn"])(
        {
            "ModifiedOn": "2024-06-17T15:28:32.7013964Z",
            "CreatedOn": "2024-06-17T18:28:32.7013964+03:00",
        }
    )
    assert (
        row["ModifiedOn"]
        == row["CreatedOn"]
        == datetime(2024, 6, 17, 15, 28, 32, 701396, tzinfo=timezone.utc)
    )
