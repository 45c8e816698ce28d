"""Status groups by id, and the settings' names resolved to ids."""

from __future__ import annotations

import pytest

from roistat.errors import SettingsError
from roistat.rules import (
    LookupIdError,
    StatusGroup,
    StatusGroupError,
    StatusGroupMatch,
    StatusGroupResolution,
    resolve_status_groups,
    status_group_for,
)

DRAFT = "1f3ad326-effd-4ac3-a3e2-957e7def3684"
CONFIRMATION = "29fa66e3-ef69-4feb-a5af-ec1de125a614"
IN_PROGRESS = "c8742634-ea8b-46d9-ba71-1989b951772d"
COMPLETED = "40de86ee-274d-4098-9b92-9ebdcf83d4fc"
CANCELED = "8ab0f830-908b-40d7-80a3-7f49ef70ce70"
PARTIALLY_PAID = "7d4959d3-0b8f-403c-a345-3fbce926013e"

ORDER_STATUSES = [
    (DRAFT, "1. Draft"),
    (CONFIRMATION, "2. Confirmation"),
    (IN_PROGRESS.upper(), "3. In progress"),
    (COMPLETED, "4. Completed"),
    (CANCELED, "5. Canceled"),
]

GROUPS = {
    DRAFT: StatusGroup.NOT_REGISTERED,
    IN_PROGRESS: "processing",
    COMPLETED: StatusGroup.PAID,
    CANCELED: "rejected",
}


@pytest.mark.parametrize(
    ("status_id", "expected"),
    [
        pytest.param(COMPLETED, StatusGroupMatch(StatusGroup.PAID, True), id="paid"),
        pytest.param(
            COMPLETED.upper(), StatusGroupMatch(StatusGroup.PAID, True), id="uppercase-id"
        ),
        pytest.param(
            IN_PROGRESS, StatusGroupMatch(StatusGroup.PROCESSING, True), id="string-value"
        ),
        pytest.param(CANCELED, StatusGroupMatch(StatusGroup.REJECTED, True), id="rejected"),
        pytest.param(
            DRAFT, StatusGroupMatch(StatusGroup.NOT_REGISTERED, True), id="sorted-as-waste"
        ),
        pytest.param(
            CONFIRMATION, StatusGroupMatch(StatusGroup.NOT_REGISTERED, False), id="unsorted"
        ),
        pytest.param(None, StatusGroupMatch(StatusGroup.NOT_REGISTERED, False), id="null"),
        pytest.param("", StatusGroupMatch(StatusGroup.NOT_REGISTERED, False), id="empty"),
        pytest.param(
            "00000000-0000-0000-0000-000000000000",
            StatusGroupMatch(StatusGroup.NOT_REGISTERED, False),
            id="all-zero-guid",
        ),
    ],
)
def test_status_group_for(status_id: object, expected: StatusGroupMatch) -> None:
    assert status_group_for(status_id, GROUPS) == expected


def test_status_group_for_refuses_a_malformed_id() -> None:
    with pytest.raises(LookupIdError, match="not a GUID"):
        status_group_for("4. Completed", GROUPS)


def test_status_group_for_refuses_a_mapping_to_an_unknown_group() -> None:
    with pytest.raises(StatusGroupError, match="'won' is not a status group"):
        status_group_for(COMPLETED, {COMPLETED: "won"})


def test_groups_are_the_four_roistat_groups() -> None:
    assert [group.value for group in StatusGroup] == [
        "not_registered",
        "processing",
        "paid",
        "rejected",
    ]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        pytest.param({}, StatusGroupResolution(groups={}), id="empty-setting"),
        pytest.param(
            {"paid": [COMPLETED], "rejected": [CANCELED.upper()]},
            StatusGroupResolution(
                groups={COMPLETED: StatusGroup.PAID, CANCELED: StatusGroup.REJECTED}
            ),
            id="ids-any-case",
        ),
        pytest.param(
            {"processing": ["2. Confirmation", "3. In progress"], "paid": ["4. Completed"]},
            StatusGroupResolution(
                groups={
                    CONFIRMATION: StatusGroup.PROCESSING,
                    IN_PROGRESS: StatusGroup.PROCESSING,
                    COMPLETED: StatusGroup.PAID,
                }
            ),
            id="names-resolved-to-lowercase-ids",
        ),
        pytest.param(
            {"paid": ["  4.   COMPLETED "], "rejected": ["5.\tcanceled"]},
            StatusGroupResolution(
                groups={COMPLETED: StatusGroup.PAID, CANCELED: StatusGroup.REJECTED}
            ),
            id="case-and-whitespace-insensitive",
        ),
        pytest.param(
            {"paid": ["4. Completed", COMPLETED, "4. completed"]},
            StatusGroupResolution(groups={COMPLETED: StatusGroup.PAID}),
            id="same-status-listed-twice-in-one-group",
        ),
        pytest.param(
            {"paid": ["4. Complete", "Completed", "4.Completed"]},
            StatusGroupResolution(
                groups={},
                unknown_names=(
                    (StatusGroup.PAID, "4. Complete"),
                    (StatusGroup.PAID, "Completed"),
                    (StatusGroup.PAID, "4.Completed"),
                ),
            ),
            id="names-must-match-exactly",
        ),
        pytest.param(
            {"paid": [COMPLETED], "processing": ["4. Completed", IN_PROGRESS]},
            StatusGroupResolution(
                groups={IN_PROGRESS: StatusGroup.PROCESSING},
                conflicting_ids=((COMPLETED, (StatusGroup.PAID, StatusGroup.PROCESSING)),),
            ),
            id="id-in-two-groups-stays-unmapped",
        ),
        pytest.param(
            {"paid": [PARTIALLY_PAID]},
            StatusGroupResolution(
                groups={PARTIALLY_PAID: StatusGroup.PAID},
                unknown_ids=((StatusGroup.PAID, PARTIALLY_PAID),),
            ),
            id="unknown-id-kept-and-reported",
        ),
    ],
)
def test_resolve_status_groups(
    setting: dict[str, list[str]], expected: StatusGroupResolution
) -> None:
    assert resolve_status_groups(setting, ORDER_STATUSES) == expected


def test_a_name_shared_by_two_statuses_is_ambiguous() -> None:
    statuses = [*ORDER_STATUSES, (PARTIALLY_PAID, "4. completed")]

    resolution = resolve_status_groups({"paid": ["4. Completed"]}, statuses)

    assert resolution.groups == {}
    assert resolution.ambiguous_names == (
        (StatusGroup.PAID, "4. Completed", tuple(sorted([COMPLETED, PARTIALLY_PAID]))),
    )


def test_the_same_status_read_twice_is_not_ambiguous() -> None:
    statuses = [*ORDER_STATUSES, (COMPLETED.upper(), "4. Completed")]

    resolution = resolve_status_groups({"paid": ["4. Completed"]}, statuses)

    assert resolution.groups == {COMPLETED: StatusGroup.PAID}
    assert resolution.ambiguous_names == ()


def test_statuses_without_an_id_or_name_are_skipped() -> None:
    statuses = [(None, "Ghost"), ("00000000-0000-0000-0000-000000000000", "Zero"), (DRAFT, None)]

    resolution = resolve_status_groups({"rejected": ["Ghost", "Zero"]}, statuses)

    assert resolution.groups == {}
    assert [name for _, name in resolution.unknown_names] == ["Ghost", "Zero"]


def test_problems_say_what_to_fix() -> None:
    statuses = [*ORDER_STATUSES, (PARTIALLY_PAID, "4. Completed")]
    setting = {
        "paid": ["4. Completed", "Won", DRAFT],
        "rejected": [DRAFT, "ffffffff-0000-0000-0000-000000000000"],
    }

    problems = resolve_status_groups(setting, statuses).problems

    assert problems == [
        "paid: 'Won' is not the name of any status; check the spelling",
        f"paid: '4. Completed' is the name of 2 statuses ({COMPLETED}, {PARTIALLY_PAID}); "
        "list the one you mean by id",
        f"status {DRAFT} is listed in paid, rejected; it stays unmapped "
        "until it is listed in one group only",
        "rejected: status id ffffffff-0000-0000-0000-000000000000 is not among the CRM's statuses",
    ]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        pytest.param(
            {"won": [COMPLETED]}, "status_groups.won: 'won' is not a status group", id="bad-group"
        ),
        pytest.param({"paid": COMPLETED}, "status_groups.paid: expected a list", id="not-a-list"),
        pytest.param(
            {"paid": [42]}, "status_groups.paid: 42 is not a status id or name", id="number"
        ),
        pytest.param({"paid": ["  "]}, "status_groups.paid: '  ' is not a status id", id="blank"),
        pytest.param({"paid": [None]}, "status_groups.paid: None", id="null"),
        pytest.param(
            {"paid": ["00000000-0000-0000-0000-000000000000"]},
            "the all-zero GUID means 'no status'",
            id="all-zero-guid",
        ),
    ],
)
def test_resolve_status_groups_refuses_a_malformed_setting(
    setting: dict[str, object], message: str
) -> None:
    with pytest.raises(StatusGroupError, match=message) as caught:
        resolve_status_groups(setting, ORDER_STATUSES)

    assert isinstance(caught.value, SettingsError)
    assert isinstance(caught.value, ValueError)


def test_resolve_status_groups_refuses_a_crm_status_with_a_malformed_id() -> None:
    with pytest.raises(LookupIdError):
        resolve_status_groups({}, [("not-a-guid", "Draft")])


def test_an_empty_status_is_never_mapped_even_by_a_stray_none_key() -> None:
    groups = {None: StatusGroup.PAID, **GROUPS}

    assert status_group_for(None, groups) == StatusGroupMatch(StatusGroup.NOT_REGISTERED, False)
