"""Import the CRM's lead stages and order statuses into `roistat.status`.

Keys are status ids, never names: customers rename stages ("1. Draft"), and a
renamed status keeps its group. Each status gets its group from the settings
(`status_groups`, ids or names); a status nobody has sorted counts as
`not_registered` and is reported as unmapped. A status that disappears from the
CRM is kept and flagged (`vanished_at`), so old deals keep their group.

The import also brings `roistat.deal.status_group` in line with the groups, so
regrouping a status in the settings regroups its deals at the next import.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg

from roistat.crm_entities import ENTITIES, CrmEntity
from roistat.rules import resolve_status_groups
from roistat.settings import IntegrationSettings

log = logging.getLogger(__name__)


class StatusReader(Protocol):
    def read_lookup(self, entity_set: str, columns: Sequence[str]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class CrmStatus:
    status_id: str
    name: str


@dataclass
class StatusImportReport:
    """What one import found, per entity; logged and returned as XCom."""

    entity: str
    statuses: int = 0
    new: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    regrouped: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    deals_regrouped: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "statuses": self.statuses,
            "new": len(self.new),
            "renamed": len(self.renamed),
            "vanished": len(self.vanished),
            "returned": len(self.returned),
            "regrouped": len(self.regrouped),
            "unmapped": len(self.unmapped),
            "deals_regrouped": self.deals_regrouped,
        }


def read_crm_statuses(reader: StatusReader, entity: CrmEntity) -> list[CrmStatus]:
    """Read every status of an entity's status lookup from the CRM."""
    rows = reader.read_lookup(entity.status_set, ["Id", "Name"])
    return [CrmStatus(str(row["Id"]).lower(), str(row.get("Name") or "")) for row in rows]


def import_statuses(
    reader: StatusReader,
    conn: psycopg.Connection,
    settings: IntegrationSettings,
    *,
    now: datetime | None = None,
    sweep_deals: bool = True,
) -> list[StatusImportReport]:
    """Import the statuses of every configured entity, one transaction each.

    Deals follow their status into a new group whenever a status is new or
    changes group. `sweep_deals` also re-checks every deal when none did: that
    repairs a deal loaded by a sync that read the groups just before an import
    changed them (the hourly statuses DAG does it). The sync DAG's own import
    skips the sweep: on a large warehouse it is the slowest part of a quiet run.
    """
    now = now or datetime.now(UTC)
    crm = {name: read_crm_statuses(reader, ENTITIES[name]) for name in settings.entities}
    stored = {name: _stored_statuses(conn, name) for name in settings.entities}

    # Names in the settings resolve against today's names and the names we
    # stored before, so a status renamed in the CRM keeps the group its old
    # name gave it.
    known = [
        (status.status_id, status.name)
        for name in settings.entities
        for status in [*crm[name], *(CrmStatus(i, s["name"]) for i, s in stored[name].items())]
    ]
    resolution = resolve_status_groups(settings.status_groups, known)
    for problem in resolution.problems:
        log.warning("status_groups: %s", problem)
    groups = {status_id: str(group) for status_id, group in resolution.groups.items()}

    reports = []
    for name in settings.entities:
        with conn.transaction():
            report = _apply(conn, name, crm[name], stored[name], groups, now)
            if sweep_deals or report.new or report.regrouped:
                report.deals_regrouped = _regroup_deals(conn, name)
        _log_report(report)
        reports.append(report)
    return reports


def _stored_statuses(conn: psycopg.Connection, entity: str) -> dict[str, dict[str, Any]]:
    rows = conn.execute(
        """
        select status_id::text, name, status_group, is_mapped, vanished_at
        from roistat.status
        where entity = %s
        """,
        (entity,),
    ).fetchall()
    return {
        r[0]: {"name": r[1], "status_group": r[2], "is_mapped": r[3], "vanished_at": r[4]}
        for r in rows
    }


def _apply(
    conn: psycopg.Connection,
    entity: str,
    crm_statuses: Iterable[CrmStatus],
    stored: Mapping[str, Mapping[str, Any]],
    groups: Mapping[str, str],
    now: datetime,
) -> StatusImportReport:
    report = StatusImportReport(entity=entity)
    seen: set[str] = set()
    for status in crm_statuses:
        seen.add(status.status_id)
        report.statuses += 1
        group = groups.get(status.status_id, "not_registered")
        is_mapped = status.status_id in groups
        label = f"{status.name!r} ({status.status_id})"
        if not is_mapped:
            report.unmapped.append(label)

        before = stored.get(status.status_id)
        if before is None:
            report.new.append(f"{label} -> {group}")
        else:
            if before["name"] != status.name:
                report.renamed.append(f"{before['name']!r} -> {status.name!r} ({status.status_id})")
            if before["vanished_at"] is not None:
                report.returned.append(label)
            if (before["status_group"], before["is_mapped"]) != (group, is_mapped):
                report.regrouped.append(f"{label}: {before['status_group']} -> {group}")
            if (
                before["name"] == status.name
                and before["vanished_at"] is None
                and (before["status_group"], before["is_mapped"]) == (group, is_mapped)
            ):
                # Unchanged: nothing is written, so a rerun leaves the table as it was.
                continue

        conn.execute(
            """
            insert into roistat.status as s
                (entity, status_id, name, status_group, is_mapped, first_seen_at, last_seen_at)
            values (%(entity)s, %(status_id)s, %(name)s, %(group)s, %(is_mapped)s, %(now)s, %(now)s)
            on conflict (entity, status_id) do update set
                renamed_from = case
                    when s.name is distinct from excluded.name then s.name
                    else s.renamed_from
                end,
                name = excluded.name,
                status_group = excluded.status_group,
                is_mapped = excluded.is_mapped,
                last_seen_at = excluded.last_seen_at,
                vanished_at = null
            """,
            {
                "entity": entity,
                "status_id": status.status_id,
                "name": status.name,
                "group": group,
                "is_mapped": is_mapped,
                "now": now,
            },
        )

    for status_id, before in stored.items():
        if status_id in seen:
            continue
        if before["vanished_at"] is None:
            report.vanished.append(f"{before['name']!r} ({status_id})")
            conn.execute(
                "update roistat.status set vanished_at = %s where entity = %s and status_id = %s",
                (now, entity, status_id),
            )
        # A vanished status still takes its group from the settings: its deals
        # stay in the table and in the report.
        group = groups.get(status_id, "not_registered")
        if (before["status_group"], before["is_mapped"]) != (group, status_id in groups):
            report.regrouped.append(
                f"{before['name']!r} ({status_id}): {before['status_group']} -> {group}"
            )
            conn.execute(
                "update roistat.status set status_group = %s, is_mapped = %s "
                "where entity = %s and status_id = %s",
                (group, status_id in groups, entity, status_id),
            )

    return report


def _regroup_deals(conn: psycopg.Connection, entity: str) -> int:
    known = conn.execute(
        """
        update roistat.deal as d
        set status_group = s.status_group
        from roistat.status as s
        where d.entity = %s
            and s.entity = d.entity
            and s.status_id = d.status_id
            and d.status_group <> s.status_group
        """,
        (entity,),
    ).rowcount
    unknown = conn.execute(
        """
        update roistat.deal as d
        set status_group = 'not_registered'
        where d.entity = %s
            and d.status_group <> 'not_registered'
            and not exists (
                select 1
                from roistat.status as s
                where s.entity = d.entity
                    and s.status_id = d.status_id
            )
        """,
        (entity,),
    ).rowcount
    return known + unknown


def _log_report(report: StatusImportReport) -> None:
    log.info(
        "Statuses of %s: %d in the CRM; %d new, %d renamed, %d vanished, %d regrouped, %d unmapped",
        report.entity,
        report.statuses,
        len(report.new),
        len(report.renamed),
        len(report.vanished),
        len(report.regrouped),
        len(report.unmapped),
    )
    for line in report.new:
        log.info("New %s status: %s", report.entity, line)
    for line in report.renamed:
        log.info("Renamed %s status (its group stays): %s", report.entity, line)
    for line in report.returned:
        log.info("%s status is back in the CRM: %s", report.entity.capitalize(), line)
    for line in report.regrouped:
        log.info("Regrouped %s status: %s", report.entity, line)
    if report.deals_regrouped:
        log.info("%d %s deals took their status's new group", report.deals_regrouped, report.entity)
    for line in report.vanished:
        log.warning(
            "%s status vanished from the CRM (kept, flagged vanished_at): %s",
            report.entity.capitalize(),
            line,
        )
    if report.unmapped:
        log.warning(
            "%d %s statuses are not sorted into a group and count as not_registered: %s. "
            "Add their ids to status_groups in the settings.",
            len(report.unmapped),
            report.entity,
            "; ".join(report.unmapped),
        )
