"""The "Sent leads" page through FastAPI's test client: list, filters, paging, notices.

The rows come from a real sync of the sandbox (`synced_warehouse`), checked
against SQL straight from the view, or are inserted by the test for the edge
cases a generated CRM rarely has (equal timestamps, hostile titles).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from tests.web.sent_leads_support import (
    expected_keys,
    insert_deal,
    insert_sync_run,
    page_client,
    pager_link,
    row_keys,
    walk,
)

# -- the list after a real sync -------------------------------------------------------


def test_first_page_is_the_fifty_newest_deals(synced_client, synced_warehouse):
    response = synced_client.get("/sent-leads")

    assert response.status_code == 200
    assert row_keys(response.text) == expected_keys(synced_warehouse)[:50]
    assert 'data-testid="newer-page"' not in response.text


def test_older_pages_cover_the_whole_list_once_in_order(synced_client, synced_warehouse):
    pages = walk(synced_client, "/sent-leads")

    assert all(len(page) == 50 for page in pages[:-1])
    assert [key for page in pages for key in page] == expected_keys(synced_warehouse)


def _top_channel(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select channel from roistat.sent_leads where roistat_kind = 'visit' "
            "group by channel order by count(*) desc, channel limit 1"
        ).fetchone()[0]


def _some_row(url: str, where: str) -> dict:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            f"select * from roistat.sent_leads where {where} order by crm_id limit 1"  # noqa: S608
        ).fetchone()


@pytest.mark.parametrize(
    ("query", "where"),
    [
        pytest.param("entity=order", "entity = 'order'", id="entity"),
        pytest.param("status_group=paid", "status_group = 'paid'", id="status-group"),
        pytest.param(
            "entity=lead&status_group=rejected",
            "entity = 'lead' and status_group = 'rejected'",
            id="entity-and-group",
        ),
        pytest.param("channel=nocookie", "channel = 'nocookie'", id="channel-nocookie"),
        pytest.param(
            "from=2025-03-01&to=2025-05-31",
            "created_on >= '2025-03-01T00:00Z' and created_on < '2025-06-01T00:00Z'",
            id="date-range",
        ),
        pytest.param("q=ORD-", "title ilike '%ORD-%' or roistat_raw ilike '%ORD-%'", id="search"),
    ],
)
def test_filter_lists_exactly_the_matching_deals(synced_client, synced_warehouse, query, where):
    expected = expected_keys(synced_warehouse, where)
    assert expected, "the sandbox data should hold deals for this filter"

    pages = walk(synced_client, f"/sent-leads?{query}")

    assert [key for page in pages for key in page] == expected


def test_channel_filter_with_a_visit_marker(synced_client, synced_warehouse):
    channel = _top_channel(synced_warehouse)

    pages = walk(synced_client, f"/sent-leads?channel={channel}")

    expected = expected_keys(synced_warehouse, "channel = %s", (channel,))
    assert [key for page in pages for key in page] == expected


@pytest.mark.parametrize(
    ("column", "where"),
    [
        pytest.param("title", "entity = 'lead' and title is not null", id="title"),
        pytest.param("roistat_raw", "roistat_kind = 'visit'", id="roistat-value"),
        pytest.param("crm_id", "true", id="crm-id"),
    ],
)
def test_search_finds_a_deal_by_its_number_title_roistat_value_or_id(
    synced_client, synced_warehouse, column, where
):
    deal = _some_row(synced_warehouse, where)

    response = synced_client.get("/sent-leads", params={"q": str(deal[column])})

    assert (deal["entity"], str(deal["crm_id"])) in row_keys(response.text)


def test_filters_stay_in_the_links_and_the_form(synced_client):
    query = "entity=lead&status_group=processing&from=2024-01-01&q=a"
    response = synced_client.get(f"/sent-leads?{query}")
    text = response.text

    older = pager_link(text, "next")
    assert older is not None
    kept = parse_qs(urlsplit(older).query)
    assert kept["entity"] == ["lead"] and kept["status_group"] == ["processing"]
    assert kept["from"] == ["2024-01-01"] and kept["q"] == ["a"] and "after" in kept
    csv_link = re.search(r'href="([^"]+)" class="download"', text).group(1)
    assert "entity=lead&amp;status_group=processing" in csv_link
    assert '<option value="lead" selected>' in text
    assert '<option value="processing" selected>' in text
    assert 'name="q" value="a"' in text


def test_summary_totals_match_the_warehouse(synced_client, synced_warehouse):
    response = synced_client.get("/sent-leads/summary?entity=order")

    totals = {
        name: value.replace("\u202f", "")
        for name, value in re.findall(r'data-total="(\w+)">([^<]+)<', response.text)
    }
    with psycopg.connect(synced_warehouse) as conn:
        expected = conn.execute(
            """
            select
                count(*) filter (where status_group = 'paid'),
                count(*),
                coalesce(sum(revenue) filter (where status_group = 'paid'), 0),
                coalesce(sum(revenue) filter (where status_group in ('processing', 'paid')), 0)
            from roistat.sent_leads
            where entity = 'order' and excluded_at is null and deleted_at is null
            """
        ).fetchone()
    assert int(totals["paid"]) == expected[0]
    assert int(totals["deals"]) == expected[1]
    assert totals["revenue"] == f"{expected[2]:.2f}"
    assert totals["forecast_revenue"] == f"{expected[3]:.2f}"


def test_summary_chart_counts_deals_per_day_and_group(synced_client, synced_warehouse):
    response = synced_client.get("/sent-leads/summary?entity=lead")

    data = json.loads(
        re.search(r'id="sent-leads-chart-data">(.*?)</script>', response.text, re.S).group(1)
    )
    assert len(data["days"]) <= 90
    assert set(data["groups"]) == {"not_registered", "processing", "paid", "rejected"}
    with psycopg.connect(synced_warehouse) as conn:
        expected = conn.execute(
            """
            select count(*) from roistat.sent_leads
            where entity = 'lead' and excluded_at is null and deleted_at is null
                and created_date between %s and %s
            """,
            (data["days"][0], data["days"][-1]),
        ).fetchone()[0]
    assert sum(sum(counts) for counts in data["groups"].values()) == expected
    assert "<datalist" in response.text and "nocookie" in response.text


def test_page_reads_the_connection_the_settings_name(synced_warehouse, monkeypatch):
    from starlette.testclient import TestClient

    from roistat.sent_leads_app import create_app
    from roistat.sent_leads_auth import signed_in_user

    monkeypatch.setenv("AIRFLOW_CONN_ROISTAT_WAREHOUSE", synced_warehouse)
    monkeypatch.delenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", raising=False)
    app = create_app()
    app.dependency_overrides[signed_in_user] = lambda: "tester"

    with TestClient(app) as client:
        response = client.get("/sent-leads")

    assert response.status_code == 200
    assert len(row_keys(response.text)) == 50


# -- keyset paging on rows made by hand -------------------------------------------------


def _crowd(conn: psycopg.Connection) -> None:
    """130 deals: 40 and 45 sharing two instants, 5 without a creation time, 40 apart."""
    tie_a = datetime(2025, 6, 1, 10, 0, tzinfo=timezone.utc)
    tie_b = datetime(2025, 5, 20, 8, 30, 0, 123456, tzinfo=timezone.utc)
    for n in range(40):
        insert_deal(conn, entity="lead" if n % 2 else "order", created_on=tie_a, title=f"a{n}")
    for n in range(45):
        insert_deal(conn, entity="lead" if n % 3 else "order", created_on=tie_b, title=f"b{n}")
    for n in range(5):
        insert_deal(conn, created_on=None, title=f"none{n}")
    for n in range(40):
        insert_deal(conn, created_on=tie_a - timedelta(minutes=n + 1), title=f"c{n}")


def test_equal_timestamps_give_no_duplicates_or_gaps(warehouse, warehouse_url, client):
    _crowd(warehouse)

    pages = walk(client, "/sent-leads")

    assert [len(page) for page in pages] == [50, 50, 30]
    assert [key for page in pages for key in page] == expected_keys(warehouse_url)


def test_newer_links_walk_back_to_the_same_pages(warehouse, client):
    _crowd(warehouse)
    forward = walk(client, "/sent-leads")
    last = client.get("/sent-leads")
    url = pager_link(last.text, "next")
    url = pager_link(client.get(url).text, "next")  # the third page

    backward = walk(client, url, rel="prev")

    assert backward == list(reversed(forward))


def test_deals_added_while_paging_do_not_shift_the_next_page(warehouse, warehouse_url, client):
    _crowd(warehouse)
    before = expected_keys(warehouse_url)
    first = client.get("/sent-leads")

    for n in range(7):
        insert_deal(
            warehouse, created_on=datetime(2026, 1, 1, tzinfo=timezone.utc), title=f"new{n}"
        )
    second = client.get(pager_link(first.text, "next"))

    assert row_keys(second.text) == before[50:100]


def test_search_matches_wildcards_as_plain_text(warehouse, client):
    sure = insert_deal(warehouse, title="100% sure")
    insert_deal(warehouse, title="100 and sure")
    underscore = insert_deal(warehouse, title="a_b")
    insert_deal(warehouse, title="axb")

    percent = row_keys(client.get("/sent-leads", params={"q": "100%"}).text)
    under = row_keys(client.get("/sent-leads", params={"q": "a_b"}).text)

    assert percent == [("lead", str(sure))]
    assert under == [("lead", str(underscore))]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"q": "'; drop table roistat.deal; --"}, id="search"),
        pytest.param({"channel": "x' or '1'='1"}, id="channel"),
        pytest.param({"q": "%' or 1=1 or title ilike '%"}, id="search-like"),
    ],
)
def test_filter_values_reach_sql_as_values(warehouse, client, params):
    insert_deal(warehouse, title="an ordinary lead")

    response = client.get("/sent-leads", params=params)

    assert response.status_code == 200
    assert row_keys(response.text) == []
    assert warehouse.execute("select count(*) from roistat.deal").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("query", "name"),
    [
        pytest.param("entity=deal", "entity", id="entity"),
        pytest.param("status_group=won", "status_group", id="group"),
        pytest.param("from=2025-13-01", "from", id="date"),
        pytest.param("from=2025-05-02&to=2025-05-01", "to", id="range"),
        pytest.param("after=2025-01-01~lead~not-a-uuid", "after", id="position"),
        pytest.param("q=" + "x" * 201, "q", id="long-search"),
    ],
)
def test_a_bad_filter_is_a_400_that_names_it(client, query, name):
    response = client.get(f"/sent-leads?{query}")

    assert response.status_code == 400
    assert f"{name}:" in response.text


# -- escaping ---------------------------------------------------------------------------

HOSTILE = "<script>alert(1)</script>"


def test_hostile_text_from_the_crm_shows_as_text(warehouse, client):
    status_id = uuid.uuid4()
    warehouse.execute(
        "insert into roistat.status (entity, status_id, name, is_mapped) values ('lead', %s, %s, false)",
        (status_id, '<img src=x onerror="alert(2)">'),
    )
    insert_deal(
        warehouse,
        title=HOSTILE,
        status_id=status_id,
        roistat_raw='"><svg onload=alert(3)>',
        roistat_kind="marker",
        marker="<b>offline</b>",
    )
    insert_sync_run(warehouse, status="failed", error="</section><script>alert(4)</script>")

    page = client.get("/sent-leads")
    summary = client.get("/sent-leads/summary")

    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    for raw in (HOSTILE, "<img src=x", "<svg onload", "<script>alert(4)", "<b>offline</b>"):
        assert raw not in page.text
        assert raw not in summary.text
    assert "&lt;b&gt;offline&lt;/b&gt;" in summary.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


# -- empty state, notices, a broken warehouse ----------------------------------------------


def test_empty_state_before_the_schema_exists(empty_database_url):
    with page_client(empty_database_url) as client:
        response = client.get("/sent-leads")

    assert response.status_code == 200
    assert 'data-testid="empty-state"' in response.text
    assert "roistat_bpmonline_sync" in response.text and "full_refresh" in response.text
    assert client.get("/sent-leads/summary").text == ""


def test_empty_state_before_the_first_sync(client):
    response = client.get("/sent-leads")

    assert 'data-testid="empty-state"' in response.text
    assert "no sync has loaded" in response.text


def test_notice_lists_statuses_nobody_sorted(warehouse, client):
    insert_deal(warehouse)
    warehouse.execute(
        "insert into roistat.status (entity, status_id, name, is_mapped) values "
        "('lead', %s, 'Дубль', false), ('order', %s, '2. Confirmation', true)",
        (uuid.uuid4(), uuid.uuid4()),
    )

    text = client.get("/sent-leads").text

    notice = re.search(r'data-testid="notice-unmapped">(.*?)</section>', text, re.S).group(1)
    assert "Дубль" in notice and "Confirmation" not in notice
    assert "status_groups" in notice


def test_no_notices_when_all_is_well(warehouse, client):
    insert_deal(warehouse)
    insert_sync_run(warehouse, status="success")

    text = client.get("/sent-leads").text

    assert "notice-unmapped" not in text and "notice-failed-sync" not in text


def test_notice_when_the_last_sync_failed_links_to_its_run(warehouse, client):
    insert_deal(warehouse)
    at = datetime(2025, 5, 1, tzinfo=timezone.utc)
    insert_sync_run(warehouse, status="success", started_at=at)
    insert_sync_run(
        warehouse,
        status="failed",
        run_id="scheduled__2025-05-01T00:15:00+00:00",
        started_at=at + timedelta(minutes=15),
        error="HTTP 503 from GET /0/odata/Lead",
    )
    insert_sync_run(warehouse, entity="order", status="success", started_at=at)

    text = client.get("/sent-leads").text

    notices = re.findall(r'data-testid="notice-failed-sync">(.*?)</section>', text, re.S)
    assert len(notices) == 1
    assert "lead sync failed" in notices[0] and "HTTP 503" in notices[0]
    assert (
        'href="/dags/roistat_bpmonline_sync/runs/scheduled__2025-05-01T00%3A15%3A00%2B00%3A00"'
        in notices[0]
    )


def test_a_failed_run_followed_by_a_success_is_not_a_notice(warehouse, client):
    insert_deal(warehouse)
    at = datetime(2025, 5, 1, tzinfo=timezone.utc)
    insert_sync_run(warehouse, status="failed", started_at=at)
    insert_sync_run(warehouse, status="success", started_at=at + timedelta(minutes=15))

    assert "notice-failed-sync" not in client.get("/sent-leads").text


def test_an_unreachable_warehouse_is_a_503_without_secrets():
    url = "postgresql://reader:s3cret-pw@127.0.0.1:9/warehouse?connect_timeout=2"
    with page_client(url) as client:
        response = client.get("/sent-leads")

    assert response.status_code == 503
    assert "Check the warehouse connection" in response.text
    assert "s3cret-pw" not in response.text
