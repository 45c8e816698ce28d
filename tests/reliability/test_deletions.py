"""Deals deleted in the CRM: found by the id scan, kept in the table, gone from the report.

Creatio sends no tombstones; a reconciliation (`{"reconcile": true}`, implied
by `full_refresh`) reads every id and marks the missing deals `deleted_at`.
A deal that comes back loses the mark, whether it comes back as it was (the
id scan sees it) or changed (the merge sees it).

The sandbox's admin API can delete a row but not restore one with its id, so
"comes back" puts the very row back into the sandbox's SQLite file, the
test's private working copy (`sb.db_path`), as a CRM does when a deletion is
undone or the integration user's access is restored.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.reliability.support import (
    connections,
    rows,
    sandbox,
    settings,
    sync_all,
    sync_runs,
)

FULL = {"full_refresh": True}
RECONCILE = {"reconcile": True}
CONFIG = settings()


def _deals(url: str) -> dict[tuple[str, str], bool]:
    """(entity, crm_id) -> whether the deal is marked deleted."""
    return {
        (entity, str(crm_id)): deleted
        for entity, crm_id, deleted in rows(
            url, "select entity, crm_id, deleted_at is not null from roistat.deal"
        )
    }


def _report_deals(url: str) -> dict[str, int]:
    return dict(
        rows(url, "select entity, sum(deals)::int from roistat.channel_report group by entity")
    )


def _put_back(db_path: Path, table: str, row: dict) -> None:
    names = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" for _ in row)
    with sqlite3.connect(db_path) as conn:
        conn.execute(f'insert into "{table}" ({names}) values ({marks})', tuple(row.values()))  # noqa: S608


def test_deleted_deals_are_marked_leave_the_report_and_come_back(sandbox_data_dir, new_warehouse):
    url = new_warehouse()
    with sandbox(sandbox_data_dir, seed=14) as sb, connections(sb):
        sync_all(url, CONFIG, FULL)
        before = _deals(url)
        report_before = _report_deals(url)
        assert not any(before.values())

        lead = sb.admin.rows("Lead", raw=True)[17]
        order = sb.admin.rows("Order", raw=True)[23]
        gone = {("lead", lead["Id"]), ("order", order["Id"])}
        assert sb.admin.delete("Lead", [lead["Id"]]) == 1
        assert sb.admin.delete("Order", [order["Id"]]) == 1

        # A dropped connection in the middle of the id scan changes nothing.
        sb.admin.reset_counters()
        dropped = sb.admin.set_fault("drop", entity="Lead", after=1, times=1)
        counts = sync_all(url, CONFIG, RECONCILE)
        assert next(f for f in sb.admin.faults() if f["id"] == dropped["id"])["fired"] == 1
        assert counts["lead"]["deleted"] == counts["order"]["deleted"] == 1

        marked = _deals(url)
        assert set(marked) == set(before), "a deleted deal left roistat.deal"
        assert {key for key, deleted in marked.items() if deleted} == gone
        assert _report_deals(url) == {entity: total - 1 for entity, total in report_before.items()}
        assert [run["deleted"] for run in sync_runs(url)[-2:]] == [1, 1]

        # Reconciling again marks nothing new and keeps the first mark.
        first_marks = rows(
            url, "select crm_id, deleted_at from roistat.deal where deleted_at is not null"
        )
        counts = sync_all(url, CONFIG, RECONCILE)
        assert counts["lead"]["deleted"] == counts["order"]["deleted"] == 0
        assert (
            rows(url, "select crm_id, deleted_at from roistat.deal where deleted_at is not null")
            == first_marks
        )

        # Back as it was: only the id scan can see it. Back and changed: the merge does.
        _put_back(sb.db_path, "Lead", lead)
        _put_back(sb.db_path, "Order", order)
        sb.admin.touch("Order", ids=[order["Id"]], title="restored and edited")
        sync_all(url, CONFIG)  # no reconciliation: the changed order comes back by its new version
        assert {k for k, deleted in _deals(url).items() if deleted} == {("lead", lead["Id"])}
        sync_all(url, CONFIG, RECONCILE)
        assert not any(_deals(url).values())
        assert _report_deals(url) == report_before
