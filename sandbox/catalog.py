"""The standard lookup rows a fresh Creatio ships with (reference §5.1, §5.2).

Ids are the real ones, so a client keyed on them behaves as on a real site; the
weights say how often generated deals sit in each status.
"""

from __future__ import annotations

from dataclasses import dataclass

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
SUPERVISOR_ID = "410006e1-ca4e-4502-a9ec-e54d922d2c00"


@dataclass(frozen=True)
class QualifyStatusRow:
    id: str
    name: str
    stage_number: int
    is_final: bool
    successful: bool
    weight: int


@dataclass(frozen=True)
class OrderStatusRow:
    id: str
    name: str
    position: int
    final_status: bool
    weight: int


QUALIFY_STATUSES = (
    QualifyStatusRow("d790a45d-03ff-4ddb-9dea-8087722c582c", "Qualification", 1, False, False, 22),
    QualifyStatusRow("14cfc644-e3ed-497e-8279-ed4319bb8093", "Nurturing", 2, False, False, 10),
    QualifyStatusRow(
        "ceb70b3c-985f-4867-ae7c-88f9dd710688", "Handoff to sales", 3, False, False, 9
    ),
    QualifyStatusRow("7a90900b-53b5-4598-92b3-0aee90626c56", "Awaiting sale", 4, False, False, 8),
    QualifyStatusRow("0a0808c5-5415-41f0-bea3-118cc3089959", "Satisfied", 5, True, True, 20),
    QualifyStatusRow("128c3718-771a-4d1e-9035-6fa135ca5f70", "Disqualified", 6, True, False, 14),
    QualifyStatusRow("51adc3ec-3503-4b10-a00b-8be3b0e11f08", "Not interested", 7, True, False, 9),
    QualifyStatusRow(
        "0198bb53-c5da-41a7-98ad-c92a61706867", "Marketing qualified lead", 8, False, False, 3
    ),
    QualifyStatusRow(
        "92154e4b-f095-43fb-91ce-070fb0985c41", "Sales qualified lead", 9, False, False, 3
    ),
    QualifyStatusRow("fb2df0a2-fb55-4fcc-8e46-a8da02c449c8", "Converted", 10, True, True, 1),
    QualifyStatusRow("37a86c0e-4755-4609-baca-fe92ce33577a", "Closed lost", 11, True, False, 1),
)

# Canceled is not flagged final in the shipped data (reference §5.2).
ORDER_STATUSES = (
    OrderStatusRow("1f3ad326-effd-4ac3-a3e2-957e7def3684", "1. Draft", 1, False, 10),
    OrderStatusRow("29fa66e3-ef69-4feb-a5af-ec1de125a614", "2. Confirmation", 2, False, 10),
    OrderStatusRow("c8742634-ea8b-46d9-ba71-1989b951772d", "3. In progress", 3, False, 25),
    OrderStatusRow("40de86ee-274d-4098-9b92-9ebdcf83d4fc", "4. Completed", 4, True, 40),
    OrderStatusRow("8ab0f830-908b-40d7-80a3-7f49ef70ce70", "5. Canceled", 5, False, 15),
)
ORDER_COMPLETED = "40de86ee-274d-4098-9b92-9ebdcf83d4fc"
ORDER_IN_PROGRESS = "c8742634-ea8b-46d9-ba71-1989b951772d"

# (id, name)
LEAD_MEDIUMS = (
    ("e95c0d56-e773-4a7c-81d8-148619beebb0", "Email"),
    ("fa3f5ad8-56da-4fcf-aa79-7033bdf62178", "Web: social"),
    ("33a3b3fe-fab9-4256-91bb-b574e021c70a", "Web: paid search"),
    ("ae811c69-d09f-4bfb-b619-71f4fb19fd14", "Web: organic search"),
    ("cd64d8c3-746a-4c73-93ad-09a75ae71501", "Web: referrers"),
    ("e896a7ac-a6fe-43aa-a2cd-161b0faf65bb", "Web: direct traffic"),
    ("39b44989-6790-4231-9058-bcb149eeff80", "Web: media advertising"),
    ("7e9f5358-e4ff-4139-a23a-0bfc4a1f1bb5", "Web: other online advertising"),
    ("4c870607-99b4-40d2-9b0c-50e2eca85c08", "Event"),
    ("93412ddd-98c1-4f6e-8d98-696875d057fb", "Offline advertising"),
    ("5b0c7aed-d0d8-4862-8daa-70c17c04bda4", "Partner referral"),
    ("b1470b51-d708-4a69-8628-3a8cecb5ea60", "Recommendation/personal contact"),
    ("1cd669f4-4e2f-41e4-a439-c56b18f1f9b5", "Contact with the existing customer"),
    ("22bcd15d-99ac-4ed1-bda9-2cdf7ca566ef", "Other channels"),
)
_PAID_SEARCH = "33a3b3fe-fab9-4256-91bb-b574e021c70a"
_ORGANIC = "ae811c69-d09f-4bfb-b619-71f4fb19fd14"
_SOCIAL = "fa3f5ad8-56da-4fcf-aa79-7033bdf62178"
_EMAIL = "e95c0d56-e773-4a7c-81d8-148619beebb0"
_OTHER = "22bcd15d-99ac-4ed1-bda9-2cdf7ca566ef"

# (id, name, medium id)
LEAD_SOURCES = (
    ("a417d1e3-2029-4c17-8e15-c6a586d1a9b7", "Google", _ORGANIC),
    ("3c133642-8dbc-4f6c-a0c3-c4a0c4c0aab8", "Yandex", _ORGANIC),
    ("6177c15b-5439-4c60-ba46-4d2eb201270e", "Google AdWords", _PAID_SEARCH),
    ("339fbdd8-2ca0-4a40-98a5-1b4b96a01661", "Yandex.Direct", _PAID_SEARCH),
    ("532429b9-5324-407a-9c17-d1fdf4c3abc9", "Facebook", _SOCIAL),
    ("6c7e2194-0b60-4b1c-a084-20a73d8cb06f", "LinkedIn", _SOCIAL),
    ("2c97826d-18ab-4e12-9e91-60a709315444", "Twitter", _SOCIAL),
    ("567c32ed-e42c-4815-a7ac-3e3bbf7bd77d", "Vkontakte", _SOCIAL),
    ("7ea0f0f3-cc41-4516-8ac8-d25f65b18a03", "Mailchimp", _EMAIL),
    ("4f7f26f5-facc-47d4-900b-9d9b1eb1c505", "Creatio marketing", _EMAIL),
    ("f5e73b24-bd68-45ba-9ec6-dee40a35c615", "Other source", _OTHER),
)

# The users who create and edit deals: (id, name, email).
CONTACTS = (
    (SUPERVISOR_ID, "Supervisor", ""),
    ("c4ed336c-3e9b-40fe-8b82-5632476472b4", "Анна Смирнова", "a.smirnova@example.ru"),
    ("5e5b3a4b-0f3c-4b8e-9a1e-3f6d2c1b0a91", "Дмитрий Кузнецов", "d.kuznetsov@example.ru"),
    ("8b2f6c1d-7a4e-4c3b-b5d9-0e1f2a3b4c5d", "Ольга Попова", "o.popova@example.ru"),
    ("2d4c6e8f-1a3b-4c5d-8e7f-9a0b1c2d3e4f", "John Carter", "j.carter@example.com"),
    ("7f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "Maria Lopez", "m.lopez@example.com"),
)
