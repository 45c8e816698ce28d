"""paid_at is set once, the first time a deal is seen paid; status history rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from roistat.rules import (
    RuleInputError,
    StatusGroup,
    StatusGroupError,
    StatusSnapshot,
    history_row_needed,
    next_paid_at,
)

MONDAY = datetime(2024, 6, 17, 9, 0, tzinfo=UTC)
TUESDAY = datetime(2024, 6, 18, 9, 0, tzinfo=UTC)
PAID = StatusGroup.PAID
IN_PROGRESS = "c8742634-ea8b-46d9-ba71-1989b951772d"
COMPLETED = "40de86ee-274d-4098-9b92-9ebdcf83d4fc"


@pytest.mark.parametrize(
    ("previous", "group", "expected"),
    [
        pytest.param(None, PAID, TUESDAY, id="first-seen-paid"),
        pytest.param(None, "paid", TUESDAY, id="group-as-text"),
        pytest.param(None, StatusGroup.PROCESSING, None, id="not-paid-yet"),
        pytest.param(None, StatusGroup.REJECTED, None, id="rejected-never-paid"),
        pytest.param(None, StatusGroup.NOT_REGISTERED, None, id="not-registered"),
        pytest.param(MONDAY, PAID, MONDAY, id="still-paid-keeps-first"),
        pytest.param(MONDAY, StatusGroup.REJECTED, MONDAY, id="left-paid-keeps-first"),
        pytest.param(MONDAY, StatusGroup.PROCESSING, MONDAY, id="back-in-processing-keeps-first"),
    ],
)
def test_next_paid_at(
    previous: datetime | None, group: StatusGroup | str, expected: datetime | None
) -> None:
    assert next_paid_at(previous, group, TUESDAY) == expected


def test_paid_at_survives_leaving_paid_and_coming_back() -> None:
    paid_at = None
    path = [
        (StatusGroup.PROCESSING, MONDAY),
        (PAID, MONDAY + timedelta(hours=1)),
        (StatusGroup.REJECTED, MONDAY + timedelta(hours=2)),
        (PAID, TUESDAY),
    ]

    for group, synced_at in path:
        paid_at = next_paid_at(paid_at, group, synced_at)

    assert paid_at == MONDAY + timedelta(hours=1)


def test_a_rerun_later_does_not_move_paid_at() -> None:
    first = next_paid_at(None, PAID, MONDAY)

    assert next_paid_at(first, PAID, TUESDAY) == MONDAY


def test_next_paid_at_keeps_the_stored_zone() -> None:
    moscow = datetime(2024, 6, 17, 12, 0, tzinfo=timezone(timedelta(hours=3)))

    assert next_paid_at(moscow, PAID, TUESDAY) is moscow


@pytest.mark.parametrize(
    ("previous", "synced_at", "message"),
    [
        pytest.param(
            None, datetime(2024, 6, 18, 9, 0), "synced_at must be timezone-aware", id="naive-sync"
        ),
        pytest.param(
            datetime(2024, 6, 17), TUESDAY, "previous_paid_at must be", id="naive-previous"
        ),
    ],
)
def test_next_paid_at_refuses_naive_datetimes(
    previous: datetime | None, synced_at: datetime, message: str
) -> None:
    with pytest.raises(RuleInputError, match=message):
        next_paid_at(previous, PAID, synced_at)


def test_next_paid_at_refuses_an_unknown_group() -> None:
    with pytest.raises(StatusGroupError, match="'won' is not a status group"):
        next_paid_at(None, "won", TUESDAY)


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        pytest.param(
            None, StatusSnapshot(IN_PROGRESS, "processing"), True, id="new-deal-first-row"
        ),
        pytest.param(None, StatusSnapshot(None, "not_registered"), True, id="new-deal-no-status"),
        pytest.param(
            StatusSnapshot(IN_PROGRESS, "processing"),
            StatusSnapshot(IN_PROGRESS, "processing"),
            False,
            id="unchanged",
        ),
        pytest.param(
            StatusSnapshot(IN_PROGRESS, "processing"),
            StatusSnapshot(IN_PROGRESS.upper(), StatusGroup.PROCESSING),
            False,
            id="same-id-other-case",
        ),
        pytest.param(
            StatusSnapshot(IN_PROGRESS, "processing"),
            StatusSnapshot(COMPLETED, "paid"),
            True,
            id="status-and-group-changed",
        ),
        pytest.param(
            StatusSnapshot(IN_PROGRESS, "processing"),
            StatusSnapshot(COMPLETED, "processing"),
            True,
            id="status-changed-same-group",
        ),
        pytest.param(
            StatusSnapshot(COMPLETED, "processing"),
            StatusSnapshot(COMPLETED, "paid"),
            True,
            id="status-regrouped",
        ),
        pytest.param(
            StatusSnapshot(COMPLETED, "paid"),
            StatusSnapshot(None, "not_registered"),
            True,
            id="status-cleared",
        ),
        pytest.param(
            StatusSnapshot(None, "not_registered"),
            StatusSnapshot("00000000-0000-0000-0000-000000000000", "not_registered"),
            False,
            id="null-and-all-zero-are-both-empty",
        ),
    ],
)
def test_history_row_needed(
    previous: StatusSnapshot | None, current: StatusSnapshot, expected: bool
) -> None:
    assert history_row_needed(previous, current) is expected
