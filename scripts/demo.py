"""`make demo`: the sandbox with generated data, and the warehouse schema deployed.

Steps, each printed as it happens:
1. find a PostgreSQL server (ROISTAT_WAREHOUSE_URL, 127.0.0.1:5432, or embedded)
   and create the demo's own database on it;
2. deploy the warehouse schema (idempotent);
3. start the bpm'online sandbox with generated leads and orders and show what
   it serves.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from roistat.warehouse_schema import deploy_schema_at
from roistat.warehouse_server import WAREHOUSE_URL_ENV, find_server
from scripts.sandbox_process import sandbox_process

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_DATABASE = "roistat_demo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20000)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.monotonic()
    warehouse_url = _prepare_warehouse()

    print(
        f"[3/3] Starting the bpm'online sandbox ({args.leads:,} leads, {args.orders:,} orders, seed {args.seed}) ...",
        flush=True,
    )
    with sandbox_process(
        leads=args.leads, orders=args.orders, seed=args.seed, data_dir=REPO_ROOT / ".sandbox"
    ) as sandbox:
        info = sandbox.info()
        print(f"      serving at {sandbox.url} (log: {sandbox.log_path.relative_to(REPO_ROOT)})")
        for key, value in sorted(info.items()):
            print(f"      {key}: {value}")
        _show_sample_page(sandbox.url, sandbox.ready)

    with psycopg.connect(warehouse_url) as conn:
        tables = conn.execute(
            "select table_name, table_type from information_schema.tables "
            "where table_schema = 'roistat' order by 1"
        ).fetchall()
    print("\nWarehouse schema roistat:")
    for name, kind in tables:
        print(f"  {'view ' if kind == 'VIEW' else 'table'}  roistat.{name}")
    print(f"\nDone in {time.monotonic() - started:.1f} s.")


def _prepare_warehouse() -> str:
    print("[1/3] Finding PostgreSQL ...", flush=True)
    server = find_server()
    if server.origin == WAREHOUSE_URL_ENV:
        url = server.url
        print(f"      using {WAREHOUSE_URL_ENV}: {_safe(url)}")
    else:
        url = server.create_database(DEMO_DATABASE)
        print(f"      {server.origin}; database {DEMO_DATABASE}: {_safe(url)}")
    print("[2/3] Deploying the warehouse schema ...", flush=True)
    applied = deploy_schema_at(url)
    print(f"      applied {', '.join(applied)}")
    return url


def _show_sample_page(url: str, ready: dict) -> None:
    import requests

    session = requests.Session()
    login = session.post(
        f"{url}/ServiceModel/AuthService.svc/Login",
        json={
            "UserName": ready.get("user", "Supervisor"),
            "UserPassword": ready.get("password", "Supervisor"),
        },
        timeout=30,
    )
    login.raise_for_status()
    session.headers.update(
        {"BPMCSRF": session.cookies.get("BPMCSRF", ""), "ForceUseSession": "true"}
    )
    page = session.get(
        f"{url}{ready.get('odata_path', '/0/odata')}/Lead",
        params={
            "$select": "Id,LeadName,QualifyStatusId,Budget,UsrRoistat,ModifiedOn",
            "$orderby": "ModifiedOn desc,Id asc",
            "$top": "3",
            "$count": "true",
        },
        timeout=30,
    )
    page.raise_for_status()
    body = page.json()
    print(f"      OData check: {body.get('@odata.count')} leads; newest three:")
    for row in body["value"]:
        print(
            f"        {row['ModifiedOn']}  {row['LeadName'][:40]:40}  roistat={row['UsrRoistat']!r}  budget={row['Budget']}"
        )


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return parts.geturl()


if __name__ == "__main__":
    main()
