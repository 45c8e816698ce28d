"""`python -m sandbox` as a child process: the ready line, serving, clean exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]


def test_cli_prints_a_ready_line_serves_and_cleans_up(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--leads",
        "25",
        "--orders",
        "15",
        "--seed",
        "9",
        "--until",
        "2025-06-01",
        "--data-dir",
        str(tmp_path),
        "--password",
        "secret",
        "--decimals-as-strings",
        "--admin-token",
        "t0ken",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        session = requests.Session()
        refused = session.post(
            ready["url"] + "/ServiceModel/AuthService.svc/Login",
            json={"UserName": "Supervisor", "UserPassword": "Supervisor"},
            timeout=10,
        ).json()
        session.post(
            ready["url"] + "/ServiceModel/AuthService.svc/Login",
            json={"UserName": ready["user"], "UserPassword": ready["password"]},
            timeout=10,
        )
        session.headers["BPMCSRF"] = session.cookies["BPMCSRF"]
        page = session.get(
            ready["url"] + ready["odata_path"] + "/Order?$select=Amount,CreatedOn&$top=25",
            timeout=10,
        ).json()
        info = requests.get(
            ready["url"] + "/_sandbox/info", headers={"X-Sandbox-Admin": "t0ken"}, timeout=10
        ).json()
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)

    assert code == 0
    assert {"url", "visits_path", "db_path", "admin_token", "odata_path"} <= set(ready)
    assert ready["admin_token"] == "t0ken"
    assert ready["password"] == "secret"
    assert refused["Code"] == 1
    assert any(isinstance(row["Amount"], str) for row in page["value"])
    assert max(row["CreatedOn"] for row in page["value"]) < "2025-06-01"
    assert info["until"] == "2025-06-01T00:00:00.0000000Z"
    assert Path(ready["visits_path"]).exists()
    assert not Path(ready["db_path"]).exists()


def test_cli_rejects_a_bad_column_name(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--roistat-column",
            "UsrКонтакт",
            "--data-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "not a valid Creatio column code" in result.stderr
