"""Read money amounts and map a deal's revenue, first cost and profit.

Amounts arrive as JSON numbers (integers, or `Decimal` for numbers with a
fraction or exponent, as the hook parses them) or as text typed by people:
`1 234,56`, `1,234.56`, `1.234,56 ₽`, `$-99.90`. They become exact `Decimal`
values, never floats; blank is None (NULL), never zero; a value that cannot be
read one way only raises `MoneyValueError` and the record is rejected.

Text is read by these rules:

- one currency mark may stand before or after the number and is dropped
  without conversion: `₽`, `р`, `р.`, `руб`, `руб.`, `RUB`, `RUR`, `$`, `US$`,
  `USD`, `€`, `EUR` (any case); a leading `-`, `−` (minus sign) or `+` may
  stand before or after a leading currency mark;
- digits may be grouped by thousands with spaces (including no-break, narrow
  no-break and thin spaces), apostrophes, commas or points; groups after the
  first have exactly three digits;
- when both `,` and `.` appear, the last one is the decimal separator; when
  spaces or apostrophes group the digits, a single `,` or `.` is decimal; a
  separator that appears twice or more with nothing else groups thousands;
- a lone `,` or `.` followed by exactly three digits after one to three
  digits (`1,234`, `12.500`) is refused as ambiguous: it reads as 1234 in one
  convention and 1.234 in the other. `0,125`, `1234,567` and `1,23` are not
  ambiguous and are read as decimals;
- exponents, parentheses, several numbers, letters and other characters are
  refused.

Any amount may carry at most 8 decimal places (Creatio's finest decimal
column) and 16 integer digits (Creatio's money columns are decimal(18, 2)):
more is refused, never rounded. Results have a canonical scale, the exact
value with at least two decimal places and no trailing zeros beyond them
(`1500` → `1500.00`, `1.2300` → `1.23`, `0.125` stays), so one amount always
loads as the same `numeric` whatever form it came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

from roistat.rules.rule_errors import MissingColumnError, MoneyValueError, UnknownEntityError

MAX_DECIMAL_PLACES = 8
MAX_INTEGER_DIGITS = 16

STANDARD_REVENUE_COLUMNS: Mapping[str, str] = {"lead": "Budget", "order": "Amount"}

# Longest first, so `руб.` is taken whole rather than as `р`.
_CURRENCY_MARKS = tuple(
    sorted(
        ("₽", "р", "р.", "руб", "руб.", "rub", "rur", "$", "us$", "usd", "€", "eur"),
        key=len,
        reverse=True,
    )
)
_SIGNS = {"-": -1, "\u2212": -1, "+": 1}
_SPACE_GROUPERS = frozenset(" \u00a0\u202f\u2009")
_APOSTROPHES = frozenset("'\u2019")
_DIGITS = frozenset("0123456789")
_NUMBER_CHARS = _DIGITS | _SPACE_GROUPERS | _APOSTROPHES | frozenset(",.")
_CENTS = Decimal("0.01")
_MAX_TEXT_CHARS = 64


class DealMoney(NamedTuple):
    """A deal's revenue, first cost and profit; None where unknown."""

    revenue: Decimal | None
    first_cost: Decimal | None
    profit: Decimal | None


def parse_money(value: object) -> Decimal | None:
    """Return a money amount as an exact Decimal, or None when it is blank.

    Accepts int, Decimal, float (read through its shortest repr, so 0.1 is
    0.1) and text as the module docstring describes. Raises MoneyValueError
    with the reason for anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise MoneyValueError(value, "a boolean is not an amount")
    if isinstance(value, int):
        return _canonical(value, Decimal(value))
    if isinstance(value, float):
        return _canonical(value, Decimal(repr(value)))
    if isinstance(value, Decimal):
        return _canonical(value, value)
    if isinstance(value, str):
        return _parse_money_text(value)
    raise MoneyValueError(value, f"expected a number or text, got {type(value).__name__}")


def map_deal_money(
    entity: str,
    row: Mapping[str, object],
    *,
    revenue_field: str | None = None,
    first_cost_field: str | None = None,
    profit_field: str | None = None,
) -> DealMoney:
    """Return a deal's revenue, first cost and profit from its CRM row.

    Revenue comes from `revenue_field`, or from the entity's standard amount
    (Lead `Budget`, Order `Amount`) when it is None. First cost and profit come
    from their columns; when only one is configured the other is derived,
    profit = revenue - first cost or first cost = revenue - profit, and is
    None when either operand is None; when neither is configured both are
    None; when both are, each is read as is and nothing is derived.

    Raises MoneyValueError naming the column for a value that cannot be read,
    MissingColumnError when a configured column is not in the row, and
    UnknownEntityError for an entity other than `lead` or `order`.
    """
    if entity not in STANDARD_REVENUE_COLUMNS:
        raise UnknownEntityError(f"unknown entity {entity!r}: expected 'lead' or 'order'")

    revenue = _read_column(row, revenue_field or STANDARD_REVENUE_COLUMNS[entity])
    first_cost = _read_column(row, first_cost_field) if first_cost_field else None
    profit = _read_column(row, profit_field) if profit_field else None

    if first_cost_field and not profit_field:
        profit = _difference(revenue, first_cost, "profit")
    elif profit_field and not first_cost_field:
        first_cost = _difference(revenue, profit, "first cost")
    return DealMoney(revenue, first_cost, profit)


def _read_column(row: Mapping[str, object], column: str) -> Decimal | None:
    """Parse one money column of a row, naming the column in any error."""
    if column not in row:
        raise MissingColumnError(column)
    raw = row[column]
    try:
        return parse_money(raw)
    except MoneyValueError as exc:
        raise MoneyValueError(raw, exc.reason, column=column) from None


def _difference(revenue: Decimal | None, known: Decimal | None, derived: str) -> Decimal | None:
    """Return revenue minus the known amount, or None when either is unknown."""
    if revenue is None or known is None:
        return None
    try:
        return _canonical(revenue - known, revenue - known)
    except MoneyValueError as exc:
        raise MoneyValueError(f"{revenue} - {known}", f"derived {derived}: {exc.reason}") from None


def _canonical(raw: object, amount: Decimal) -> Decimal:
    """Return an amount at its canonical scale, refusing non-finite, huge or over-precise ones."""
    if not amount.is_finite():
        raise MoneyValueError(raw, "not a finite number")
    if amount.is_zero():
        # Also turns -0 and 0E+5 into one value.
        return Decimal("0.00")
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise MoneyValueError(raw, f"more than {MAX_INTEGER_DIGITS} integer digits")

    reduced = amount.normalize()
    exponent = int(reduced.as_tuple().exponent)
    if exponent < -MAX_DECIMAL_PLACES:
        raise MoneyValueError(
            raw, f"more than {MAX_DECIMAL_PLACES} decimal places; refusing to round"
        )
    return reduced if exponent <= -2 else reduced.quantize(_CENTS)


def _parse_money_text(raw: str) -> Decimal | None:
    """Return the amount a text spells, or None when it is blank."""
    text = raw.strip()
    if not text:
        return None
    if len(text) > _MAX_TEXT_CHARS:
        raise MoneyValueError(raw, f"longer than {_MAX_TEXT_CHARS} characters for an amount")

    sign, body = _strip_sign_and_currency(raw, text)
    if not body:
        raise MoneyValueError(raw, "no digits")
    if body[0] in _SIGNS:
        raise MoneyValueError(raw, "more than one sign")
    for char in body:
        if char not in _NUMBER_CHARS:
            raise MoneyValueError(raw, f"unexpected character {char!r}")

    integer, fraction = _split_number(raw, body)
    amount = Decimal(f"{'-' if sign < 0 else ''}{integer or '0'}.{fraction or '0'}")
    return _canonical(raw, amount)


def _strip_sign_and_currency(raw: str, text: str) -> tuple[int, str]:
    """Remove the sign and currency marks around the number; return the sign and the rest."""
    sign = 1
    seen_sign = seen_currency = False
    while True:
        if not seen_sign and text[:1] in _SIGNS:
            sign, seen_sign = _SIGNS[text[0]], True
            text = text[1:].lstrip()
            continue
        mark = _leading_mark(text)
        if mark and not seen_currency:
            seen_currency = True
            text = text[len(mark) :].lstrip()
            continue
        break

    mark = _trailing_mark(text)
    if mark:
        if seen_currency:
            raise MoneyValueError(raw, "more than one currency mark")
        text = text[: -len(mark)].rstrip()
    if text[-1:] in _SIGNS:
        raise MoneyValueError(raw, "a sign after the number")
    return sign, text


def _leading_mark(text: str) -> str:
    """Return the currency mark the text starts with, or an empty string."""
    folded = text.casefold()
    for mark in _CURRENCY_MARKS:
        if folded.startswith(mark) and not folded[len(mark) : len(mark) + 1].isalpha():
            return text[: len(mark)]
    return ""


def _trailing_mark(text: str) -> str:
    """Return the currency mark the text ends with, or an empty string."""
    folded = text.casefold()
    for mark in _CURRENCY_MARKS:
        before = folded[-len(mark) - 1 : -len(mark)]
        if folded.endswith(mark) and not before.isalpha():
            return text[-len(mark) :]
    return ""


def _split_number(raw: str, body: str) -> tuple[str, str]:
    """Split a number's text into integer and fraction digits, checking its grouping."""
    commas, points = body.count(","), body.count(".")
    spaced = any(char in _SPACE_GROUPERS for char in body)
    apostrophed = any(char in _APOSTROPHES for char in body)
    if spaced and apostrophed:
        raise MoneyValueError(raw, "digits grouped by both spaces and apostrophes")

    decimal_mark: str | None
    if commas and points:
        decimal_mark = "," if body.rfind(",") > body.rfind(".") else "."
    elif commas + points == 1:
        decimal_mark = "," if commas else "."
    elif commas + points > 1 and (spaced or apostrophed):
        raise MoneyValueError(raw, "more than one decimal separator")
    else:
        # No separator at all, or one kind repeated with nothing else: thousands.
        decimal_mark = None

    integer_text, fraction = body, ""
    if decimal_mark is not None:
        if body.count(decimal_mark) > 1:
            raise MoneyValueError(raw, "more than one decimal separator")
        integer_text, fraction = body.split(decimal_mark)
        if not fraction:
            raise MoneyValueError(raw, "nothing after the decimal separator")
        if any(char not in _DIGITS for char in fraction):
            raise MoneyValueError(raw, "separators after the decimal separator")

    groupers = {char for char in integer_text if char not in _DIGITS}
    if len(groupers - _SPACE_GROUPERS) > 1 or (
        groupers & _SPACE_GROUPERS and groupers - _SPACE_GROUPERS
    ):
        raise MoneyValueError(raw, "digits grouped by more than one kind of separator")
    integer = _ungroup(raw, integer_text, groupers)

    if (
        decimal_mark is not None
        and not groupers
        and not spaced
        and not apostrophed
        and commas + points == 1
        and len(fraction) == 3
        and 1 <= len(integer) <= 3
        and integer[0] != "0"
    ):
        raise MoneyValueError(
            raw,
            f"ambiguous: reads as {integer}{fraction} if {decimal_mark!r} groups thousands "
            f"or as {integer}.{fraction} if it marks decimals",
        )
    return integer, fraction


def _ungroup(raw: str, integer_text: str, groupers: set[str]) -> str:
    """Return the integer digits with thousands separators removed, checking the groups."""
    if not groupers:
        return integer_text

    groups = integer_text
    for grouper in groupers:
        groups = groups.replace(grouper, " ")
    parts = groups.split(" ")
    if not 1 <= len(parts[0]) <= 3 or any(len(part) != 3 for part in parts[1:]):
        raise MoneyValueError(raw, "digits are not grouped by thousands: several numbers or a typo")
    return "".join(parts)
