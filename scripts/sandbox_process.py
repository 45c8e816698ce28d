"""Start the bpm'online sandbox as a child process and wait until it serves.

The sandbox prints one JSON line when it is ready (url, visits_path, db_path,
admin_token); everything else it prints goes to a log file so the demo's
output stays readable.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests


@dataclass(frozen=True)
class SandboxProcess:
    url: str
    admin_token: str
    ready: dict[str, Any]
    log_path: Path

    def info(self) -> dict[str, Any]:
        response = requests.get(
            f"{self.url}/_sandbox/info",
            headers={"X-Sandbox-Admin": self.admin_token},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


@contextmanager
def sandbox_process(
    *,
    leads: int,
    orders: int,
    seed: int,
    data_dir: Path,
    port: int = 0,
    extra_args: list[str] | None = None,
    startup_timeout: float = 900.0,
) -> Iterator[SandboxProcess]:
    """Run `python -m sandbox` until the block ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "sandbox.log"
    args = [
        sys.executable,
        "-m",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--leads",
        str(leads),
        "--orders",
        str(orders),
        "--seed",
        str(seed),
        "--data-dir",
        str(data_dir),
        *(extra_args or []),
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, env=os.environ.copy(), cwd=Path.cwd()
        )
    try:
        ready = _wait_ready(process, startup_timeout, log_path)
        yield SandboxProcess(ready["url"], ready["admin_token"], ready, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen, timeout: float, log_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        # select() so a silent, hung child cannot block us past the deadline.
        readable, _, _ = select.select([process.stdout], [], [], 1.0)
        if not readable:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the sandbox exited with code {process.returncode} before it was ready; "
                    f"see {log_path}"
                )
            continue
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError(
                f"the sandbox exited with code {process.returncode} before it was ready; "
                f"see {log_path}"
            )
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and "url" in message:
            return message
    raise TimeoutError(f"the sandbox was not ready after {timeout:.0f} s; see {log_path}")
