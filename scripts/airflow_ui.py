"""`make airflow`: the Airflow UI on the demo's data.

Starts the bpm'online sandbox (same data as `make demo`) and `airflow
standalone` with the connections pointing at the sandbox and at the demo's
warehouse database, then waits until Ctrl-C. Sign in as `admin` with the
password printed below (kept in .airflow/simple_auth_manager_passwords.json.generated).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from roistat.warehouse_server import WAREHOUSE_URL_ENV, find_server
from scripts.demo import DEMO_DATABASE, REPO_ROOT, airflow_env
from scripts.sandbox_process import sandbox_process

PASSWORDS_FILE = REPO_ROOT / ".airflow" / "simple_auth_manager_passwords.json.generated"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=20000)
    parser.add_argument("--orders", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    server = find_server()
    url = (
        server.url if server.origin == WAREHOUSE_URL_ENV else server.create_database(DEMO_DATABASE)
    )
    if not PASSWORDS_FILE.exists():
        PASSWORDS_FILE.parent.mkdir(parents=True, exist_ok=True)
        PASSWORDS_FILE.write_text(json.dumps({"admin": "admin"}))
    with sandbox_process(
        leads=args.leads, orders=args.orders, seed=args.seed, data_dir=REPO_ROOT / ".sandbox"
    ) as sandbox:
        env = airflow_env(sandbox, url)
        env["AIRFLOW__API__HOST"] = "127.0.0.1"
        env["AIRFLOW__API__PORT"] = str(args.port)
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{args.port}/execution/"
        password = json.loads(PASSWORDS_FILE.read_text()).get("admin")
        print(f"Sandbox at {sandbox.url}; warehouse database {DEMO_DATABASE}.")
        print(f"Airflow UI: http://127.0.0.1:{args.port}  user admin, password {password}")
        print("Ctrl-C stops Airflow and the sandbox.", flush=True)
        airflow = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), "standalone"], env=env, cwd=REPO_ROOT
        )
        try:
            airflow.wait()
        except KeyboardInterrupt:
            airflow.send_signal(signal.SIGINT)
            airflow.wait(timeout=60)


if __name__ == "__main__":
    os.chdir(REPO_ROOT)
    main()
