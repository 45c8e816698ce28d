"""The incremental sync against the sandbox over real HTTP and a real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from roistat.settings import DEFAULT_SETTINGS_FILE, load_settings_file, parse_settings
from roistat.status_task import run_status_import
from roistat.sync_task import run_entity_sync
from roistat.warehouse_schema import deploy_schema_at

SATISFIED = "0a0808c5-5415-41f0-bea3-118cc3089959"  # a lead stage the example settings call paid
DEAL_COLUMNS = (
    "entity, crm_id, title, created_on, modified_on, status_id, status_group, roistat_raw, "
    "roistat_kind, visit_id, marker, revenue, first_cost, profit, filter_value, "
    "excluded_at is not null as excluded, paid_at is not null as paid, deleted_at"
)


def _sync(settings, entities=("lead", "order"), **params):
    run_status_import(settings)
    return {
        entity: run_entity_sync(
            entity,
            params=params,
            data_interval_start=None,
            data_interval_end=None,
            settings=settings,
        )
        for entity in entities
        if entity in settings.entities
    }


def _rows(url, query, params=None):
    with psycopg.connect(url) as conn:
        return sorted(conn.execute(query, params).fetchall(), key=repr)


def _dump(url):
    """Every warehouse table a sync writes, whole (sync_run and watermark aside)."""
    return {
        table: _rows(url, f"select * from roistat.{table}")  # noqa: S608 - constant names
        for table in ("deal", "deal_status_history", "rejected_record", "status")
    }


@pytest.fixture
def settings():
    return load_settings_file(DEFAULT_SETTINGS_FILE)


def test_full_sync_loads_every_row_with_exact_money(airflow_connections, settings):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    counts = _sync(settings, full_refresh=True)

    leads, orders = sandbox.admin.rows("Lead"), sandbox.admin.rows("Order")
    assert counts["lead"]["rows_read"] == len(leads)
    assert counts["order"]["rows_read"] == len(orders)
    assert counts["lead"]["loaded_new"] + counts["lead"]["rejected"] == len(leads)

    stored = {
        row[0]: row[1:]
        for row in _rows(
            url,
            "select crm_id::text, revenue, first_cost, profit, modified_on from roistat.deal where entity = 'order'",
        )
    }
    for order in orders:
        revenue, first_cost, profit, modified_on = stored[order["Id"].lower()]
        assert revenue == order["Amount"]
        assert modified_on == order["ModifiedOn"]
        # first cost comes from UsrFirstCost (example settings); profit is derived
        assert first_cost == order["UsrFirstCost"]
        expected_profit = (
            None
            if order["Amount"] is None or order["UsrFirstCost"] is None
            else order["Amount"] - order["UsrFirstCost"]
        )
        assert profit == expected_profit
    kinds = _rows(
        url, "select roistat_kind, count(*), count(visit_id) from roistat.deal group by 1"
    )
    assert {kind for kind, *_ in kinds} == {"visit", "nocookie", "empty", "marker", "invalid"}
    for kind, total, with_visit in kinds:
        assert with_visit == (total if kind == "visit" else 0)


def test_incremental_run_after_changes_and_paid_at_set_once(airflow_connections, settings):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _sync(settings, full_refresh=True)
    not_paid = [
        r["Id"]
        for r in sandbox.admin.rows("Lead")
        if r["QualifyStatusId"] and r["QualifyStatusId"].lower() != SATISFIED
    ][:5]
    sandbox.admin.touch("Lead", ids=not_paid, QualifyStatusId=SATISFIED)

    counts = _sync(settings, entities=("lead",))  # no window, no params: from the watermark
    assert counts["lead"]["mode"] == "watermark"
    assert counts["lead"]["loaded_changed"] == 5
    paid = _rows(
        url,
        "select crm_id::text, status_group, paid_at from roistat.deal where paid_at is not null and entity = 'lead'",
    )
    moved = [row for row in paid if row[0] in {i.lower() for i in not_paid}]
    assert len(moved) == 5 and all(group == "paid" for _, group, _ in moved)
    first_paid_at = {crm_id: at for crm_id, _, at in moved}

    # leaves paid and comes back: paid_at stays the first time
    sandbox.admin.touch(
        "Lead", ids=not_paid[:2], QualifyStatusId="d790a45d-03ff-4ddb-9dea-8087722c582c"
    )
    _sync(settings, entities=("lead",))
    sandbox.admin.touch("Lead", ids=not_paid[:2], QualifyStatusId=SATISFIED)
    _sync(settings, entities=("lead",))
    after = {
        r[0]: r[1]
        for r in _rows(url, "select crm_id::text, paid_at from roistat.deal where entity = 'lead'")
    }
    assert all(after[crm_id] == at for crm_id, at in first_paid_at.items())
    history = _rows(
        url, "select count(*) from roistat.deal_status_history where crm_id = %s", (not_paid[0],)
    )
    assert history == [(4,)]  # first load, paid, back to qualification, paid again


def test_rerun_of_the_same_window_leaves_tables_byte_identical(airflow_connections, settings):
    url = airflow_connections["warehouse_url"]
    window = {"start": "2025-06-01T00:00:00Z", "end": "2025-09-01T00:00:00Z"}
    first = _sync(settings, **window)
    assert first["lead"]["loaded_new"] > 0
    before = _dump(url)
    second = _sync(settings, **window)
    assert _dump(url) == before
    assert second["lead"]["loaded_new"] == second["lead"]["loaded_changed"] == 0


def test_overlapping_windows_in_either_order_give_the_same_tables(
    airflow_connections, settings, warehouse_server
):
    url = airflow_connections["warehouse_url"]
    a = {"start": "2025-03-01T00:00:00Z", "end": "2025-07-01T00:00:00Z"}
    b = {"start": "2025-05-01T00:00:00Z", "end": "2025-10-01T00:00:00Z"}
    _sync(settings, **a)
    _sync(settings, **b)
    forward = _rows(url, f"select {DEAL_COLUMNS} from roistat.deal")  # noqa: S608

    other = warehouse_server.create_scratch_database()
    try:
        other_url = warehouse_server.url_for(other)
        deploy_schema_at(other_url)
        import os

        os.environ["AIRFLOW_CONN_ROISTAT_WAREHOUSE"] = other_url
        _sync(settings, **b)
        _sync(settings, **a)
        backward = _rows(other_url, f"select {DEAL_COLUMNS} from roistat.deal")  # noqa: S608
    finally:
        os.environ["AIRFLOW_CONN_ROISTAT_WAREHOUSE"] = url
        warehouse_server.drop_database(other)
    assert len(forward) > 0
    assert forward == backward


def test_filter_excludes_a_deal_that_used_to_pass(airflow_connections, caplog):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    settings = parse_settings(
        {"entities": ["lead"], "filter": {"field": "UsrBrand", "value": "(?i)^ромашка$"}},
        source="test",
    )
    counts = _sync(settings, full_refresh=True)
    leads = sandbox.admin.rows("Lead")
    romashka = [r["Id"].lower() for r in leads if r["UsrBrand"] == "Ромашка"]
    assert counts["lead"]["filtered_out"] == len(leads) - len(romashka)
    passing = _rows(url, "select crm_id::text from roistat.deal where excluded_at is null")
    assert sorted(c for (c,) in passing) == sorted(romashka)

    sandbox.admin.touch("Lead", ids=romashka[:1], UsrBrand="Acme")
    _sync(settings)
    excluded = _rows(
        url, "select excluded_at is not null from roistat.deal where crm_id = %s", (romashka[0],)
    )
    assert excluded == [(True,)]
    report_deals = _rows(url, "select coalesce(sum(deals), 0) from roistat.channel_report")
    assert report_deals == [(len(romashka) - 1,)]

    nothing = parse_settings(
        {"entities": ["lead"], "filter": {"field": "UsrBrand", "value": "^no such brand$"}},
        source="test",
    )
    with caplog.at_level(logging.WARNING, logger="roistat"):
        _sync(nothing, full_refresh=True)
    assert any("the filter matched none" in r.getMessage() for r in caplog.records)


def test_rows_that_break_a_rule_are_quarantined_and_the_run_goes_on(airflow_connections):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    # A text column used as the revenue field: what people type there is not always money.
    leads = sandbox.admin.rows("Lead")
    readable, unreadable = leads[0]["Id"], leads[1]["Id"]
    sandbox.admin.touch("Lead", ids=[readable], UsrBrand="1 234,56 руб.")
    sandbox.admin.touch("Lead", ids=[unreadable], UsrBrand="12,5,0")
    settings = parse_settings({"entities": ["lead"], "revenue_field": "UsrBrand"}, source="test")
    counts = _sync(settings, full_refresh=True)

    assert counts["lead"]["rejected"] > 0
    assert counts["lead"]["loaded_new"] + counts["lead"]["rejected"] == len(leads)
    assert _rows(url, "select revenue from roistat.deal where crm_id = %s", (readable,)) == [
        (Decimal("1234.56"),)
    ]
    assert _rows(url, "select count(*) from roistat.deal where crm_id = %s", (unreadable,)) == [
        (0,)
    ]
    reason, payload = _rows(
        url,
        "select reason, raw_payload ->> 'UsrBrand' from roistat.rejected_record where crm_id = %s",
        (unreadable.lower(),),
    )[0]
    assert "UsrBrand" in reason and payload == "12,5,0"


def test_team_edition_syncs_leads_only(airflow_connections):
    url = airflow_connections["warehouse_url"]
    settings = parse_settings({"entities": ["lead"]}, source="test")
    counts = _sync(settings, full_refresh=True)
    assert set(counts) == {"lead"}
    assert _rows(url, "select distinct entity from roistat.deal") == [("lead",)]
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        run_entity_sync(
            "order", params={}, data_interval_start=None, data_interval_end=None, settings=settings
        )


def test_backfill_interval_reads_exactly_its_window(airflow_connections, settings):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    stamps = sorted(row["ModifiedOn"] for row in sandbox.admin.rows("Lead"))
    start = stamps[len(stamps) // 2].replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=7)
    lookback = timedelta(hours=settings.lookback_hours)
    expected = sum(1 for stamp in stamps if start - lookback <= stamp < end)

    lead = run_entity_sync(
        "lead", params={}, data_interval_start=start, data_interval_end=end, settings=settings
    )
    span = _rows(url, "select min(modified_on), max(modified_on) from roistat.deal")[0]
    assert lead["rows_read"] == expected > 0
    assert span[0] >= start - lookback and span[1] < end


def test_reconciliation_marks_deals_deleted_in_the_crm(airflow_connections, settings):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _sync(settings, full_refresh=True)
    lead, order = sandbox.admin.rows("Lead")[0]["Id"], sandbox.admin.rows("Order")[0]["Id"]
    sandbox.admin.delete("Lead", [lead])
    sandbox.admin.delete("Order", [order])

    plain = _sync(settings)  # no reconcile: nothing is marked
    assert plain["lead"]["deleted"] == 0
    counts = _sync(settings, reconcile=True)
    assert (counts["lead"]["deleted"], counts["order"]["deleted"]) == (1, 1)
    marked = _rows(url, "select crm_id::text from roistat.deal where deleted_at is not null")
    assert marked == sorted([(lead.lower(),), (order.lower(),)])
    report = _rows(url, "select sum(deals) from roistat.channel_report")[0][0]
    assert report == len(
        _rows(url, "select 1 from roistat.deal where deleted_at is null and excluded_at is null")
    )


def test_crm_clock_labelled_z_in_local_time_is_corrected(airflow_connections, settings):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    sandbox.admin.set_quirks(clock_offset_minutes=180)
    shifted = parse_settings({"entities": ["order"], "crm_time_offset_minutes": 180}, source="test")
    _sync(shifted, full_refresh=True)
    stored = dict(_rows(url, "select crm_id::text, modified_on from roistat.deal"))
    truth = {row["Id"].lower(): row["ModifiedOn"] for row in sandbox.admin.rows("Order")}
    assert stored == truth
    # an explicit window is read in true UTC too
    start = sorted(truth.values())[len(truth) // 2]
    window = _sync(shifted, start=start.isoformat(), end=(start + timedelta(days=3)).isoformat())
    lookback = timedelta(hours=shifted.lookback_hours)
    expected = sum(1 for t in truth.values() if start - lookback <= t < start + timedelta(days=3))
    assert window["order"]["rows_read"] == expected


def test_full_refresh_finds_deletions_from_its_own_read(airflow_connections, settings, caplog):
    """A full refresh reads every row of the entity anyway: its reconciliation
    compares those ids instead of scanning them again. A row that breaks a rule
    is still in the CRM and must not be taken for deleted."""
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    _sync(settings, entities=("lead",), full_refresh=True)
    leads = sandbox.admin.rows("Lead")
    gone, broken = leads[0]["Id"], leads[1]["Id"]
    sandbox.admin.delete("Lead", [gone])
    sandbox.admin.touch("Lead", ids=[broken], CreatedOn=None)  # a rejection: no CreatedOn

    caplog.set_level(logging.INFO, logger="roistat")
    caplog.clear()
    counts = _sync(settings, entities=("lead",), full_refresh=True)

    assert counts["lead"]["rejected"] == 1
    assert counts["lead"]["deleted"] == 1
    marked = _rows(url, "select crm_id::text from roistat.deal where deleted_at is not null")
    assert marked == [(gone.lower(),)]
    reads = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Read ")]
    assert len([m for m in reads if " Lead rows " in m]) == 1, reads
