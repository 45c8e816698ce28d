"""Decide a deal's `paid_at` and when its status history gains a row.

Roistat's sale date is the first time a deal is loaded in a Paid status
(roistat-domain.md §1.4); `paid_at` copies that: set by the first sync that
sees the deal in `paid`, and never moved after, even if the deal leaves `paid`
and comes back.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from roistat.rules.crm_scalars import parse_lookup_id
from roistat.rules.rule_errors import RuleInputError
from roistat.rules.status_grouping import StatusGroup, as_status_group


class StatusSnapshot(NamedTuple):
    """A deal's status as stored: the status id (None when empty) and its group."""

    status_id: str | None
    status_group: StatusGroup | str


def next_paid_at(
    previous_paid_at: datetime | None, group: StatusGroup | str, synced_at: datetime
) -> datetime | None:
    """Return the `paid_at` to store for a deal seen in `group` at `synced_at`.

    A stored `paid_at` is kept as it is; otherwise it becomes `synced_at` when
    the deal is in `paid`, and stays None when it is not. Both datetimes must
    be timezone-aware: a naive one would be read in the server's zone.
    """
    current = as_status_group(group, "status group")
    _require_aware(synced_at, "synced_at")
    if previous_paid_at is not None:
        _require_aware(previous_paid_at, "previous_paid_at")
        return previous_paid_at
    return synced_at if current is StatusGroup.PAID else None


def history_row_needed(previous: StatusSnapshot | None, current: StatusSnapshot) -> bool:
    """Say whether a status history row must be written for a deal.

    `previous` is what the warehouse holds, None for a deal seen for the first
    time (whose first status is a row too). A row is written when the status
    id changes, ids compared case-insensitively, or when the group changes
    under the same id, because someone re-sorted that status: either way the
    deal's path through the groups changed.
    """
    if previous is None:
        return True

    id_changed = parse_lookup_id(previous.status_id) != parse_lookup_id(current.status_id)
    old_group = as_status_group(previous.status_group, "previous status group")
    new_group = as_status_group(current.status_group, "status group")
    return id_changed or old_group is not new_group


def _require_aware(value: datetime, name: str) -> None:
    """Raise RuleInputError for a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise RuleInputError(f"{name} must be timezone-aware, got {value.isoformat()}")
