"""Date-times, lookup ids and display text from the CRM."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from roistat.errors import RoistatError
from roistat.rules import (
    CleanedText,
    CrmValueError,
    DateValueError,
    LookupIdError,
    TextValueError,
    clean_text,
    parse_crm_datetime,
    parse_lookup_id,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "2024-06-17T15:28:32.7013964Z",
            datetime(2024, 6, 17, 15, 28, 32, 701396, tzinfo=UTC),
            id="creatio-seven-digit-fraction-truncated",
        ),
        pytest.param(
            "2024-06-17T15:28:32.9999999Z",
            datetime(2024, 6, 17, 15, 28, 32, 999999, tzinfo=UTC),
            id="fraction-truncated-not-rounded-up",
        ),
        pytest.param(
            "2024-06-17T15:28:32Z",
            datetime(2024, 6, 17, 15, 28, 32, tzinfo=UTC),
            id="no-fraction",
        ),
        pytest.param(
            "2024-06-17T15:28:32.5Z",
            datetime(2024, 6, 17, 15, 28, 32, 500000, tzinfo=UTC),
            id="one-digit-fraction",
        ),
        pytest.param(
            "2024-06-17T18:28:32.123+03:00",
            datetime(2024, 6, 17, 15, 28, 32, 123000, tzinfo=UTC),
            id="moscow-offset",
        ),
        pytest.param(
            "2024-06-17T10:28:32-05:00",
            datetime(2024, 6, 17, 15, 28, 32, tzinfo=UTC),
            id="negative-offset",
        ),
        pytest.param(
            "2024-06-17T20:58:32+0530",
            datetime(2024, 6, 17, 15, 28, 32, tzinfo=UTC),
            id="offset-without-colon",
        ),
        pytest.param(
            "2024-01-01T01:00:00+03:00",
            datetime(2023, 12, 31, 22, 0, tzinfo=UTC),
            id="offset-crosses-year",
        ),
        pytest.param(
            "2024-06-17 15:28:32z",
            datetime(2024, 6, 17, 15, 28, 32, tzinfo=UTC),
            id="space-separator-lowercase-z",
        ),
        pytest.param(
            "2024-02-29T00:00:00Z",
            datetime(2024, 2, 29, tzinfo=UTC),
            id="leap-day",
        ),
        pytest.param(
            "9999-12-31T23:59:59.9999999Z",
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            id="dotnet-max-value",
        ),
        pytest.param(
            datetime(2024, 6, 17, 18, 0, tzinfo=timezone(timedelta(hours=3))),
            datetime(2024, 6, 17, 15, 0, tzinfo=UTC),
            id="aware-datetime-object",
        ),
    ],
)
def test_parse_crm_datetime_reads_zoned_iso_values(raw: object, expected: datetime) -> None:
    parsed = parse_crm_datetime(raw)

    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="blank"),
        pytest.param(None, "got NoneType", id="null"),
        pytest.param(1718638112, "got int", id="unix-seconds"),
        pytest.param("2024-06-17T15:28:32", "no time zone", id="zone-less"),
        pytest.param("2024-06-17T15:28:32.7013964", "no time zone", id="zone-less-fraction"),
        pytest.param("2024-06-17", "not an ISO 8601", id="date-only"),
        pytest.param("17.06.2024 15:28", "not an ISO 8601", id="russian-format"),
        pytest.param("2024-06-17T15:28Z", "not an ISO 8601", id="no-seconds"),
        pytest.param("2024-06-17T15:28:32.Z", "not an ISO 8601", id="dot-without-digits"),
        pytest.param("2024-06-17T15:28:32.1234567890Z", "not an ISO 8601", id="ten-digit-fraction"),
        pytest.param(" 2024-06-17T15:28:32Z", "not an ISO 8601", id="leading-space"),
        pytest.param("2024-06-17T15:28:32Z\n", "not an ISO 8601", id="trailing-newline"),
        pytest.param("2024-02-30T00:00:00Z", "day is out of range", id="february-30"),
        pytest.param("2024-13-01T00:00:00Z", "month must be in 1..12", id="month-13"),
        pytest.param("2024-06-17T24:00:00Z", "hour must be in 0..23", id="hour-24"),
        pytest.param("2016-12-31T23:59:60Z", "second must be in 0..59", id="leap-second"),
        pytest.param("0000-01-01T00:00:00Z", "year 0 is out of range", id="year-zero"),
        pytest.param("2024-06-17T15:28:32+24:00", "offset +24:00 is out of range", id="offset-24h"),
        pytest.param("2024-06-17T15:28:32+03:60", "out of range", id="offset-60-minutes"),
        pytest.param("0001-01-01T00:00:00Z", "DateTime.MinValue", id="dotnet-min-value"),
        pytest.param("0001-01-01T00:00:00+03:00", "DateTime.MinValue", id="min-value-offset"),
        pytest.param(
            "9999-12-31T23:00:00-03:00", "out of range once converted", id="overflows-past-9999"
        ),
        pytest.param("２０２４-06-17T15:28:32Z", "not an ISO 8601", id="fullwidth-digits"),
        pytest.param("garbage", "not an ISO 8601", id="garbage"),
        pytest.param(datetime(2024, 6, 17), "no time zone", id="naive-datetime-object"),
    ],
)
def test_parse_crm_datetime_refuses_with_a_reason(raw: object, reason: str) -> None:
    with pytest.raises(DateValueError, match=re.escape(reason)) as caught:
        parse_crm_datetime(raw)

    assert caught.value.value is raw
    assert isinstance(caught.value, CrmValueError)
    assert isinstance(caught.value, RoistatError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            "1f3ad326-effd-4ac3-a3e2-957e7def3684",
            "1f3ad326-effd-4ac3-a3e2-957e7def3684",
            id="lowercase",
        ),
        pytest.param(
            "1F3AD326-EFFD-4AC3-A3E2-957E7DEF3684",
            "1f3ad326-effd-4ac3-a3e2-957e7def3684",
            id="uppercase-lowered",
        ),
        pytest.param(
            "1F3ad326-EFFD-4ac3-A3E2-957e7DEF3684",
            "1f3ad326-effd-4ac3-a3e2-957e7def3684",
            id="mixed-case",
        ),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty-string"),
        pytest.param("00000000-0000-0000-0000-000000000000", None, id="all-zero-guid"),
    ],
)
def test_parse_lookup_id_canonicalizes(raw: object, expected: str | None) -> None:
    assert parse_lookup_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("1f3ad326effd4ac3a3e2957e7def3684", "not a GUID", id="no-hyphens"),
        pytest.param("{1f3ad326-effd-4ac3-a3e2-957e7def3684}", "not a GUID", id="braces"),
        pytest.param(" 1f3ad326-effd-4ac3-a3e2-957e7def3684", "not a GUID", id="leading-space"),
        pytest.param("1f3ad326-effd-4ac3-a3e2-957e7def3684\n", "not a GUID", id="trailing-newline"),
        pytest.param("1f3ad326-effd-4ac3-a3e2-957e7def368", "not a GUID", id="too-short"),
        pytest.param("1f3ad326-effd-4ac3-a3e2-957e7def3684a", "not a GUID", id="too-long"),
        pytest.param("gf3ad326-effd-4ac3-a3e2-957e7def3684", "not a GUID", id="non-hex"),
        pytest.param("１f3ad326-effd-4ac3-a3e2-957e7def3684", "not a GUID", id="fullwidth-digit"),
        pytest.param("Qualification", "not a GUID", id="a-name"),
        pytest.param(0, "got int", id="integer-zero"),
        pytest.param({"Id": "1f3ad326-effd-4ac3-a3e2-957e7def3684"}, "got dict", id="expanded"),
    ],
)
def test_parse_lookup_id_refuses_malformed(raw: object, reason: str) -> None:
    with pytest.raises(LookupIdError, match=re.escape(reason)):
        parse_lookup_id(raw)


@pytest.mark.parametrize(
    ("raw", "max_len", "expected"),
    [
        pytest.param(None, None, CleanedText(None, ()), id="null-stays-null"),
        pytest.param("", None, CleanedText("", ()), id="empty-stays-empty"),
        pytest.param("Заявка с сайта", None, CleanedText("Заявка с сайта", ()), id="cyrillic"),
        pytest.param(
            "a\x00b\x00", None, CleanedText("ab", ("removed 2 NUL character(s)",)), id="nul-removed"
        ),
        pytest.param(
            "a\x01\x1f\x7f\x9fb", None, CleanedText("a\x01\x1f\x7f\x9fb", ()), id="controls-kept"
        ),
        pytest.param(
            "\u202eabc\u200f", None, CleanedText("\u202eabc\u200f", ()), id="bidi-marks-kept"
        ),
        pytest.param("ok 👍🏽", None, CleanedText("ok 👍🏽", ()), id="emoji-kept"),
        pytest.param("e\u0301", None, CleanedText("e\u0301", ()), id="combining-not-normalized"),
        pytest.param("abcdef", 4, CleanedText("abcd", ("cut from 6 to 4 characters",)), id="cut"),
        pytest.param("abcd", 4, CleanedText("abcd", ()), id="exactly-max"),
        pytest.param(
            "a\x00bcde",
            4,
            CleanedText("abcd", ("removed 1 NUL character(s)", "cut from 5 to 4 characters")),
            id="nul-then-cut",
        ),
    ],
)
def test_clean_text_keeps_what_postgres_can_hold(
    raw: object, max_len: int | None, expected: CleanedText
) -> None:
    assert clean_text(raw, max_len) == expected


def test_clean_text_keeps_a_long_title_whole_without_a_limit() -> None:
    title = "я" * 10_000

    assert clean_text(title) == CleanedText(title, ())


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("ab\ud800", "surrogate U+D800 at position 2", id="lone-high-surrogate"),
        pytest.param("\udfff", "surrogate U+DFFF at position 0", id="lone-low-surrogate"),
        pytest.param("\udc00\ud800", "surrogate U+DC00", id="reversed-pair"),
        pytest.param(42, "got int", id="number"),
        pytest.param(b"bytes", "got bytes", id="bytes"),
    ],
)
def test_clean_text_refuses_what_utf8_cannot_carry(raw: object, reason: str) -> None:
    with pytest.raises(TextValueError, match=re.escape(reason)):
        clean_text(raw)


def test_clean_text_refuses_a_nonsense_limit() -> None:
    with pytest.raises(ValueError, match="max_len"):
        clean_text("abc", 0)


def test_error_message_names_column_and_shortens_value() -> None:
    error = CrmValueError("x" * 500, "too long", column="LeadName")

    assert str(error).startswith("column 'LeadName': too long (value 'xxxx")
    assert "(500 characters)" in str(error)
    assert len(str(error)) < 150
