from __future__ import annotations

import psycopg

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
