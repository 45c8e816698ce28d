"""`make demo`: the whole job against a local bpm'online and a real PostgreSQL.

Steps, each printed as it happens:
1. find PostgreSQL (ROISTAT_WAREHOUSE_URL, 127.0.0.1:5432, or embedded) and
   prepare the demo's database with the warehouse schema;
2. start the bpm'online sandbox with generated leads and orders;
3. load the sandbox's visits file (`airflow dags test roistat_visits_import`);
4. run the status import and a full sync (`airflow dags test roistat_bpmonline_sync`);
5. change some deals in the sandbox and run an incremental sync;
6. print the channel report's top rows and the deals per status group.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from roistat.warehouse_schema import deploy_schema_at
from roistat.warehouse_server import WAREHOUSE_URL_ENV, WarehouseServer, find_server
from scripts.sandbox_process import SandboxProcess, sandbox_process

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_DATABASE = "roistat_demo"
PAID_LEAD_STAGE = "0a0808c5-5415-41f0-bea3-118cc3089959"  # Satisfied
COMPLETED_ORDER = "40de86ee-274d-4098-9b92-9ebdcf83d4fc"  # 4. Completed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20000)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=0, help="sandbox port (0: any free port)")
    args = parser.parse_args()

    started = time.monotonic()
    server = find_server()
    warehouse_url = prepare_warehouse(server)

    _step(
        2,
        f"Starting the bpm'online sandbox ({args.leads:,} leads, {args.orders:,} orders, seed {args.seed})",
    )
    with sandbox_process(
        leads=args.leads,
        orders=args.orders,
        seed=args.seed,
        data_dir=REPO_ROOT / ".sandbox",
        port=args.port,
    ) as sandbox:
        info = sandbox.info()
        print(f"      serving at {sandbox.url}; log in .sandbox/sandbox.log")
        env = airflow_env(sandbox, warehouse_url)

        _step(3, "Loading the visits file into roistat.visit")
        visits_path = sandbox.ready.get("visits_path") or info.get("visits_path")
        _dags_test("roistat_visits_import", env, conf={"path": str(visits_path)})

        _step(
            4,
            "Status import and full sync: airflow dags test roistat_bpmonline_sync (full_refresh)",
        )
        _dags_test("roistat_bpmonline_sync", env, conf={"full_refresh": True})
        _print_last_runs(warehouse_url)

        _step(5, "Changing deals in the sandbox, then an incremental sync")
        changed = change_some_deals(sandbox)
        print(f"      {changed}")
        _dags_test("roistat_bpmonline_sync", env, logical_date=_next_quarter_hour())
        _print_last_runs(warehouse_url)

    _step(6, "Results")
    print_report(warehouse_url)
    print(f"\nDone in {time.monotonic() - started:.0f} s. Warehouse: {_safe(warehouse_url)}")
    print("Open the Airflow UI on the same data: make airflow  (then http://127.0.0.1:8080)")


def prepare_warehouse(server: WarehouseServer) -> str:
    _step(1, "Finding PostgreSQL and deploying the warehouse schema")
    if server.origin == WAREHOUSE_URL_ENV:
        url = server.url
        print(f"      using {WAREHOUSE_URL_ENV}: {_safe(url)}")
    else:
        # The demo's own database: start from an empty one every time.
        server.drop_database(DEMO_DATABASE)
        url = server.create_database(DEMO_DATABASE)
        print(f"      {server.origin}; fresh database {DEMO_DATABASE}: {_safe(url)}")
    print(f"      applied {', '.join(deploy_schema_at(url))}")
    return url


def airflow_env(sandbox: SandboxProcess, warehouse_url: str) -> dict[str, str]:
    """The environment `airflow` commands need: connections point at the demo's services."""
    env = os.environ.copy()
    env["ROISTAT_TASK_RETRIES"] = "0"  # fail at once rather than wait for a retry
    env["AIRFLOW_CONN_BPMONLINE_DEFAULT"] = json.dumps(
        {
            "conn_type": "bpmonline",
            "host": sandbox.url,
            "login": sandbox.ready.get("user", "Supervisor"),
            "password": sandbox.ready.get("password", "Supervisor"),
            "extra": {"odata_path": sandbox.ready.get("odata_path", "/0/odata")},
        }
    )
    env["AIRFLOW_CONN_ROISTAT_WAREHOUSE"] = warehouse_url
    return env


def change_some_deals(sandbox: SandboxProcess) -> str:
    """Pay some leads and complete some orders, as sales people would during the day."""
    import requests

    def touch(entity: str, count: int, **changes: str) -> int:
        response = requests.post(
            f"{sandbox.url}/_sandbox/touch",
            headers={"X-Sandbox-Admin": sandbox.admin_token},
            json={"entity": entity, "count": count, "changes": changes},
            timeout=60,
        )
        response.raise_for_status()
        return len(response.json()["ids"])

    leads = touch("Lead", 150, QualifyStatusId=PAID_LEAD_STAGE)
    orders = touch("Order", 100, StatusId=COMPLETED_ORDER)
    return f"{leads} leads moved to Satisfied (paid), {orders} orders to 4. Completed (paid)"


def print_report(url: str) -> None:
    with psycopg.connect(url) as conn:
        groups = conn.execute(
            """
            select entity, status_group, count(*), coalesce(sum(revenue), 0)
            from roistat.deal_attribution
            where excluded_at is null and deleted_at is null
            group by 1, 2
            order by 1, 2
            """
        ).fetchall()
        report = conn.execute(
            """
            select channel,
                   sum(deals) as deals,
                   sum(paid) as sales,
                   sum(revenue) as revenue,
                   sum(forecast_revenue) as forecast,
                   sum(profit) as profit,
                   round(sum(revenue) / nullif(sum(paid), 0), 2) as average_check,
                   round(sum(paid)::numeric / nullif(sum(deals), 0), 4) as conversion
            from roistat.channel_report
            group by channel
            order by revenue desc
            limit 10
            """
        ).fetchall()
    print("\n      Deals per status group:")
    print(f"      {'entity':8} {'group':15} {'deals':>8} {'revenue':>16}")
    for entity, group, deals, revenue in groups:
        print(f"      {entity:8} {group:15} {deals:>8,} {revenue:>16,.2f}")
    print("\n      roistat.channel_report, top channels by revenue (all days, both entities):")
    print(
        f"      {'channel':24} {'deals':>7} {'sales':>6} {'revenue':>15} {'forecast':>15} {'profit':>13} {'avg check':>11} {'conv.':>6}"
    )
    for channel, deals, sales, revenue, forecast, profit, check, conversion in report:
        print(
            f"      {channel[:24]:24} {deals:>7,} {sales:>6,} {revenue:>15,.2f} {forecast:>15,.2f} "
            f"{profit:>13,.2f} {check or 0:>11,.2f} {conversion or 0:>6.1%}"
        )


def _print_last_runs(url: str) -> None:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            select distinct on (entity) entity, mode, rows_read, loaded_new, loaded_changed,
                   loaded_unchanged, rejected, seconds
            from roistat.sync_run
            where status = 'success'
            order by entity, sync_run_id desc
            """
        ).fetchall()
    for entity, mode, read, new, changed, unchanged, rejected, seconds in rows:
        print(
            f"      {entity}: {mode}, read {read:,}, new {new:,}, changed {changed:,}, "
            f"unchanged {unchanged:,}, rejected {rejected:,}, {seconds} s"
        )


def _dags_test(
    dag_id: str, env: dict[str, str], *, conf: dict | None = None, logical_date: str | None = None
) -> None:
    command = [str(Path(sys.executable).parent / "airflow"), "dags", "test", dag_id]
    if logical_date:
        command.append(logical_date)
    if conf is not None:
        command += ["-c", json.dumps(conf)]
    log_path = REPO_ROOT / ".airflow" / f"demo-{dag_id}.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        result = subprocess.run(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
    if result.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-40:]
        print("\n".join(tail))
        raise SystemExit(
            f"airflow dags test {dag_id} failed (exit {result.returncode}); full log: {log_path}"
        )
    print(
        f"      airflow dags test {dag_id}: success in {time.monotonic() - started:.0f} s (log: .airflow/{log_path.name})"
    )


def _next_quarter_hour() -> str:
    # A manual run gets the last complete 15-minute interval before its logical
    # date; the next quarter hour makes that interval hold the changes just made.
    now = datetime.now(timezone.utc)
    boundary = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    return (boundary + timedelta(minutes=15)).isoformat()


def _step(number: int, text: str) -> None:
    print(f"[{number}/6] {text} ...", flush=True)


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return parts.geturl()


if __name__ == "__main__":
    main()
