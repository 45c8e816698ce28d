from __future__ import annotations

import threading
import time

import psycopg
import pytest

from roistat.warehouse_schema import deploy_schema, deploy_schema_at

CONTRACT_TABLES = {"status", "deal", "sync_run"}
CONTRACT_VIEWS = {"sent_leads", "channel_report"}


def _relations(conn: psycopg.Connection) -> dict[str, str]:
    rows = conn.execute(
        "select table_name, table_type from information_schema.tables where table_schema = 'roistat'"
    ).fetchall()
    return dict(rows)


def _snapshot(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        """
        select table_name, column_name, data_type, is_nullable, column_default
        from information_schema.columns
        where table_schema = 'roistat'
        order by table_name, ordinal_position
        """
    ).fetchall()


def test_deploy_twice_on_a_fresh_database_gives_the_same_schema(empty_database_url):
    first = deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        after_first = _snapshot(conn)
    second = deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        after_second = _snapshot(conn)
        relations = _relations(conn)

    assert first == second
    assert after_first == after_second
    assert CONTRACT_TABLES <= {n for n, t in relations.items() if t == "BASE TABLE"}
    assert CONTRACT_VIEWS <= {n for n, t in relations.items() if t == "VIEW"}


def test_redeploy_keeps_loaded_rows(empty_database_url):
    deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        conn.execute(
            "insert into roistat.status (entity, status_id, name, status_group, is_mapped) "
            "values ('lead', 'd790a45d-03ff-4ddb-9dea-8087722c582c', 'Qualification', 'processing', true)"
        )
    deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        rows = conn.execute("select name, status_group from roistat.status").fetchall()
    assert rows == [("Qualification", "processing")]


def test_contract_columns_exist(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        columns = {(t, c) for t, c, *_ in _snapshot(conn)}
    expected = (
        {("status", c) for c in ("entity", "status_id", "name", "status_group", "is_mapped")}
        | {
            ("deal", c)
            for c in (
                "entity",
                "crm_id",
                "title",
                "created_on",
                "modified_on",
                "status_id",
                "status_group",
                "roistat_raw",
                "roistat_kind",
                "visit_id",
                "revenue",
                "first_cost",
                "profit",
                "paid_at",
                "excluded_at",
                "deleted_at",
            )
        }
        | {
            ("channel_report", c)
            for c in (
                "day",
                "entity",
                "channel",
                "deals",
                "not_registered",
                "processing",
                "paid",
                "rejected",
                "revenue",
                "forecast_revenue",
                "first_cost",
                "profit",
                "average_check",
                "conversion",
            )
        }
    )
    assert expected <= columns, sorted(expected - columns)


def test_a_failing_deploy_leaves_nothing_half_done(empty_database_url, monkeypatch, tmp_path):
    good = tmp_path / "sql" / "deploy"
    good.mkdir(parents=True)
    (good / "010_ok.sql").write_text(
        "create schema if not exists roistat; create table roistat.t1 (x int);"
    )
    (good / "020_broken.sql").write_text("create table roistat.t2 (x no_such_type);")
    monkeypatch.setenv("ROISTAT_INCLUDE_DIR", str(tmp_path))
    with psycopg.connect(empty_database_url) as conn:
        try:
            deploy_schema(conn)
        except psycopg.errors.UndefinedObject:
            pass
        else:  # pragma: no cover
            raise AssertionError("the broken DDL file should have failed the deploy")
    with psycopg.connect(empty_database_url) as conn:
        assert _relations(conn) == {}


def _deal_indexes(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "select indexname from pg_indexes where schemaname = 'roistat' and tablename = 'deal'"
    ).fetchall()
    return {name for (name,) in rows}


def test_redeploy_drops_the_deal_indexes_no_query_reads(empty_database_url):
    deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        # what the first release built (pg_trgm or not)
        conn.execute("create index deal_created_on_idx on roistat.deal (created_on)")
        conn.execute("create index deal_modified_on_idx on roistat.deal (entity, modified_on)")
        conn.execute("create index deal_visit_id_idx on roistat.deal (visit_id)")
        conn.execute("create index deal_crm_id_idx on roistat.deal (crm_id)")
    deploy_schema_at(empty_database_url)
    deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert _deal_indexes(conn) == {"deal_pkey", "deal_sent_leads_order_idx"}


def test_the_search_indexes_come_and_go_with_pg_trgm(empty_database_url):
    with psycopg.connect(empty_database_url) as conn:
        if conn.execute("select 1 from pg_available_extensions where name = 'pg_trgm'").fetchone():
            conn.execute("create extension pg_trgm")
        else:  # pragma: no cover - a server built without contrib
            pytest.skip("pg_trgm is not available on this server")
    deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert _deal_indexes(conn) == {
            "deal_pkey",
            "deal_sent_leads_order_idx",
            "deal_sent_leads_search_idx",
            "deal_crm_id_idx",
            "deal_visit_id_idx",
        }
        conn.execute("drop extension pg_trgm cascade")
    deploy_schema_at(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        assert _deal_indexes(conn) == {"deal_pkey", "deal_sent_leads_order_idx"}


def test_a_deploy_during_a_sync_waits_for_it_instead_of_deadlocking(warehouse_url):
    # A sync's transaction writes roistat.deal, then roistat.sync_run (finish_run).
    # A deploy started in between must queue behind it, not take sync_run first.
    outcome: dict[str, object] = {}

    def deploy() -> None:
        try:
            deploy_schema_at(warehouse_url)
            outcome["deployed"] = True
        except psycopg.Error as exc:  # pragma: no cover - the failure being tested
            outcome["error"] = exc

    with psycopg.connect(warehouse_url) as sync, psycopg.connect(warehouse_url) as probe:
        run_id = sync.execute(
            "insert into roistat.sync_run (entity, mode) values ('lead', 'full') "
            "returning sync_run_id"
        ).fetchone()[0]
        sync.commit()
        sync.execute("lock table roistat.deal in row exclusive mode")  # what the merge holds
        deployer = threading.Thread(target=deploy)
        deployer.start()
        deadline = time.monotonic() + 30
        while not probe.execute(
            "select exists (select 1 from pg_locks join pg_database as d on d.oid = database "
            "where not granted and d.datname = current_database())"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the deploy never waited for the sync"
            time.sleep(0.05)
        sync.execute(
            "update roistat.sync_run set status = 'success' where sync_run_id = %s", (run_id,)
        )
        sync.commit()
        deployer.join(timeout=60)
    assert outcome == {"deployed": True}
