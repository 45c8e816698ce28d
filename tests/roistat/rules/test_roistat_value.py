"""The roistat column: visit number, nocookie, empty, channel marker or invalid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roistat.rules import RoistatKind, RoistatValue, classify_roistat_value

VISIT = RoistatKind.VISIT
INVALID = RoistatValue(RoistatKind.INVALID)
EMPTY = RoistatValue(RoistatKind.EMPTY)


def visit(number: int) -> RoistatValue:
    return RoistatValue(VISIT, visit_id=number)


def marker(text: str) -> RoistatValue:
    return RoistatValue(RoistatKind.MARKER, marker=text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("123456", visit(123456), id="digits"),
        pytest.param("  123456\n", visit(123456), id="trimmed"),
        pytest.param("12 34 56", visit(123456), id="spaces"),
        pytest.param("12\u00a034\u00a056", visit(123456), id="no-break-spaces"),
        pytest.param("12\u202f34\u200956", visit(123456), id="narrow-and-thin-spaces"),
        pytest.param("12\t3456", visit(123456), id="tab"),
        pytest.param("12-34-56", visit(123456), id="hyphens"),
        pytest.param("12\u201334\u201456", visit(123456), id="en-and-em-dash"),
        pytest.param("12\u221234\u201056", visit(123456), id="minus-sign-and-hyphen"),
        pytest.param("12\u201134\ufe6356\uff0d7", visit(1234567), id="other-unicode-dashes"),
        pytest.param("- 123", visit(123), id="leading-dash"),
        pytest.param("\u200b123\u200b456\ufeff", visit(123456), id="zero-width-spaces"),
        pytest.param("\u200e123456\u200f", visit(123456), id="bidi-marks"),
        pytest.param("007", visit(7), id="leading-zeros-dropped"),
        pytest.param("１２３", visit(123), id="fullwidth-digits"),
        pytest.param("١٢٣", visit(123), id="arabic-indic-digits"),
        pytest.param("9223372036854775807", visit(2**63 - 1), id="bigint-max"),
        pytest.param("1", visit(1), id="one"),
        pytest.param(123456, visit(123456), id="json-integer"),
        pytest.param(
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9", visit(1234567890123456789), id="spaced-out"
        ),
    ],
)
def test_digits_are_a_visit_number(raw: object, expected: RoistatValue) -> None:
    assert classify_roistat_value(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="null"),
        pytest.param("", id="empty-string"),
        pytest.param("   ", id="spaces"),
        pytest.param("\u00a0\u202f\u3000", id="unicode-spaces"),
        pytest.param("\t\r\n", id="control-whitespace"),
        pytest.param("\u200b\ufeff", id="invisible-only"),
    ],
)
def test_blank_is_empty(raw: object) -> None:
    assert classify_roistat_value(raw) == EMPTY


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("nocookie", id="lowercase"),
        pytest.param("NOCOOKIE", id="uppercase"),
        pytest.param(" NoCookie\u00a0", id="mixed-case-trimmed"),
    ],
)
def test_nocookie_is_the_tracker_placeholder(raw: str) -> None:
    assert classify_roistat_value(raw) == RoistatValue(RoistatKind.NOCOOKIE)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        pytest.param("offline_expo", "offline_expo", id="underscore"),
        pytest.param("radio", "radio", id="one-word"),
        pytest.param("Radio ", "radio", id="lowercased-trimmed"),
        pytest.param("выставка_2024", "выставка_2024", id="cyrillic-with-year"),
        pytest.param("Выставка-2024.весна", "выставка-2024.весна", id="hyphen-and-dot"),
        pytest.param("google_cpc_brand", "google_cpc_brand", id="roistat-style"),
        pytest.param("сарафанное  радио", "сарафанное радио", id="spaces-collapsed"),
        pytest.param("сарафанное\u00a0радио", "сарафанное радио", id="no-break-space"),
        pytest.param("й", "й", id="precomposed"),
        pytest.param("и\u0306", "й", id="combining-mark-nfc"),
        pytest.param("x" * 32, "x" * 32, id="thirty-two-chars"),
        pytest.param("холодный звонок менеджеру", "холодный звонок менеджеру", id="three-words"),
        pytest.param("ΕΚΘΕΣΗ", "εκθεση", id="greek"),
    ],
)
def test_short_text_is_a_marker(raw: str, text: str) -> None:
    assert classify_roistat_value(raw) == marker(text)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("{visit}", id="unfilled-template"),
        pytest.param("{roistat_visit}", id="unfilled-template-long"),
        pytest.param("abc123!", id="mixed-junk"),
        pytest.param("abc123", id="letters-and-digits-in-one-word"),
        pytest.param("12З45", id="cyrillic-ze-for-three"),
        pytest.param("I2345", id="letter-i-for-one"),
        pytest.param("O12345", id="letter-o-for-zero"),
        pytest.param("Промокод 12345", id="label-and-number"),
        pytest.param("выставка 2024", id="digits-after-a-space"),
        pytest.param("2024_выставка", id="starts-with-digits"),
        pytest.param("123.456", id="decimal-point"),
        pytest.param("123/456", id="slash"),
        pytest.param("#123456", id="hash"),
        pytest.param("№123456", id="numero-sign"),
        pytest.param("+7 916 123-45-67", id="phone-with-plus"),
        pytest.param("123\n456", id="line-break-inside"),
        pytest.param("123\x00456", id="nul"),
        pytest.param("abc\x07", id="bell"),
        pytest.param("1" * 51, id="fifty-one-digits"),
        pytest.param("x" * 33, id="thirty-three-letters"),
        pytest.param("пожалуйста перезвоните после обеда", id="four-words-a-note"),
        pytest.param(
            "пожалуйста перезвоните после обеда в любой рабочий", id="sentence-fifty-chars"
        ),
        pytest.param("x" * 51, id="fifty-one-letters"),
        pytest.param("я" * 10_000, id="ten-thousand-chars"),
        pytest.param("0", id="zero"),
        pytest.param("000", id="zeros"),
        pytest.param("9223372036854775808", id="above-bigint"),
        pytest.param("---", id="dashes-only"),
        pytest.param("a__b", id="double-joiner"),
        pytest.param("_offline", id="leading-joiner"),
        pytest.param("offline_", id="trailing-joiner"),
        pytest.param("a _b", id="space-then-joiner"),
        pytest.param("no cookie!", id="punctuation"),
        pytest.param("🎉", id="emoji"),
        pytest.param("²³", id="superscript-digits"),
        pytest.param("\u0301abc", id="leading-combining-mark"),
        pytest.param(True, id="boolean"),
        pytest.param(12.5, id="float"),
        pytest.param({"visit": 1}, id="object"),
        pytest.param("\ud800", id="lone-surrogate"),
    ],
)
def test_anything_else_is_invalid(raw: object) -> None:
    assert classify_roistat_value(raw) == INVALID


_SEPARATORS = st.sampled_from([" ", "\u00a0", "\u202f", "\t", "-", "\u2013", "\u2212", "\u200b"])


@given(
    number=st.integers(min_value=1, max_value=2**63 - 1),
    separators=st.lists(st.tuples(st.integers(min_value=0), _SEPARATORS), max_size=20),
)
def test_digits_with_any_spaces_or_dashes_are_that_visit(
    number: int, separators: list[tuple[int, str]]
) -> None:
    text = str(number)
    for position, separator in separators:
        at = position % (len(text) + 1)
        text = text[:at] + separator + text[at:]

    # The column is 50 characters wide; blank characters at the ends do not count.
    kept = text.strip(" \u00a0\u202f\t\u200b")
    expected = visit(number) if len(kept) <= 50 else INVALID

    assert classify_roistat_value(text) == expected


@given(st.text(max_size=80))
def test_any_text_classifies_without_raising(raw: str) -> None:
    result = classify_roistat_value(raw)

    assert result.kind in set(RoistatKind)
    assert (result.visit_id is not None) == (result.kind is VISIT)
    assert (result.marker is not None) == (result.kind is RoistatKind.MARKER)
    if result.kind is VISIT:
        assert 1 <= result.visit_id <= 2**63 - 1
    if result.kind is RoistatKind.MARKER:
        assert result.marker[0].isalpha()
        assert result.marker == result.marker.lower()
