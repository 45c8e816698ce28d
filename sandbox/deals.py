"""Build one lead or order row: the values a real site accumulates over time.

Everything comes from the `random.Random` handed in, so the same seed gives the
same rows. The mix follows DESIGN.md §4: the roistat column holds visit numbers,
numbers typed by hand with spaces and dashes, `nocookie`, blanks, offline markers
and junk; money is mostly set, sometimes blank, now and then zero.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import Any, TypeVar

from sandbox import vocabulary as words
from sandbox.catalog import (
    CONTACTS,
    EMPTY_GUID,
    LEAD_SOURCES,
    ORDER_COMPLETED,
    ORDER_IN_PROGRESS,
    ORDER_STATUSES,
    QUALIFY_STATUSES,
)
from sandbox.ticks import TICKS_PER_DAY, TICKS_PER_MINUTE, TICKS_PER_SECOND

T = TypeVar("T")

# Visit numbers grow with time, one id per 10 s of site traffic, as a tracker's
# counter does; the date of a visit follows from its number.
VISIT_ID_BASE = 1_000_000
VISIT_STEP = 10 * TICKS_PER_SECOND

CONTACT_IDS = tuple(c[0] for c in CONTACTS)
_QUALIFY = tuple(s.id for s in QUALIFY_STATUSES)
_QUALIFY_CUM = tuple(accumulate(s.weight for s in QUALIFY_STATUSES))
_ORDER = tuple(s.id for s in ORDER_STATUSES)
_ORDER_CUM = tuple(accumulate(s.weight for s in ORDER_STATUSES))
_BRANDS = tuple(b for b, _ in words.BRANDS)
_BRANDS_CUM = tuple(accumulate(w for _, w in words.BRANDS))
_SOURCE_MEDIUM = {source_id: medium_id for source_id, _, medium_id in LEAD_SOURCES}
_SOURCES = tuple(_SOURCE_MEDIUM)


class DrawRandom(random.Random):
    """`random.Random` with cheaper draws: the generator makes millions of them.

    `choice` and `randrange` scale one `random()` float instead of rejection
    sampling; the bias (under 2**-40 for these ranges) does not matter here.
    """

    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if step != 1:
            return super().randrange(start, stop, step)
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))

    def weighted(self, seq: Sequence[T], cum_weights: Sequence[int]) -> T:
        return seq[bisect.bisect(cum_weights, self.random() * cum_weights[-1])]


def new_guid(rng: random.Random) -> str:
    """A version-4 GUID from `rng`, lower-case, as Creatio writes it."""
    text = f"{rng.getrandbits(128):032x}"
    variant = "89ab"[int(text[16], 16) & 3]
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class VisitBook:
    """Visit numbers handed to deals; the visits file is written from it."""

    origin: int
    referenced: set[int] = field(default_factory=set)

    def visit_for(self, at_ticks: int) -> int:
        visit_id = VISIT_ID_BASE + max(0, at_ticks - self.origin) // VISIT_STEP
        self.referenced.add(visit_id)
        return visit_id

    def date_of(self, visit_id: int) -> int:
        jitter = (visit_id * 2_654_435_761) % VISIT_STEP
        return self.origin + (visit_id - VISIT_ID_BASE) * VISIT_STEP + jitter


class DealFactory:
    """Make lead and order rows as dicts keyed by OData property name."""

    def __init__(self, rng: DrawRandom, roistat_column: str, visits: VisitBook) -> None:
        self.rng = rng
        self.roistat_column = roistat_column
        self.visits = visits
        self._order_number = 0

    def lead(self, created: int, modified: int) -> dict[str, Any]:
        rng = self.rng
        cyrillic = rng.random() < 0.65
        company, person = self._company_and_person(cyrillic)
        source = self._lookup_or_empty(_SOURCES, blank=0.20, zero=0.05)
        budget = self._amount(blank=0.25, zero=0.05)
        medium = _SOURCE_MEDIUM.get(source) if source and source != EMPTY_GUID else None
        return {
            "Id": new_guid(rng),
            "CreatedOn": created,
            "CreatedById": rng.choice(CONTACT_IDS),
            "ModifiedOn": modified,
            "ModifiedById": rng.choice(CONTACT_IDS),
            "ProcessListeners": 0,
            "LeadName": f"{company} / {person.split()[-1]}",
            "QualifyStatusId": rng.weighted(_QUALIFY, _QUALIFY_CUM),
            "Budget": budget,
            "LeadSourceId": source,
            "LeadMediumId": medium,
            "OwnerId": rng.choice(CONTACT_IDS),
            "Contact": person,
            "Account": company,
            "Email": self._email() if rng.random() < 0.7 else "",
            "MobilePhone": self._phone() if rng.random() < 0.7 else "",
            self.roistat_column: self.roistat_value(created),
            "UsrBrand": rng.weighted(_BRANDS, _BRANDS_CUM),
            "UsrRevenueText": self._typed_money(budget),
        }

    def order(self, created: int, modified: int, roistat: str | None = None) -> dict[str, Any]:
        rng = self.rng
        self._order_number += 1
        status = rng.weighted(_ORDER, _ORDER_CUM)
        amount = self._amount(blank=0.15, zero=0.05)
        first_cost, profit = self._cost_and_profit(amount)
        # Order dates are local midnights (UTC+3) stored as UTC, as the UI saves them.
        midnight = (created + 3 * 60 * TICKS_PER_MINUTE) // TICKS_PER_DAY * TICKS_PER_DAY
        return {
            "Id": new_guid(rng),
            "CreatedOn": created,
            "CreatedById": rng.choice(CONTACT_IDS),
            "ModifiedOn": modified,
            "ModifiedById": rng.choice(CONTACT_IDS),
            "ProcessListeners": 0,
            "Number": f"ORD-{self._order_number}",
            "Date": midnight - 3 * 60 * TICKS_PER_MINUTE,
            "StatusId": status,
            "Amount": amount,
            "PaymentAmount": self._payment(status, amount),
            "PrimaryAmount": amount,
            "OwnerId": rng.choice(CONTACT_IDS),
            "Comment": rng.choice(words.ORDER_COMMENTS),
            self.roistat_column: roistat if roistat is not None else self.roistat_value(created),
            "UsrFirstCost": first_cost,
            "UsrProfit": profit,
            "UsrBrand": rng.weighted(_BRANDS, _BRANDS_CUM),
            "UsrRevenueText": self._typed_money(amount),
        }

    def roistat_value(self, created: int) -> str:
        """A value of the roistat column, in the proportions a real site shows."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.69:
            visit_at = created - rng.randrange(TICKS_PER_MINUTE, 14 * TICKS_PER_DAY)
            visit = str(self.visits.visit_for(visit_at))
            if roll < 0.62:
                return visit
            return self._typed_by_hand(visit)
        if roll < 0.76:
            return "nocookie"
        if roll < 0.87:
            return ""
        if roll < 0.93:
            return rng.choice(words.OFFLINE_MARKERS)
        return rng.choice(words.JUNK_VALUES)

    def _typed_by_hand(self, visit: str) -> str:
        # A manager copies the "promo code" from a phone call.
        rng = self.rng
        style = rng.randrange(4)
        if style == 0:
            return " ".join(visit[i : i + 3] for i in range(0, len(visit), 3))
        if style == 1:
            return "-".join(visit[i : i + 2] for i in range(0, len(visit), 2))
        if style == 2:
            return visit[:3] + "\u00a0" + visit[3:]
        return f" {visit} "

    def _typed_money(self, amount: str | None) -> str:
        """The amount as a person types it into a text field, or blank."""
        if amount is None or self.rng.random() < 0.5:
            return ""
        whole, cents = amount.split(".")
        grouped = f"{int(whole):,}"
        style = self.rng.randrange(5)
        if style == 0:
            return f"{grouped.replace(',', ' ')},{cents}"
        if style == 1:
            return f"{grouped.replace(',', chr(0xA0))},{cents}"
        if style == 2:
            return f"{grouped}.{cents}"
        if style == 3:
            return amount
        return whole

    def _company_and_person(self, cyrillic: bool) -> tuple[str, str]:
        rng = self.rng
        if cyrillic:
            person = f"{rng.choice(words.FIRST_NAMES_RU)} {rng.choice(words.SURNAMES_RU)}"
            return rng.choice(words.COMPANIES_RU), person
        person = f"{rng.choice(words.FIRST_NAMES_EN)} {rng.choice(words.SURNAMES_EN)}"
        return rng.choice(words.COMPANIES_EN), person

    def _lookup_or_empty(self, ids: tuple[str, ...], blank: float, zero: float) -> str | None:
        roll = self.rng.random()
        if roll < blank:
            return None
        if roll < blank + zero:
            # Imported rows can carry the all-zero GUID instead of NULL (§3.5).
            return EMPTY_GUID
        return self.rng.choice(ids)

    def _amount(self, blank: float, zero: float) -> str | None:
        roll = self.rng.random()
        if roll < blank:
            return None
        if roll < blank + zero:
            return "0.00"
        if self.rng.random() < 0.5:
            return money(self.rng.randrange(1_000, 500_000) * 100)
        return money(self.rng.randrange(100_000, 50_000_000))

    def _payment(self, status: str, amount: str | None) -> str | None:
        if amount is None:
            return None
        if status == ORDER_COMPLETED:
            return amount
        if status == ORDER_IN_PROGRESS:
            cents = int(Decimal(amount) * 100)
            return money(cents * self.rng.randrange(0, 101) // 100)
        return "0.00"

    def _cost_and_profit(self, amount: str | None) -> tuple[str | None, str | None]:
        if amount is None:
            return None, None
        cents = int(Decimal(amount) * 100)
        cost = cents * self.rng.randrange(30, 81) // 100
        roll = self.rng.random()
        if roll < 0.45:
            return money(cost), money(cents - cost)
        if roll < 0.55:
            return money(cost), None
        if roll < 0.65:
            return None, money(cents - cost)
        return None, None

    def _email(self) -> str:
        rng = self.rng
        return f"{rng.choice(words.LOGINS)}{rng.randrange(1, 999)}@{rng.choice(words.MAIL_DOMAINS)}"

    def _phone(self) -> str:
        n = self.rng.randrange(10**9)
        return f"+7 9{n // 10**7:02d} {n // 10**4 % 1000:03d}-{n // 100 % 100:02d}-{n % 100:02d}"
