"""Row conversion keeps what it cannot parse, so one bad row cannot stop a read."""

from __future__ import annotations

from datetime import datetime, timezone

from roistat.bpmonline_values import convert_row

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
