"""Sort CRM statuses into Roistat's four groups (DESIGN.md §1.5, roistat-domain.md §1.4).

Groups are keyed by status id, never by name: customers rename stages. The
settings may still list names for convenience; `resolve_status_groups` turns
them into ids against the statuses read from the CRM and reports every name
it could not resolve one way only, instead of guessing.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from roistat.rules.crm_scalars import parse_lookup_id
from roistat.rules.rule_errors import LookupIdError, StatusGroupError


class StatusGroup(enum.StrEnum):
    """Roistat's status groups; the values are stored in `status_group`."""

    NOT_REGISTERED = "not_registered"
    PROCESSING = "processing"
    PAID = "paid"
    REJECTED = "rejected"


class StatusGroupMatch(NamedTuple):
    """A deal's status group, and whether anyone sorted its status."""

    group: StatusGroup
    is_mapped: bool


@dataclass(frozen=True)
class StatusGroupResolution:
    """The `status_groups` setting resolved against the CRM's statuses.

    `groups` maps canonical status ids to groups. The other fields list what
    could not be resolved: `unknown_names` (group, name) matched no status;
    `ambiguous_names` (group, name, ids) matched several, so none is used;
    `conflicting_ids` (id, groups) were put in more than one group, so the id
    stays unmapped; `unknown_ids` (group, id) are not among the statuses
    given. `problems` says all of that in sentences, for the task log.
    """

    groups: dict[str, StatusGroup]
    unknown_names: tuple[tuple[StatusGroup, str], ...] = ()
    ambiguous_names: tuple[tuple[StatusGroup, str, tuple[str, ...]], ...] = ()
    conflicting_ids: tuple[tuple[str, tuple[StatusGroup, ...]], ...] = ()
    unknown_ids: tuple[tuple[StatusGroup, str], ...] = ()

    @property
    def problems(self) -> list[str]:
        """Return one sentence per entry that could not be resolved."""
        problems = [
            f"{group}: {name!r} is not the name of any status; check the spelling"
            for group, name in self.unknown_names
        ]
        problems += [
            f"{group}: {name!r} is the name of {len(ids)} statuses ({', '.join(ids)}); "
            "list the one you mean by id"
            for group, name, ids in self.ambiguous_names
        ]
        problems += [
            f"status {status_id} is listed in {', '.join(groups)}; it stays unmapped "
            "until it is listed in one group only"
            for status_id, groups in self.conflicting_ids
        ]
        problems += [
            f"{group}: status id {status_id} is not among the CRM's statuses"
            for group, status_id in self.unknown_ids
        ]
        return problems


_UNMAPPED = StatusGroupMatch(StatusGroup.NOT_REGISTERED, False)


def status_group_for(
    status_id: object, groups_by_id: Mapping[str, StatusGroup | str]
) -> StatusGroupMatch:
    """Return the group of a deal's status and whether it is mapped.

    `status_id` is the raw lookup value: a GUID in any case, null, or the
    all-zero GUID (no status). `groups_by_id` is keyed by lowercase canonical
    ids, as `resolve_status_groups` builds it. An empty or unknown status is
    `not_registered` and unmapped. Raises LookupIdError for a malformed id and
    StatusGroupError for a mapping value that is not a group.
    """
    canonical = parse_lookup_id(status_id)
    if canonical is None or canonical not in groups_by_id:
        return _UNMAPPED
    return StatusGroupMatch(as_status_group(groups_by_id[canonical], canonical), True)


def resolve_status_groups(
    status_groups: Mapping[str, Iterable[str]],
    statuses: Iterable[tuple[object, str | None]],
) -> StatusGroupResolution:
    """Resolve the `status_groups` setting to status ids against the CRM's statuses.

    `status_groups` maps a group name to entries, each a status id (a GUID in
    any case) or a status name. `statuses` are the (id, name) pairs read from
    the CRM, for one entity or for all; a pair may repeat. A name matches a status whose name is equal
    ignoring case and the amount of whitespace (runs collapse to one space,
    ends are trimmed). Raises StatusGroupError for an unknown group or an
    entry that is not a non-empty string, and LookupIdError for a CRM status
    whose id is not a GUID; everything else is reported.
    """
    ids_by_name: dict[str, list[str]] = {}
    known_ids: set[str] = set()
    for raw_id, name in statuses:
        status_id = parse_lookup_id(raw_id)
        if status_id is None:
            continue
        known_ids.add(status_id)
        if name is not None:
            ids_by_name.setdefault(_name_key(name), []).append(status_id)

    groups_for_id: dict[str, list[StatusGroup]] = {}
    unknown_names: list[tuple[StatusGroup, str]] = []
    ambiguous_names: list[tuple[StatusGroup, str, tuple[str, ...]]] = []
    unknown_ids: list[tuple[StatusGroup, str]] = []
    for group_name, entries in status_groups.items():
        group = as_status_group(group_name, f"status_groups.{group_name}")
        for entry in _entries(group, entries):
            status_id = _entry_id(group, entry)
            if status_id is not None:
                if status_id not in known_ids:
                    unknown_ids.append((group, status_id))
                matched = [status_id]
            else:
                matched = sorted(set(ids_by_name.get(_name_key(entry), [])))
                if not matched:
                    unknown_names.append((group, entry))
                    continue
                if len(matched) > 1:
                    ambiguous_names.append((group, entry, tuple(matched)))
                    continue
            _add_unique(groups_for_id.setdefault(matched[0], []), group)

    groups = {sid: listed[0] for sid, listed in groups_for_id.items() if len(listed) == 1}
    conflicting = tuple(
        (sid, tuple(listed)) for sid, listed in sorted(groups_for_id.items()) if len(listed) > 1
    )
    return StatusGroupResolution(
        groups=groups,
        unknown_names=tuple(unknown_names),
        ambiguous_names=tuple(ambiguous_names),
        conflicting_ids=conflicting,
        unknown_ids=tuple(unknown_ids),
    )


def as_status_group(value: object, where: str) -> StatusGroup:
    """Return a value as a StatusGroup, or raise StatusGroupError naming where it came from."""
    try:
        return StatusGroup(value)
    except ValueError:
        expected = ", ".join(group.value for group in StatusGroup)
        raise StatusGroupError(
            f"{where}: {value!r} is not a status group; expected one of {expected}"
        ) from None


def _entries(group: StatusGroup, entries: Iterable[str]) -> list[str]:
    """Return a group's entries, trimmed, refusing anything but non-empty strings."""
    if isinstance(entries, str | bytes) or not isinstance(entries, Iterable):
        raise StatusGroupError(f"status_groups.{group}: expected a list of status ids or names")

    cleaned = []
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            raise StatusGroupError(f"status_groups.{group}: {entry!r} is not a status id or name")
        cleaned.append(entry.strip())
    return cleaned


def _entry_id(group: StatusGroup, entry: str) -> str | None:
    """Return the canonical id an entry spells, or None when the entry is a name."""
    try:
        status_id = parse_lookup_id(entry)
    except LookupIdError:
        return None
    if status_id is None:
        raise StatusGroupError(
            f"status_groups.{group}: the all-zero GUID means 'no status' and cannot be grouped"
        )
    return status_id


def _name_key(name: str) -> str:
    """Return the form of a status name that matching compares."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def _add_unique(groups: list[StatusGroup], group: StatusGroup) -> None:
    """Append a group unless it is already listed."""
    if group not in groups:
        groups.append(group)
