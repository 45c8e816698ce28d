"""The loader against a real PostgreSQL: idempotent, order-independent, quarantine."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from roistat.deal_loader import DealLoader, DealRecord

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SYNC_1 = datetime(2025, 3, 2, tzinfo=UTC)
SYNC_2 = datetime(2025, 3, 3, tzinfo=UTC)

BUSINESS_COLUMNS = (
    "entity, crm_id, title, created_on, modified_on, status_id, status_group, roistat_raw, "
    "roistat_kind, visit_id, marker, revenue, first_cost, profit, filter_value, "
    "excluded_at is not null, paid_at is not null"
)


def _deal(n: int, **changes) -> DealRecord:
    record = DealRecord(
        entity="lead",
        crm_id=str(uuid.UUID(int=n)),
        title=f"Лид {n}",
        created_on=T0,
        modified_on=T0 + timedelta(minutes=n),
        status_id="d790a45d-03ff-4ddb-9dea-8087722c582c",
        status_group="processing",
        roistat_raw=str(1000 + n),
        roistat_kind="visit",
        visit_id=1000 + n,
        marker=None,
        revenue=Decimal("1234.56"),
        first_cost=None,
        profit=None,
        filter_value=None,
        passes_filter=True,
    )
    return replace(record, **changes)


def _load(url: str, records, synced_at=SYNC_1, batch_size=3):
    with psycopg.connect(url) as conn:
        with conn.transaction():
            loader = DealLoader(conn, sync_run_id=1, synced_at=synced_at, batch_size=batch_size)
            for record in records:
                loader.add(record)
            loader.flush()
    return loader.counts


def _table(url: str, columns: str = "*", table: str = "roistat.deal") -> list[tuple]:
    with psycopg.connect(url) as conn:
        query = f"select {columns} from {table}"  # noqa: S608 - the test's own constants
        return sorted(conn.execute(query).fetchall(), key=repr)


def test_new_then_rerun_writes_nothing(warehouse_url):
    records = [_deal(n) for n in range(1, 8)]
    first = _load(warehouse_url, records)
    assert (first.staged, first.loaded_new, first.loaded_changed) == (7, 7, 0)
    before = _table(warehouse_url)
    history_before = _table(warehouse_url, table="roistat.deal_status_history")

    second = _load(warehouse_url, records, synced_at=SYNC_2)
    assert (second.loaded_new, second.loaded_changed, second.loaded_unchanged) == (0, 0, 7)
    # byte-identical, bookkeeping columns included
    assert _table(warehouse_url) == before
    assert _table(warehouse_url, table="roistat.deal_status_history") == history_before


def test_newer_version_wins_in_any_order(warehouse_url, empty_database_url, warehouse_server):
    old = [_deal(n) for n in range(1, 6)]
    new = [
        _deal(n, modified_on=T0 + timedelta(days=1), status_group="paid", revenue=Decimal(n))
        for n in (2, 4)
    ]

    _load(warehouse_url, old)
    _load(warehouse_url, new)
    forward = _table(warehouse_url, BUSINESS_COLUMNS)

    other = warehouse_server.create_scratch_database()
    try:
        url = warehouse_server.url_for(other)
        from roistat.warehouse_schema import deploy_schema_at

        deploy_schema_at(url)
        _load(url, new)
        _load(url, old)
        backward = _table(url, BUSINESS_COLUMNS)
        assert _table(url, "entity, crm_id, modified_on", "roistat.deal_status_history") == _table(
            warehouse_url, "entity, crm_id, modified_on", "roistat.deal_status_history"
        )
    finally:
        warehouse_server.drop_database(other)
    assert forward == backward
    assert sum(1 for row in forward if row[6] == "paid") == 2


def test_duplicate_ids_in_one_batch_keep_the_newest(warehouse_url):
    older = _deal(1)
    newer = _deal(1, modified_on=older.modified_on + timedelta(seconds=1), title="renamed")
    counts = _load(warehouse_url, [newer, older], batch_size=10)
    assert counts.loaded_new == 1
    assert _table(warehouse_url, "title") == [("renamed",)]


def test_paid_at_is_set_once(warehouse_url):
    _load(warehouse_url, [_deal(1)], synced_at=SYNC_1)
    assert _table(warehouse_url, "paid_at") == [(None,)]
    paid = _deal(1, modified_on=T0 + timedelta(days=1), status_group="paid")
    _load(warehouse_url, [paid], synced_at=SYNC_2)
    assert _table(warehouse_url, "paid_at") == [(SYNC_2,)]
    back = _deal(1, modified_on=T0 + timedelta(days=2), status_group="processing")
    _load(warehouse_url, [back], synced_at=SYNC_2 + timedelta(days=1))
    paid_again = _deal(1, modified_on=T0 + timedelta(days=3), status_group="paid")
    _load(warehouse_url, [paid_again], synced_at=SYNC_2 + timedelta(days=2))
    assert _table(warehouse_url, "paid_at") == [(SYNC_2,)]


def test_filter_failure_sets_excluded_at_and_passing_again_clears_it(warehouse_url):
    _load(warehouse_url, [_deal(1)], synced_at=SYNC_1)
    failing = _deal(1, modified_on=T0 + timedelta(days=1), passes_filter=False)
    counts = _load(warehouse_url, [failing], synced_at=SYNC_2)
    assert counts.excluded == 1
    assert _table(warehouse_url, "excluded_at") == [(SYNC_2,)]
    passing = _deal(1, modified_on=T0 + timedelta(days=2))
    _load(warehouse_url, [passing], synced_at=SYNC_2 + timedelta(days=1))
    assert _table(warehouse_url, "excluded_at") == [(None,)]


def test_rejected_row_is_kept_with_reason_and_payload_then_resolved(warehouse_url):
    crm_id = str(uuid.UUID(int=9))
    with psycopg.connect(warehouse_url) as conn, conn.transaction():
        loader = DealLoader(conn, sync_run_id=1, synced_at=SYNC_1)
        loader.reject(
            entity="lead",
            crm_id=crm_id,
            modified_on="2025-03-01T12:00:00.0000000Z",
            reason="Budget: cannot read money value '12,5,0'",
            raw_payload={"Id": crm_id, "Budget": "12,5,0", "LeadName": "nul\x00 and \ud800"},
        )
        loader.flush()  # a rejection is written with the batch being filled
    rows = _table(
        warehouse_url,
        "crm_id, reason, raw_payload ->> 'Budget', resolved_at",
        "roistat.rejected_record",
    )
    assert rows == [(crm_id, "Budget: cannot read money value '12,5,0'", "12,5,0", None)]

    _load(warehouse_url, [_deal(9)], synced_at=SYNC_2)
    assert _table(warehouse_url, "resolved_at", "roistat.rejected_record") == [(SYNC_2,)]


def test_a_failed_transaction_leaves_nothing(warehouse_url):
    with pytest.raises(RuntimeError), psycopg.connect(warehouse_url) as conn, conn.transaction():
        loader = DealLoader(conn, sync_run_id=1, synced_at=SYNC_1, batch_size=2)
        for n in range(1, 6):
            loader.add(_deal(n))
        raise RuntimeError("the task died mid-load")
    assert _table(warehouse_url) == []


def test_an_older_version_replayed_after_a_newer_one_changes_nothing(warehouse_url):
    older = [_deal(n) for n in range(1, 5)]
    newer = [_deal(n, modified_on=T0 + timedelta(days=1), title=f"new {n}") for n in range(1, 5)]
    _load(warehouse_url, older, synced_at=SYNC_1)
    _load(warehouse_url, newer, synced_at=SYNC_2)
    before = _table(warehouse_url)
    history_before = _table(warehouse_url, table="roistat.deal_status_history")

    replay = _load(warehouse_url, older, synced_at=SYNC_2 + timedelta(days=1))
    assert (replay.staged, replay.loaded_new, replay.loaded_changed) == (4, 0, 0)
    # not a column moves, last_synced_at and sync_run_id included
    assert _table(warehouse_url) == before
    assert _table(warehouse_url, table="roistat.deal_status_history") == history_before


def test_versions_of_a_deal_in_different_batches_of_one_load(warehouse_url):
    older = _deal(1)
    newer = _deal(1, modified_on=older.modified_on + timedelta(seconds=1), title="renamed")
    for order in ([newer, older], [older, newer]):
        with psycopg.connect(warehouse_url) as conn:
            conn.execute("truncate roistat.deal, roistat.deal_status_history")
        counts = _load(warehouse_url, order, batch_size=1)
        assert counts.staged == 2
        assert counts.loaded_new == 1
        assert _table(warehouse_url, "title") == [("renamed",)]
        # each batch records the version it saw
        assert len(_table(warehouse_url, table="roistat.deal_status_history")) == 2


def test_at_an_equal_modified_on_the_content_decides_in_any_order(warehouse_url):
    one = _deal(1, title="one")
    other = _deal(1, title="other")
    results = []
    for order in ([one, other], [other, one], [one], [other]):
        with psycopg.connect(warehouse_url) as conn:
            conn.execute("truncate roistat.deal, roistat.deal_status_history")
        for record in order:
            _load(warehouse_url, [record])
        results.append(_table(warehouse_url, "title, content_hash"))
    # both orders keep the same version: the one with the larger content hash
    assert results[0] == results[1]
    assert results[0] in (results[2], results[3])


def test_a_newer_version_with_the_same_content_keeps_last_changed_at(warehouse_url):
    _load(warehouse_url, [_deal(1)], synced_at=SYNC_1)
    touched = _deal(1, modified_on=T0 + timedelta(days=1))
    counts = _load(warehouse_url, [touched], synced_at=SYNC_2)
    assert counts.loaded_changed == 1
    assert _table(warehouse_url, "modified_on, last_synced_at, last_changed_at") == [
        (touched.modified_on, SYNC_2, SYNC_1)
    ]
    edited = _deal(1, modified_on=T0 + timedelta(days=2), title="edited")
    _load(warehouse_url, [edited], synced_at=SYNC_2 + timedelta(days=1))
    assert _table(warehouse_url, "last_changed_at") == [(SYNC_2 + timedelta(days=1),)]


def test_a_deleted_deal_sent_again_exists_again(warehouse_url):
    _load(warehouse_url, [_deal(1), _deal(2)], synced_at=SYNC_1)
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("update roistat.deal set deleted_at = %s", (SYNC_1,))
    _load(warehouse_url, [_deal(1, modified_on=T0 + timedelta(days=1))], synced_at=SYNC_2)
    assert _table(warehouse_url, "title, deleted_at") == [("Лид 1", None), ("Лид 2", SYNC_1)]


def test_a_history_row_already_there_is_kept(warehouse_url):
    # a status history row whose deal is missing from roistat.deal (removed by
    # hand, say): the load neither fails on it nor writes it twice
    record = _deal(1)
    with psycopg.connect(warehouse_url) as conn:
        conn.execute(
            "insert into roistat.deal_status_history "
            "(entity, crm_id, modified_on, status_group, observed_at) "
            "values ('lead', %s, %s, 'paid', %s)",
            (record.crm_id, record.modified_on, SYNC_1),
        )
    counts = _load(warehouse_url, [record], synced_at=SYNC_2)
    assert counts.loaded_new == 1
    assert _table(warehouse_url, "status_group, observed_at", "roistat.deal_status_history") == [
        ("paid", SYNC_1)
    ]


def test_values_round_trip_and_the_content_hash_is_the_documented_one(warehouse_url):
    # Stored hashes must stay comparable with those earlier versions wrote: the
    # md5 of the business columns' record text, whatever way the rows are sent.
    records = [
        _deal(
            1,
            crm_id=str(uuid.UUID(int=1)).upper(),
            title='quote " comma , paren ( backslash \\ newline \n emoji 🙂',
            created_on=datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
            status_id="D790A45D-03FF-4DDB-9DEA-8087722C582C",
            revenue=Decimal("1E+3"),
            first_cost=Decimal("-0.001"),
            profit=Decimal("1234.50"),
            visit_id=2**62,
            marker="",
            filter_value="x",
            passes_filter=False,
        ),
        _deal(2, title=None, created_on=None, status_id=None, revenue=None, visit_id=None),
    ]
    _load(warehouse_url, records)
    stored = _table(
        warehouse_url,
        "crm_id::text, title, created_on, status_id::text, revenue::text, first_cost::text, "
        "profit::text, visit_id, marker, content_hash = md5(row(title, created_on, status_id, "
        "roistat_raw, roistat_kind, visit_id, marker, revenue, first_cost, profit, filter_value, "
        "excluded_at is null)::text)",
    )
    assert stored == [
        (
            str(uuid.UUID(int=1)),
            records[0].title,
            records[0].created_on,
            "d790a45d-03ff-4ddb-9dea-8087722c582c",
            "1000",
            "-0.001",
            "1234.50",
            2**62,
            "",
            True,
        ),
        (str(uuid.UUID(int=2)), None, None, None, None, None, None, None, None, True),
    ]
