"""Breakers for the full refresh's deletion check from the ids it read (commit e8a5d83).

`ReadIds` replaces the second id scan: the ids met by the full read are
compared with the warehouse. These tests run the real sync (`sync_entity`)
against the sandbox over HTTP and a real PostgreSQL. Where the CRM must change
*during* the read, the hook is wrapped so the change happens between two rows
the sync consumes, exactly where a real CRM would change under a long read.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from roistat.bpmonline_hook import BpmOnlineHook
from roistat.deletion_reconcile import ReadIds
from roistat.entity_sync import RunContext, sync_entity
from roistat.settings import parse_settings
from roistat.sync_task import run_entity_sync

LEADS_SETTINGS = {"entities": ["lead"], "page_size": 25}


@pytest.fixture
def settings():
    return parse_settings(LEADS_SETTINGS, source="test")


def _deals(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "select crm_id::text, deleted_at from roistat.deal where entity = 'lead'"
            ).fetchall()
        )


def _marked(url: str) -> set[str]:
    return {crm_id for crm_id, deleted_at in _deals(url).items() if deleted_at is not None}


def _full_refresh(settings, **params) -> dict[str, Any]:
    return run_entity_sync(
        "lead",
        params={"full_refresh": True, **params},
        data_interval_start=None,
        data_interval_end=None,
        settings=settings,
    )


class MeddlingHook:
    """A real hook whose iter_rows lets the test change the CRM after row `after`."""

    def __init__(self, hook: BpmOnlineHook, after: int, meddle) -> None:
        self._hook = hook
        self._after = after
        self._meddle = meddle
        self.reads: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hook, name)

    def iter_rows(self, entity_set: str, columns, **kwargs) -> Iterator[dict[str, Any]]:
        self.reads.append({"entity_set": entity_set, "columns": list(columns), **kwargs})
        for n, row in enumerate(self._hook.iter_rows(entity_set, columns, **kwargs), 1):
            yield row
            if n == self._after:
                self._meddle()


def _sync_with(url: str, settings, hook, **params) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        return sync_entity(hook, conn, settings, "lead", RunContext(params=params))


def test_a_deal_moved_back_in_modifiedon_during_the_read_is_not_taken_for_deleted(
    airflow_connections, settings
):
    """A deal that exists in the CRM the whole time must never be marked deleted.
    Here, while the full refresh reads, a not-yet-read deal is saved with a
    ModifiedOn behind the read's position (a late commit; app servers whose
    clocks differ; the sandbox's `touch(modified_on=...)`). The keyset never meets
    it, so it is missing from ReadIds; the reconciliation must ask the CRM about
    it by Id before marking it (an id scan has the same blind spot)."""
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    leads = sorted(sb.admin.rows("Lead"), key=lambda r: (r["ModifiedOn"], r["Id"]))
    oldest, newest = leads[0], leads[-1]
    moved_back = oldest["ModifiedOn"].isoformat()

    def late_commit() -> None:
        sb.admin.touch("Lead", ids=[newest["Id"]], modified_on=moved_back, title="saved late")

    with BpmOnlineHook(settings.bpmonline_conn_id) as real:
        counts = _sync_with(url, settings, MeddlingHook(real, 60, late_commit), full_refresh=True)

    assert newest["Id"].lower() in {r["Id"].lower() for r in sb.admin.rows("Lead")}
    assert counts["deleted"] == 0, f"marked deleted: {_marked(url)}"
    assert _marked(url) == set()


def test_a_deal_deleted_in_the_crm_after_the_read_met_it_is_marked_by_the_next_reconciliation(
    airflow_connections, settings
):
    """A deal deleted after the full refresh read it was seen alive by that run,
    as it would have been by an id scan that had passed it: the next
    reconciliation marks it (the first scheduled run of each UTC day)."""
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    first = sorted(sb.admin.rows("Lead"), key=lambda r: (r["ModifiedOn"], r["Id"]))[0]["Id"]

    with BpmOnlineHook(settings.bpmonline_conn_id) as real:
        hook = MeddlingHook(real, 5, lambda: sb.admin.delete("Lead", [first]))
        counts = _sync_with(url, settings, hook, full_refresh=True)

    assert first.lower() not in {r["Id"].lower() for r in sb.admin.rows("Lead")}
    assert counts["deleted"] == 0 and _marked(url) == set()
    with BpmOnlineHook(settings.bpmonline_conn_id) as hook:
        counts = _sync_with(url, settings, hook, full_refresh=True)
    assert _marked(url) == {first.lower()}
    assert counts["deleted"] == 1


def test_deals_inserted_and_modified_during_the_read_are_not_marked(airflow_connections, settings):
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    gone = sb.admin.rows("Lead")[3]["Id"]
    sb.admin.delete("Lead", [gone])
    inserted: list[str] = []

    def change() -> None:
        inserted.extend(sb.admin.insert("Lead", n=3))
        sb.admin.touch("Lead", count=10, title="changed mid-read")

    with BpmOnlineHook(settings.bpmonline_conn_id) as real:
        counts = _sync_with(url, settings, MeddlingHook(real, 30, change), full_refresh=True)

    deals = _deals(url)
    assert counts["deleted"] == 1 and _marked(url) == {gone.lower()}
    assert {i.lower() for i in inserted} <= deals.keys()
    assert len(deals) == len(sb.admin.rows("Lead")) + 1


def _sqlite(sb) -> sqlite3.Connection:
    return sqlite3.connect(sb.db_path, timeout=10, isolation_level=None)


def _lead_table(db: sqlite3.Connection) -> str:
    names = [n for (n,) in db.execute("select name from sqlite_master where type='table'")]
    return next(n for n in names if n.lower() in ("lead", "leads"))


def test_rejected_rows_with_upper_case_or_odd_ids_are_compared_right(airflow_connections, settings):
    """Rows whose Id comes in upper case, rejected or not, are the same deals
    (uuid is case-blind); a row whose Id is no GUID at all cannot be a stored
    deal, and the deal whose Id it replaced is gone from the CRM."""
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    leads = sb.admin.rows("Lead")
    upper_ok, upper_rejected, replaced = leads[0]["Id"], leads[1]["Id"], leads[2]["Id"]
    sb.admin.touch("Lead", ids=[upper_rejected], CreatedOn=None)  # a rejection
    db = _sqlite(sb)
    try:
        table = _lead_table(db)
        db.execute(
            f'update "{table}" set "Id" = upper("Id") where "Id" in (?, ?)',  # noqa: S608
            (upper_ok.lower(), upper_rejected.lower()),
        )
        db.execute(
            f'update "{table}" set "Id" = ? where "Id" = ?',  # noqa: S608 - sandbox table name
            ("not-a-guid", replaced.lower()),
        )
    finally:
        db.close()
    ids = {r["Id"] for r in sb.admin.rows("Lead")}
    assert upper_ok.upper() in ids and "not-a-guid" in ids, "the sandbox did not take the edit"

    counts = _full_refresh(settings)
    assert counts["rejected"] == 2  # no CreatedOn; an Id that is no GUID
    assert _marked(url) == {replaced.lower()}
    assert counts["deleted"] == 1


def test_an_empty_crm_marks_nothing(airflow_connections, settings, caplog):
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    sb.admin.delete("Lead", [r["Id"] for r in sb.admin.rows("Lead")])
    caplog.set_level(logging.WARNING, logger="roistat")
    counts = _full_refresh(settings)
    assert counts["rows_read"] == 0 and counts["deleted"] == 0
    assert _marked(url) == set()
    assert any("returned no ids at all" in r.getMessage() for r in caplog.records)


def test_a_crm_whose_every_row_is_rejected_still_counts_its_ids(airflow_connections, settings):
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    ids = [r["Id"] for r in sb.admin.rows("Lead")]
    sb.admin.touch("Lead", ids=ids, CreatedOn=None)
    counts = _full_refresh(settings)
    assert counts["rejected"] == len(ids) and counts["deleted"] == 0
    assert _marked(url) == set()


def test_a_failure_mid_read_rolls_back_and_marks_nothing(airflow_connections, settings):
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    before = _deals(url)
    gone = sb.admin.rows("Lead")[0]["Id"]
    sb.admin.delete("Lead", [gone])
    sb.admin.set_fault("status", entity="Lead", status=400, message="boom", after=4, times=None)
    with pytest.raises(Exception, match="boom|400"):
        _full_refresh(settings)
    assert _deals(url) == before
    with psycopg.connect(url) as conn:
        status = conn.execute(
            "select status from roistat.sync_run order by sync_run_id desc limit 1"
        ).fetchone()[0]
    assert status == "failed"
    sb.admin.clear_faults()
    counts = _full_refresh(settings)  # and the next run is not stuck on a leftover table
    assert counts["deleted"] == 1 and _marked(url) == {gone.lower()}


def test_a_failure_mid_read_on_one_connection_leaves_no_id_table_behind(
    airflow_connections, settings
):
    """sync_entity twice on ONE connection, the first dying mid-read."""
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _full_refresh(settings)
    gone = sb.admin.rows("Lead")[0]["Id"]
    sb.admin.delete("Lead", [gone])
    sb.admin.set_fault("status", entity="Lead", status=400, message="boom", after=3, times=1)
    with (
        BpmOnlineHook(settings.bpmonline_conn_id) as hook,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        with pytest.raises(Exception, match="boom|400"):
            sync_entity(hook, conn, settings, "lead", RunContext(params={"full_refresh": True}))
        counts = sync_entity(
            hook, conn, settings, "lead", RunContext(params={"full_refresh": True})
        )
    assert counts["deleted"] == 1 and _marked(url) == {gone.lower()}


def _id_scan_requests(sb) -> list[dict[str, Any]]:
    from urllib.parse import parse_qs

    return [
        r
        for r in sb.admin.counters()["requests"]
        if r.get("entity") == "Lead"
        and parse_qs(r.get("query", "")).get("$select") == ["Id,ModifiedOn"]
    ]


@pytest.mark.parametrize(
    ("params", "scans"),
    [
        pytest.param({"full_refresh": True}, False, id="full-refresh"),
        pytest.param({"reconcile": True}, False, id="initial-with-reconcile"),
        pytest.param({"reconcile": True, "start": "2020-01-01T00:00:00Z"}, True, id="start-only"),
        pytest.param({"reconcile": True, "end": "2100-01-01T00:00:00Z"}, True, id="end-only"),
        pytest.param(
            {"reconcile": True, "start": "2025-06-01T00:00:00Z", "end": "2025-09-01T00:00:00Z"},
            True,
            id="start-and-end",
        ),
    ],
)
def test_only_a_whole_entity_read_skips_the_id_scan(airflow_connections, settings, params, scans):
    """A window (even one that happens to cover everything) must still scan the ids:
    rows outside it were not read. Only a read of the whole entity may skip the scan."""
    sb, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    first_load = params.get("full_refresh") or set(params) == {"reconcile"}
    if not first_load:
        _full_refresh(settings)
        gone = sorted(sb.admin.rows("Lead"), key=lambda r: r["ModifiedOn"])[0]["Id"]
        sb.admin.delete("Lead", [gone])
    sb.admin.reset_counters()
    counts = run_entity_sync(
        "lead", params=params, data_interval_start=None, data_interval_end=None, settings=settings
    )
    assert bool(_id_scan_requests(sb)) == scans
    if first_load:
        assert counts["deleted"] == 0
    else:
        assert counts["deleted"] == 1 and _marked(url) == {gone.lower()}


def test_read_ids_batches_repeats_case_and_junk(warehouse_url):
    """ReadIds with a tiny batch: several COPYs mid-read, repeats, upper case, junk ids."""
    stored = [f"{n:08x}-0000-4000-8000-00000000000a" for n in range(7)]
    with psycopg.connect(warehouse_url, autocommit=True) as conn, conn.transaction():
        read_ids = ReadIds(conn, batch_size=3)
        for crm_id in stored[:6]:
            read_ids.add(crm_id)
        read_ids.add(stored[0])  # a modified row comes twice
        read_ids.add_unchecked(stored[6].upper())
        for junk in (None, "", "not-a-guid", 42, ["x"], "00000000-0000-0000-0000-000000000000"):
            read_ids.add_unchecked(junk)
        flushed = conn.execute("select count(*) from crm_ids").fetchone()[0]
        read_ids.flush()
        got = {str(r[0]) for r in conn.execute("select crm_id from crm_ids")}
    assert 0 < flushed < 8, "batches go to the table during the read"
    assert got == set(stored)
