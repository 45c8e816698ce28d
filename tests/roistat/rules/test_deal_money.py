"""Money amounts and a deal's revenue, first cost and profit."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roistat.rules import (
    DealMoney,
    MissingColumnError,
    MoneyValueError,
    UnknownEntityError,
    map_deal_money,
    parse_money,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(1500, "1500.00", id="json-integer"),
        pytest.param(0, "0.00", id="zero"),
        pytest.param(-250, "-250.00", id="negative-integer"),
        pytest.param(Decimal("1500.5"), "1500.50", id="json-decimal"),
        pytest.param(Decimal("1234.56"), "1234.56", id="json-decimal-cents"),
        pytest.param(Decimal("1E+3"), "1000.00", id="json-exponent"),
        pytest.param(Decimal("0.125"), "0.125", id="three-places-kept"),
        pytest.param(Decimal("1.23000000"), "1.23", id="trailing-zeros-dropped"),
        pytest.param(Decimal("-0"), "0.00", id="negative-zero"),
        pytest.param(Decimal("0.12345678"), "0.12345678", id="eight-places"),
        pytest.param(Decimal("9999999999999999.99"), "9999999999999999.99", id="creatio-max"),
        pytest.param(0.1, "0.10", id="float-shortest-repr"),
        pytest.param(1234.56, "1234.56", id="float"),
        pytest.param("1500", "1500.00", id="text-integer"),
        pytest.param("1500.00", "1500.00", id="ieee754-compatible-string"),
        pytest.param("1 234,56", "1234.56", id="space-grouped-comma"),
        pytest.param("1\u00a0234,56", "1234.56", id="no-break-space"),
        pytest.param("1\u202f234,56", "1234.56", id="narrow-no-break-space"),
        pytest.param("1\u2009234,56", "1234.56", id="thin-space"),
        pytest.param("1 234 567,8", "1234567.80", id="two-groups"),
        pytest.param("1 234.567", "1234.567", id="space-group-point-decimal"),
        pytest.param("1,234.56", "1234.56", id="comma-grouped"),
        pytest.param("1.234,56", "1234.56", id="point-grouped"),
        pytest.param("1.234.567,89", "1234567.89", id="point-grouped-twice"),
        pytest.param("1,234,567", "1234567.00", id="comma-groups-no-decimals"),
        pytest.param("1.234.567", "1234567.00", id="point-groups-no-decimals"),
        pytest.param("1'234.56", "1234.56", id="swiss-apostrophe"),
        pytest.param("1\u2019234,56", "1234.56", id="typographic-apostrophe"),
        pytest.param("1 234", "1234.00", id="space-grouped-integer"),
        pytest.param("100 200", "100200.00", id="two-groups-are-thousands"),
        pytest.param("1,5", "1.50", id="comma-decimal"),
        pytest.param("1,23", "1.23", id="comma-two-places"),
        pytest.param("0,125", "0.125", id="zero-comma-three-places"),
        pytest.param("0.125", "0.125", id="zero-point-three-places"),
        pytest.param("1234,567", "1234.567", id="four-digits-comma-three"),
        pytest.param("1,2345", "1.2345", id="comma-four-places"),
        pytest.param(".5", "0.50", id="no-integer-digits"),
        pytest.param("007", "7.00", id="leading-zeros"),
        pytest.param("-1 234,56", "-1234.56", id="leading-minus"),
        pytest.param("\u22121 234,56", "-1234.56", id="minus-sign"),
        pytest.param("- 100", "-100.00", id="minus-then-space"),
        pytest.param("+100", "100.00", id="plus"),
        pytest.param("-0,00", "0.00", id="negative-zero-text"),
        pytest.param("1 234,56 ₽", "1234.56", id="ruble-sign-after"),
        pytest.param("₽1 234,56", "1234.56", id="ruble-sign-before"),
        pytest.param("1 234,56 руб.", "1234.56", id="rub-abbreviation"),
        pytest.param("1234 руб", "1234.00", id="rub-no-dot"),
        pytest.param("100р.", "100.00", id="r-dot"),
        pytest.param("100 р", "100.00", id="r"),
        pytest.param("RUB 1 000", "1000.00", id="rub-code-before"),
        pytest.param("1000 rub", "1000.00", id="rub-code-lowercase"),
        pytest.param("1000RUR", "1000.00", id="rur-code"),
        pytest.param("$1,234.56", "1234.56", id="dollar"),
        pytest.param("US$ 99.90", "99.90", id="us-dollar"),
        pytest.param("1,234.56 USD", "1234.56", id="usd-code"),
        pytest.param("€1.234,56", "1234.56", id="euro-before"),
        pytest.param("1.234,56 €", "1234.56", id="euro-after"),
        pytest.param("EUR 10,50", "10.50", id="eur-code"),
        pytest.param("-$99.90", "-99.90", id="sign-then-currency"),
        pytest.param("$-99.90", "-99.90", id="currency-then-sign"),
        pytest.param("  42\t", "42.00", id="trimmed"),
        pytest.param("9999999999999999,99", "9999999999999999.99", id="sixteen-integer-digits"),
    ],
)
def test_parse_money_reads_exact_decimals(raw: object, expected: str) -> None:
    parsed = parse_money(raw)

    assert isinstance(parsed, Decimal)
    # Compare the text: equal value and the canonical scale.
    assert str(parsed) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param("\u00a0\u202f", id="unicode-spaces"),
    ],
)
def test_blank_money_is_null_not_zero(raw: object) -> None:
    assert parse_money(raw) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("1,234", "ambiguous: reads as 1234 if ',' groups thousands", id="comma-1234"),
        pytest.param("1.234", "or as 1.234 if it marks decimals", id="point-1234"),
        pytest.param("12.500", "ambiguous", id="point-12500"),
        pytest.param("999,999", "ambiguous", id="comma-999999"),
        pytest.param("$1,234", "ambiguous", id="ambiguous-with-currency"),
        pytest.param("-1.234", "ambiguous", id="ambiguous-negative"),
        pytest.param("1.234.567,89.5", "more than one decimal separator", id="two-decimal-points"),
        pytest.param("1 234,56,7", "more than one decimal separator", id="spaced-two-commas"),
        pytest.param("1 234.567,89", "more than one kind of separator", id="mixed-groupers"),
        pytest.param("1'234 567", "both spaces and apostrophes", id="space-and-apostrophe"),
        pytest.param("12 34", "not grouped by thousands", id="bad-space-group"),
        pytest.param("1,23,456", "not grouped by thousands", id="lakh-grouping"),
        pytest.param("1234 567", "not grouped by thousands", id="first-group-too-long"),
        pytest.param("1,2.5", "not grouped by thousands", id="short-group-before-decimal"),
        pytest.param("1 234 ,5", "not grouped by thousands", id="space-before-decimal"),
        pytest.param("1,234 56", "separators after the decimal separator", id="space-in-fraction"),
        pytest.param("100.", "nothing after the decimal separator", id="trailing-point"),
        pytest.param("100,", "nothing after the decimal separator", id="trailing-comma"),
        pytest.param("1.123456789", "more than 8 decimal places", id="nine-places"),
        pytest.param(
            Decimal("0.123456789"), "more than 8 decimal places", id="decimal-nine-places"
        ),
        pytest.param(1e-10, "more than 8 decimal places", id="float-tiny"),
        pytest.param("12345678901234567", "more than 16 integer digits", id="seventeen-digits"),
        pytest.param(10**16, "more than 16 integer digits", id="huge-integer"),
        pytest.param(Decimal("1E+99999"), "more than 16 integer digits", id="huge-exponent"),
        pytest.param(1e300, "more than 16 integer digits", id="huge-float"),
        pytest.param(Decimal("NaN"), "not a finite number", id="decimal-nan"),
        pytest.param(Decimal("sNaN"), "not a finite number", id="decimal-signaling-nan"),
        pytest.param(Decimal("-Infinity"), "not a finite number", id="decimal-infinity"),
        pytest.param(float("nan"), "not a finite number", id="float-nan"),
        pytest.param(float("inf"), "not a finite number", id="float-infinity"),
        pytest.param(True, "a boolean is not an amount", id="true"),
        pytest.param(False, "a boolean is not an amount", id="false"),
        pytest.param([100], "got list", id="list"),
        pytest.param({"value": 100}, "got dict", id="object"),
        pytest.param("NaN", "unexpected character 'N'", id="text-nan"),
        pytest.param("Infinity", "unexpected character 'I'", id="text-infinity"),
        pytest.param("1e5", "unexpected character 'e'", id="text-exponent"),
        pytest.param("abc", "unexpected character 'a'", id="letters"),
        pytest.param("100 долларов", "unexpected character", id="currency-word"),
        pytest.param("около 100", "unexpected character", id="about-100"),
        pytest.param("(100)", "unexpected character '('", id="accounting-negative"),
        pytest.param("100-200", "unexpected character '-'", id="range"),
        pytest.param("100 / 200", "unexpected character '/'", id="two-numbers"),
        pytest.param("100\n200", "unexpected character", id="line-break"),
        pytest.param("1\x00000", "unexpected character", id="nul"),
        pytest.param("١٢٣", "unexpected character", id="arabic-indic-digits"),
        pytest.param("100-", "a sign after the number", id="trailing-minus"),
        pytest.param("--100", "more than one sign", id="double-minus"),
        pytest.param("-+100", "more than one sign", id="minus-plus"),
        pytest.param("$100 USD", "more than one currency mark", id="two-currency-marks"),
        pytest.param("$", "no digits", id="currency-only"),
        pytest.param("-", "no digits", id="sign-only"),
        pytest.param("9" * 100, "longer than 64 characters", id="very-long"),
    ],
)
def test_parse_money_refuses_what_it_cannot_read_one_way(raw: object, reason: str) -> None:
    with pytest.raises(MoneyValueError, match=re.escape(reason)) as caught:
        parse_money(raw)

    assert caught.value.value is raw


# Every format the module docstring promises, as (thousands, decimal) marks.
_FORMATS = [
    ("", "."),
    ("", ","),
    (" ", ","),
    ("\u00a0", ","),
    ("\u202f", ","),
    ("\u2009", "."),
    (",", "."),
    (".", ","),
    ("'", "."),
]
_CURRENCIES = ["", "₽", "руб.", "RUB", "$", "USD", "€", "EUR", "р."]


def _format(amount: Decimal, thousands: str, decimal_mark: str) -> str:
    sign = "-" if amount < 0 else ""
    digits = format(abs(amount), "f")
    integer, _, fraction = digits.partition(".")
    groups = []
    while integer:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    text = thousands.join(groups) if thousands else "".join(groups)
    return f"{sign}{text}{decimal_mark}{fraction}" if fraction else f"{sign}{text}"


@given(
    cents=st.integers(min_value=-(10**15), max_value=10**15),
    form=st.sampled_from(_FORMATS),
    currency=st.sampled_from(_CURRENCIES),
    before=st.booleans(),
    space=st.sampled_from(["", " ", "\u00a0"]),
)
def test_any_amount_in_any_supported_format_reads_back_exactly(
    cents: int, form: tuple[str, str], currency: str, before: bool, space: str
) -> None:
    amount = Decimal(cents).scaleb(-2)
    text = _format(amount, *form)
    if currency:
        text = f"{currency}{space}{text}" if before else f"{text}{space}{currency}"

    assert parse_money(text) == amount
    assert str(parse_money(text)).partition(".")[2] == str(amount).partition(".")[2]


@given(
    digits=st.integers(min_value=0, max_value=10**12),
    places=st.integers(min_value=1, max_value=8),
    form=st.sampled_from(_FORMATS),
)
def test_more_places_read_exactly_or_are_refused_as_ambiguous(
    digits: int, places: int, form: tuple[str, str]
) -> None:
    amount = Decimal(digits).scaleb(-places)
    text = _format(amount, *form)

    # Below 1000 no thousands mark is written, so every format looks alike.
    integer = str(digits // 10**places)
    ambiguous = places == 3 and 1 <= len(integer) <= 3 and integer != "0"
    if ambiguous:
        with pytest.raises(MoneyValueError, match="ambiguous"):
            parse_money(text)
    else:
        assert parse_money(text) == amount


@given(st.text(max_size=30))
def test_any_text_is_read_or_refused_never_crashes(raw: str) -> None:
    try:
        parsed = parse_money(raw)
    except MoneyValueError as exc:
        assert exc.reason
    else:
        assert parsed is None or parsed.is_finite()


LEAD = {"Budget": Decimal("1000.00"), "UsrCost": "600", "UsrProfit": "300", "UsrRevenue": None}
ORDER = {"Amount": 2500, "PrimaryAmount": "2 600,00", "UsrCost": "1 000,50", "UsrProfit": ""}


@pytest.mark.parametrize(
    ("entity", "row", "fields", "expected"),
    [
        pytest.param(
            "lead", LEAD, {}, DealMoney(Decimal("1000.00"), None, None), id="lead-standard-budget"
        ),
        pytest.param(
            "order",
            ORDER,
            {},
            DealMoney(Decimal("2500.00"), None, None),
            id="order-standard-amount",
        ),
        pytest.param(
            "order",
            ORDER,
            {"revenue_field": "PrimaryAmount"},
            DealMoney(Decimal("2600.00"), None, None),
            id="custom-revenue-column",
        ),
        pytest.param(
            "lead",
            LEAD,
            {"first_cost_field": "UsrCost"},
            DealMoney(Decimal("1000.00"), Decimal("600.00"), Decimal("400.00")),
            id="profit-derived-from-first-cost",
        ),
        pytest.param(
            "lead",
            LEAD,
            {"profit_field": "UsrProfit"},
            DealMoney(Decimal("1000.00"), Decimal("700.00"), Decimal("300.00")),
            id="first-cost-derived-from-profit",
        ),
        pytest.param(
            "lead",
            LEAD,
            {"first_cost_field": "UsrCost", "profit_field": "UsrProfit"},
            DealMoney(Decimal("1000.00"), Decimal("600.00"), Decimal("300.00")),
            id="both-read-as-is-nothing-derived",
        ),
        pytest.param(
            "lead",
            LEAD,
            {"revenue_field": "UsrRevenue", "first_cost_field": "UsrCost"},
            DealMoney(None, Decimal("600.00"), None),
            id="no-revenue-no-derived-profit",
        ),
        pytest.param(
            "lead",
            LEAD,
            {"revenue_field": "UsrRevenue", "profit_field": "UsrProfit"},
            DealMoney(None, None, Decimal("300.00")),
            id="no-revenue-no-derived-first-cost",
        ),
        pytest.param(
            "order",
            ORDER,
            {"profit_field": "UsrProfit"},
            DealMoney(Decimal("2500.00"), None, None),
            id="blank-profit-no-derived-first-cost",
        ),
        pytest.param(
            "order",
            ORDER,
            {"first_cost_field": "UsrCost"},
            DealMoney(Decimal("2500.00"), Decimal("1000.50"), Decimal("1499.50")),
            id="string-first-cost",
        ),
        pytest.param(
            "lead",
            {"Budget": "100", "UsrCost": "250,5"},
            {"first_cost_field": "UsrCost"},
            DealMoney(Decimal("100.00"), Decimal("250.50"), Decimal("-150.50")),
            id="negative-profit-kept",
        ),
        pytest.param(
            "lead",
            {"Budget": None},
            {},
            DealMoney(None, None, None),
            id="blank-budget-is-null",
        ),
    ],
)
def test_map_deal_money(
    entity: str, row: dict[str, object], fields: dict[str, str], expected: DealMoney
) -> None:
    assert map_deal_money(entity, row, **fields) == expected


def test_map_deal_money_names_the_column_and_value_of_a_bad_amount() -> None:
    row = {"Budget": "1,234", "UsrCost": "100"}

    with pytest.raises(MoneyValueError) as caught:
        map_deal_money("lead", row, first_cost_field="UsrCost")

    assert caught.value.column == "Budget"
    assert str(caught.value).startswith("column 'Budget': ambiguous")
    assert "(value '1,234')" in str(caught.value)


def test_map_deal_money_names_a_bad_first_cost_column() -> None:
    with pytest.raises(MoneyValueError, match="column 'UsrCost': unexpected character 'a'"):
        map_deal_money("order", {"Amount": 1, "UsrCost": "abc"}, first_cost_field="UsrCost")


def test_map_deal_money_refuses_a_derived_amount_too_large_to_store() -> None:
    row = {"Budget": "9999999999999999", "UsrCost": "-9999999999999999"}

    with pytest.raises(MoneyValueError, match="derived profit: more than 16 integer digits"):
        map_deal_money("lead", row, first_cost_field="UsrCost")


def test_map_deal_money_refuses_a_missing_column() -> None:
    with pytest.raises(MissingColumnError, match="'UsrCost' is missing"):
        map_deal_money("lead", {"Budget": 1}, first_cost_field="UsrCost")


def test_map_deal_money_refuses_a_row_without_the_standard_amount() -> None:
    with pytest.raises(MissingColumnError, match="'Amount'"):
        map_deal_money("order", {"Budget": 1})


def test_map_deal_money_refuses_an_unknown_entity() -> None:
    with pytest.raises(UnknownEntityError, match="'opportunity'"):
        map_deal_money("opportunity", {"Amount": 1})
