"""Measure the "Sent leads" page on a warehouse of a million deals.

    python -m bench.sent_leads_page [--deals N] [--runs N] [--keep | --database NAME]

1. a scratch database on the test PostgreSQL (roistat.warehouse_server) gets
   the warehouse schema and N deals (1,000,000 by default) made by
   `generate_series` straight into roistat.deal, with realistic shares: two
   leads to one order, most deals recent, 70 % with a visit number spread over
   twenty channels, groups as a sales funnel leaves them, a few excluded,
   deleted and once-rejected rows, and two statuses nobody sorted;
2. the page's FastAPI app (sign-in replaced by a fixed user: this measures the
   page, not the auth manager) renders, through Starlette's test client:
   the first page, a page 900,000 rows deep (keyset), a filtered page, a
   search, and the totals with the chart; each `--runs` times after a warm-up,
   reported as median and p95 in milliseconds, 50 rows a page;
3. the CSV download of every row: time, rows, and how much the process grew.

The database is dropped afterwards unless --keep; --database reuses a kept one.
--json PATH also writes the figures there.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from roistat.warehouse_schema import deploy_schema
from roistat.warehouse_server import find_server

# The example settings' standard stages (include/config/integration.yaml), and
# two statuses nobody has sorted, as a fresh CRM customisation leaves them.
STATUSES = [
    ("lead", "d790a45d-03ff-4ddb-9dea-8087722c582c", "Qualification", "processing", True),
    ("lead", "14cfc644-e3ed-497e-8279-ed4319bb8093", "Nurturing", "processing", True),
    ("lead", "ceb70b3c-985f-4867-ae7c-88f9dd710688", "Handoff to sales", "processing", True),
    ("lead", "0a0808c5-5415-41f0-bea3-118cc3089959", "Satisfied", "paid", True),
    ("lead", "128c3718-771a-4d1e-9035-6fa135ca5f70", "Disqualified", "rejected", True),
    ("lead", "51adc3ec-3503-4b10-a00b-8be3b0e11f08", "Not interested", "rejected", True),
    ("lead", "4f8d0f52-7d54-4bb0-9f4e-0a5b1c2d3e4f", "Дубль", "not_registered", False),
    ("order", "1f3ad326-effd-4ac3-a3e2-957e7def3684", "1. Draft", "processing", True),
    ("order", "29fa66e3-ef69-4feb-a5af-ec1de125a614", "2. Confirmation", "processing", True),
    ("order", "c8742634-ea8b-46d9-ba71-1989b951772d", "3. In progress", "processing", True),
    ("order", "40de86ee-274d-4098-9b92-9ebdcf83d4fc", "4. Completed", "paid", True),
    ("order", "8ab0f830-908b-40d7-80a3-7f49ef70ce70", "5. Canceled", "rejected", True),
    ("order", "9b1e6a3c-2f4d-4e5a-8b7c-6d5e4f3a2b1c", "Test order", "not_registered", False),
]

CHANNELS = [
    "google_cpc_brand",
    "google_cpc_generic",
    "yandex_direct_search",
    "yandex_direct_rsya",
    "facebook_ads",
    "vk_ads",
    "instagram_stories",
    "email_newsletter",
    "email_trigger",
    "seo_google",
    "seo_yandex",
    "direct",
    "referral_partners",
    "telegram_channel",
    "youtube_video",
    "tiktok_ads",
    "mytarget",
    "avito",
    "2gis",
    "offline_events",
]

GENERATE_VISITS = """
insert into roistat.visit (visit_id, visit_date, marker, utm_source, utm_medium)
select
    v,
    now() - interval '760 days' * power(random(), 1.6),
    (%(channels)s::text[])[1 + floor(power(random(), 1.8) * %(channel_count)s)::int],
    'src',
    'cpc'
from generate_series(1, %(visits)s) as v
"""

# One row of random draws per deal, then the deal built from them, so that
# each deal's columns agree with each other (a paid deal has paid_at, ...).
GENERATE_DEALS = """
insert into roistat.deal (
    entity, crm_id, title, created_on, modified_on, status_id, status_group,
    roistat_raw, roistat_kind, visit_id, marker, revenue, first_cost, profit,
    paid_at, excluded_at, deleted_at, first_synced_at, last_synced_at,
    last_changed_at, content_hash, sync_run_id
)
with draws as (
    select
        i,
        case when random() < 0.66 then 'lead' else 'order' end as entity,
        date_trunc('milliseconds', now() - interval '730 days' * power(random(), 1.6))
            as created_on,
        random() as r_status,
        random() as r_kind,
        random() as r_money,
        random() as r_visit,
        random() as r_marks,
        random() as r_age
    from generate_series(1, %(deals)s) as i
),

shaped as (
    select
        d.*,
        case
            when d.entity = 'lead' then (
                array[
                    'd790a45d-03ff-4ddb-9dea-8087722c582c', 'd790a45d-03ff-4ddb-9dea-8087722c582c',
                    '14cfc644-e3ed-497e-8279-ed4319bb8093', 'ceb70b3c-985f-4867-ae7c-88f9dd710688',
                    '0a0808c5-5415-41f0-bea3-118cc3089959', '0a0808c5-5415-41f0-bea3-118cc3089959',
                    '128c3718-771a-4d1e-9035-6fa135ca5f70', '51adc3ec-3503-4b10-a00b-8be3b0e11f08',
                    '128c3718-771a-4d1e-9035-6fa135ca5f70', '4f8d0f52-7d54-4bb0-9f4e-0a5b1c2d3e4f'
                ]
            )[1 + floor(d.r_status * 10)::int]::uuid
            else (
                array[
                    '1f3ad326-effd-4ac3-a3e2-957e7def3684', '29fa66e3-ef69-4feb-a5af-ec1de125a614',
                    'c8742634-ea8b-46d9-ba71-1989b951772d', '40de86ee-274d-4098-9b92-9ebdcf83d4fc',
                    '40de86ee-274d-4098-9b92-9ebdcf83d4fc', '40de86ee-274d-4098-9b92-9ebdcf83d4fc',
                    '8ab0f830-908b-40d7-80a3-7f49ef70ce70', '8ab0f830-908b-40d7-80a3-7f49ef70ce70',
                    '40de86ee-274d-4098-9b92-9ebdcf83d4fc', '9b1e6a3c-2f4d-4e5a-8b7c-6d5e4f3a2b1c'
                ]
            )[1 + floor(d.r_status * 10)::int]::uuid
        end as status_id,
        case
            when d.r_kind < 0.70 then 'visit'
            when d.r_kind < 0.78 then 'nocookie'
            when d.r_kind < 0.90 then 'empty'
            when d.r_kind < 0.95 then 'marker'
            else 'invalid'
        end as roistat_kind,
        -- 3 percent of visit numbers point past the loaded visits: "unknown visit"
        1 + floor(d.r_visit * %(visits)s * 1.03)::bigint as visit_number
    from draws as d
),

priced as (
    select
        s.*,
        st.status_group,
        case
            when s.entity = 'order' or s.r_money < 0.6
                then round((300 + power(s.r_money, 2) * 90000)::numeric, 2)
        end as revenue
    from shaped as s
    left join roistat.status as st
        on st.entity = s.entity
        and st.status_id = s.status_id
)

select
    p.entity,
    gen_random_uuid(),
    case
        when p.entity = 'order' then 'ORD-' || lpad(p.i::text, 8, '0')
        when p.i %% 3 = 0 then 'Заявка с сайта №' || p.i
        when p.i %% 3 = 1 then 'Callback request ' || p.i
        else 'Лид ' || p.i || ' (звонок)'
    end,
    p.created_on,
    least(now(), p.created_on + interval '20 days' * p.r_age),
    p.status_id,
    coalesce(p.status_group, 'not_registered'),
    case p.roistat_kind
        when 'visit' then p.visit_number::text
        when 'nocookie' then 'nocookie'
        when 'empty' then null
        when 'marker' then 'offline_' || (array['fair', 'radio', 'flyer'])[1 + p.i %% 3]
        else '{visit}'
    end,
    p.roistat_kind,
    case when p.roistat_kind = 'visit' then p.visit_number end,
    case
        when p.roistat_kind = 'marker'
            then 'offline_' || (array['fair', 'radio', 'flyer'])[1 + p.i %% 3]
    end,
    p.revenue,
    case when p.entity = 'order' then round(p.revenue * 0.62, 2) end,
    case when p.entity = 'order' then p.revenue - round(p.revenue * 0.62, 2) end,
    case
        when p.status_group = 'paid'
            then least(now(), p.created_on + interval '10 days' * p.r_age)
    end,
    case when p.r_marks < 0.01 then p.created_on + interval '30 days' end,
    case when p.r_marks > 0.995 then p.created_on + interval '40 days' end,
    p.created_on + interval '15 minutes',
    least(now(), p.created_on + interval '20 days' * p.r_age + interval '15 minutes'),
    p.created_on + interval '15 minutes',
    md5(p.i::text),
    1
from priced as p
"""

MARK_ONCE_REJECTED = """
insert into roistat.rejected_record
    (entity, crm_id, modified_on, reason, raw_payload, first_rejected_at, resolved_at)
select
    d.entity,
    d.crm_id::text,
    d.modified_on::text,
    'money: "12,3,4" is not an amount',
    '{}'::jsonb,
    d.first_synced_at,
    d.last_synced_at
from roistat.deal as d tablesample bernoulli (0.3)
"""

SYNC_RUNS = """
insert into roistat.sync_run
    (dag_id, run_id, entity, mode, status, rows_read, started_at, finished_at, error)
values
    ('roistat_bpmonline_sync', 'scheduled__bench_1', 'lead', 'window', 'success', 1000,
     now() - interval '20 minutes', now() - interval '19 minutes', null),
    ('roistat_bpmonline_sync', 'scheduled__bench_1', 'order', 'window', 'success', 1000,
     now() - interval '20 minutes', now() - interval '19 minutes', null),
    ('roistat_bpmonline_sync', 'scheduled__bench_2', 'order', 'window', 'failed', 0,
     now() - interval '5 minutes', now() - interval '4 minutes',
     'HTTP 503 Service Unavailable from GET /0/odata/Order')
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=40, help="timed requests per case")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--database", help="reuse this kept database (skips generation)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    server = find_server()
    name = args.database or server.create_scratch_database("roistat_bench_sent_leads")
    url = server.url_for(name)
    results: dict[str, Any] = {"database": name}
    try:
        if not args.database:
            results["generation_s"] = fill_warehouse(url, args.deals)
        with psycopg.connect(url) as conn:
            results["deals"] = conn.execute("select count(*) from roistat.deal").fetchone()[0]
        results["pages_ms"] = measure_pages(url, args.runs)
        results["csv"] = measure_export(url)
    finally:
        if not (args.keep or args.database):
            server.drop_database(name)
    _print(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


def fill_warehouse(url: str, deals: int) -> float:
    """Deploy the schema and generate `deals` deals; return the seconds it took."""
    started = time.monotonic()
    visits = max(1, int(deals * 0.7))
    print(f"generating {deals:,} deals and {visits:,} visits ...", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        deploy_schema(conn)
        with conn.transaction():
            conn.cursor().executemany(
                "insert into roistat.status (entity, status_id, name, status_group, is_mapped) "
                "values (%s, %s, %s, %s, %s)",
                STATUSES,
            )
            conn.execute(
                GENERATE_VISITS,
                {"channels": CHANNELS, "channel_count": len(CHANNELS), "visits": visits},
            )
            conn.execute(GENERATE_DEALS, {"deals": deals, "visits": visits})
            conn.execute(MARK_ONCE_REJECTED)
            conn.execute(SYNC_RUNS)
        # The visibility map and statistics a warehouse has after autovacuum.
        conn.execute("vacuum analyze roistat.deal")
        conn.execute("vacuum analyze roistat.visit")
        conn.execute("vacuum analyze roistat.rejected_record")
    took = time.monotonic() - started
    print(f"generated in {took:.0f} s", flush=True)
    return round(took, 1)


def measure_pages(url: str, runs: int) -> dict[str, dict[str, float]]:
    """Time each case through the page's app; return median and p95 per case."""
    from starlette.testclient import TestClient

    from roistat.sent_leads_app import create_app
    from roistat.sent_leads_auth import signed_in_user

    deep = _position_at(url, 900_000)
    app = create_app(connect=lambda: psycopg.connect(url, autocommit=True))
    app.dependency_overrides[signed_in_user] = lambda: "bench"
    cases = {
        "first page": "/sent-leads",
        "page 900,000 rows deep (keyset)": f"/sent-leads?after={deep}",
        "filtered: orders, paid, one channel, 2 months": (
            "/sent-leads?entity=order&status_group=paid&channel=seo_google"
            f"&from={_days_ago(url, 150)}&to={_days_ago(url, 90)}"
        ),
        "search: a title fragment": "/sent-leads?q=%D0%97%D0%B0%D1%8F%D0%B2%D0%BA%D0%B0+%D1%81",
        "totals and chart, no filter": "/sent-leads/summary",
        "totals and chart, orders": "/sent-leads/summary?entity=order",
    }
    timings = {}
    with TestClient(app) as client:
        for label, path in cases.items():
            timings[label] = _time(lambda path=path: _get(client, path), runs)
            print(f"  {label}: {timings[label]}", flush=True)
    return timings


def measure_export(url: str) -> dict[str, Any]:
    """Stream the whole list as CSV; return rows, seconds and the growth of the process."""
    from starlette.testclient import TestClient

    from roistat.sent_leads_app import create_app
    from roistat.sent_leads_auth import signed_in_user

    app = create_app(connect=lambda: psycopg.connect(url, autocommit=True))
    app.dependency_overrides[signed_in_user] = lambda: "bench"
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    lines = 0
    size = 0
    with TestClient(app) as client:
        with client.stream("GET", "/sent-leads/export.csv") as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
                size += len(chunk)
    took = time.monotonic() - started
    after_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": lines - 1,
        "seconds": round(took, 1),
        "megabytes": round(size / 2**20, 1),
        "peak_rss_growth_mib": round((after_kib - before_kib) / 1024, 1),
    }


def _get(client: Any, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")


def _time(call: Callable[[], None], runs: int) -> dict[str, float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 1),
        "runs": runs,
    }


def _position_at(url: str, offset: int) -> str:
    from roistat.sent_leads_query import NO_CREATION_TIME, PagePosition

    with psycopg.connect(url) as conn:
        row = conn.execute(
            """
            select created_on, entity, crm_id
            from roistat.deal
            order by coalesce(created_on, '-infinity'::timestamptz) desc, entity desc, crm_id desc
            offset %s
            limit 1
            """,
            (offset,),
        ).fetchone()
    if row is None:
        raise SystemExit(f"fewer than {offset:,} deals: run with more --deals")
    created_on, entity, crm_id = row
    sort = created_on.isoformat() if created_on else NO_CREATION_TIME
    return PagePosition(sort, entity, crm_id).encode().replace("+", "%2B")


def _days_ago(url: str, days: int) -> str:
    with psycopg.connect(url) as conn:
        return str(
            conn.execute("select (now() - make_interval(days => %s))::date", (days,)).fetchone()[0]
        )


def _print(results: dict[str, Any]) -> None:
    print(f"\n{results.get('deals', 0):,} deals in {results['database']}")
    if "generation_s" in results:
        print(f"generation: {results['generation_s']} s")
    print(f"{'case (50 rows a page)':48} {'median ms':>10} {'p95 ms':>8}")
    for label, timing in results["pages_ms"].items():
        print(f"{label:48} {timing['median_ms']:>10} {timing['p95_ms']:>8}")
    csv = results["csv"]
    print(
        f"CSV download: {csv['rows']:,} rows, {csv['megabytes']} MB in {csv['seconds']} s; "
        f"peak RSS grew {csv['peak_rss_growth_mib']} MiB"
    )


if __name__ == "__main__":
    main()
