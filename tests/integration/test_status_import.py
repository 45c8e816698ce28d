"""The status import against the sandbox over real HTTP and a real PostgreSQL."""

from __future__ import annotations

import logging

import psycopg
import pytest

from roistat.settings import DEFAULT_SETTINGS_FILE, load_settings_file, parse_settings
from roistat.status_task import run_status_import

QUALIFICATION = "d790a45d-03ff-4ddb-9dea-8087722c582c"
SATISFIED = "0a0808c5-5415-41f0-bea3-118cc3089959"
DRAFT = "1f3ad326-effd-4ac3-a3e2-957e7def3684"


def _statuses(url: str) -> dict[tuple[str, str], tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select entity, status_id::text, name, status_group, is_mapped, vanished_at is not null, "
            "renamed_from from roistat.status"
        ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


@pytest.fixture
def settings():
    return load_settings_file(DEFAULT_SETTINGS_FILE)


def test_import_fills_status_with_groups_and_a_rerun_changes_nothing(airflow_connections, settings):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    counts = run_status_import(settings)

    expected_leads = {r["Id"].lower(): r["Name"] for r in sandbox.admin.rows("QualifyStatus")}
    expected_orders = {r["Id"].lower(): r["Name"] for r in sandbox.admin.rows("OrderStatus")}
    stored = _statuses(url)
    assert {sid: row[0] for (e, sid), row in stored.items() if e == "lead"} == expected_leads
    assert {sid: row[0] for (e, sid), row in stored.items() if e == "order"} == expected_orders
    assert stored[("lead", QUALIFICATION)][1:3] == ("processing", True)
    assert stored[("lead", SATISFIED)][1:3] == ("paid", True)
    assert stored[("order", DRAFT)][1:3] == ("processing", True)
    assert counts["lead"]["new"] == len(expected_leads)

    again = run_status_import(settings)
    assert _statuses(url) == stored
    for entity in ("lead", "order"):
        assert again[entity]["new"] == again[entity]["renamed"] == again[entity]["regrouped"] == 0


def test_rename_keeps_the_group_and_unsorted_statuses_are_reported(
    airflow_connections, settings, caplog
):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    run_status_import(settings)

    sandbox.admin.rename_status("QualifyStatus", SATISFIED, "Сделка закрыта")
    new_id = sandbox.admin.add_status("QualifyStatus", "Холодный лид")
    with caplog.at_level(logging.INFO, logger="roistat"):
        counts = run_status_import(settings)

    stored = _statuses(url)
    assert stored[("lead", SATISFIED)] == ("Сделка закрыта", "paid", True, False, "Satisfied")
    assert stored[("lead", new_id.lower())][1:3] == ("not_registered", False)
    assert counts["lead"]["renamed"] == 1 and counts["lead"]["new"] == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Холодный лид" in w and "not sorted into a group" in w for w in warnings)


def test_names_in_settings_resolve_and_survive_a_rename(airflow_connections):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    settings = parse_settings(
        {"entities": ["lead"], "status_groups": {"paid": ["satisfied"]}}, source="test"
    )
    run_status_import(settings)
    assert _statuses(url)[("lead", SATISFIED)][1:3] == ("paid", True)

    sandbox.admin.rename_status("QualifyStatus", SATISFIED, "Won")
    run_status_import(settings)
    assert _statuses(url)[("lead", SATISFIED)][:3] == ("Won", "paid", True)


def test_vanished_status_is_kept_and_flagged(airflow_connections, settings, caplog):
    sandbox, url = airflow_connections["bpmonline"], airflow_connections["warehouse_url"]
    extra = sandbox.admin.add_status("OrderStatus", "6. Архив")
    run_status_import(settings)
    sandbox.admin.delete_status("OrderStatus", extra)
    with caplog.at_level(logging.WARNING, logger="roistat"):
        counts = run_status_import(settings)
    assert counts["order"]["vanished"] == 1
    assert _statuses(url)[("order", extra.lower())][3] is True
    assert any("vanished from the CRM" in r.getMessage() for r in caplog.records)


def test_team_edition_reads_lead_stages_only(airflow_connections):
    url = airflow_connections["warehouse_url"]
    counts = run_status_import(parse_settings({"entities": ["lead"]}, source="test"))
    assert set(counts) == {"lead"}
    assert {e for e, _ in _statuses(url)} == {"lead"}


def test_the_sync_runs_import_moves_deals_only_when_a_status_changes_group(
    airflow_connections, settings
):
    """The sync DAG's import skips the sweep of every deal unless a status changed
    group; the hourly import sweeps and repairs a deal left in a stale group."""
    from roistat.sync_task import run_entity_sync

    url = airflow_connections["warehouse_url"]
    run_status_import(settings)
    run_entity_sync(
        "lead",
        params={"full_refresh": True},
        data_interval_start=None,
        data_interval_end=None,
        settings=settings,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        # a deal a racing sync loaded with the group its status had a moment ago
        stale = conn.execute(
            "update roistat.deal set status_group = 'rejected' where crm_id = "
            "(select crm_id from roistat.deal where entity = 'lead' and status_group = 'paid' "
            "limit 1) returning crm_id"
        ).fetchone()[0]

        def group():
            return conn.execute(
                "select status_group from roistat.deal where crm_id = %s", (stale,)
            ).fetchone()[0]

        counts = run_status_import(settings, sweep_deals=False)
        assert group() == "rejected" and counts["lead"]["deals_regrouped"] == 0
        counts = run_status_import(settings)
        assert group() == "paid" and counts["lead"]["deals_regrouped"] == 1

        # a status that changes group moves its deals even without the sweep
        moved = parse_settings(
            {"status_groups": {**settings.model_dump()["status_groups"], "paid": []}},
            source="test",
        )
        counts = run_status_import(moved, sweep_deals=False)
        assert counts["lead"]["deals_regrouped"] > 0 and group() != "paid"
