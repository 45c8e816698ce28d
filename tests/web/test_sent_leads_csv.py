"""The CSV download: header, every filtered row in list order, exact values, streamed."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

import psycopg

from roistat.sent_leads_csv import csv_chunks
from roistat.sent_leads_query import EXPORT_COLUMNS, SentLeadsFilters, iter_export
from tests.web.sent_leads_support import expected_keys, insert_deal


def _read(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


def test_csv_holds_every_filtered_row_in_list_order(synced_client, synced_warehouse):
    response = synced_client.get("/sent-leads/export.csv?entity=lead&status_group=processing")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="sent-leads-')
    assert response.text.splitlines()[0] == ",".join(EXPORT_COLUMNS)
    rows = _read(response)
    expected = expected_keys(synced_warehouse, "entity = 'lead' and status_group = 'processing'")
    assert [(row["entity"], row["crm_id"]) for row in rows] == expected


def test_csv_of_the_whole_list_matches_the_view(synced_client, synced_warehouse):
    rows = _read(synced_client.get("/sent-leads/export.csv"))

    assert [(row["entity"], row["crm_id"]) for row in rows] == expected_keys(synced_warehouse)


def test_csv_values_are_exact_and_text_is_quoted(warehouse, client):
    insert_deal(
        warehouse,
        entity="order",
        title='ORD-1, "rush"\nsecond line',
        revenue=Decimal("1234567.89"),
        first_cost=Decimal("0.10"),
        created_on=datetime(2025, 5, 1, 9, 30, 15, 250000, tzinfo=timezone.utc),
        excluded_at=datetime(2025, 5, 3, tzinfo=timezone.utc),
        roistat_raw="<script>alert(1)</script>",
        roistat_kind="invalid",
    )

    [row] = _read(client.get("/sent-leads/export.csv"))

    assert row["title"] == 'ORD-1, "rush"\nsecond line'
    assert row["revenue"] == "1234567.89" and row["first_cost"] == "0.10"
    assert row["profit"] == ""
    assert row["created_on"] == "2025-05-01T09:30:15.250000+00:00"
    assert row["excluded_at"] == "2025-05-03T00:00:00+00:00"
    assert row["was_rejected"] == "false" and row["is_status_mapped"] == "false"
    assert row["roistat_raw"] == "<script>alert(1)</script>"


def test_export_reads_through_a_server_side_cursor(warehouse, warehouse_url):
    for n in range(30):
        insert_deal(warehouse, title=f"lead {n}")

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        rows = iter_export(conn, SentLeadsFilters(), batch_rows=7)
        first = next(rows)
        with psycopg.connect(warehouse_url) as observer:
            cursors = observer.execute(
                "select count(*) from pg_stat_activity where query like 'FETCH FORWARD 7%%'"
                " or query like 'DECLARE%%sent_leads_export%%'"
            ).fetchone()[0]
        rest = list(rows)

    assert cursors == 1
    assert first[EXPORT_COLUMNS.index("title")].startswith("lead ")
    assert len(rest) == 29


def test_csv_leaves_in_chunks_not_one_body():
    rows = ((n, f"title {n}") for n in range(1234))

    chunks = list(csv_chunks(["n", "title"], rows, rows_per_chunk=500))

    assert len(chunks) == 3
    assert b"".join(chunks).count(b"\r\n") == 1235
