"""Run the dlt peer (bench/bench_dlt_pipeline.py) in its own virtualenv, one child per run.

dlt stays out of the product's requirements: it lives in a virtualenv under
`.sandbox/` (ignored by git), built from bench/requirements.txt on first use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DEFAULT_VENV = REPO_ROOT / ".sandbox" / "bench-dlt-venv"
REQUIREMENTS = BENCH_DIR / "requirements.txt"
PIPELINE_SCRIPT = BENCH_DIR / "bench_dlt_pipeline.py"
DATASET = "dlt_bench"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def dlt_available(venv: Path) -> bool:
    python = venv_python(venv)
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import dlt, psycopg2"], capture_output=True, timeout=120
    )
    return probe.returncode == 0


def ensure_venv(venv: Path) -> Path:
    """Create the dlt virtualenv from bench/requirements.txt unless it works already."""
    if dlt_available(venv):
        return venv_python(venv)
    print(f"creating the dlt virtualenv in {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv_python(venv)),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    return venv_python(venv)


def drop_dataset(warehouse_url: str) -> None:
    """Drop what an earlier dlt run left: its dataset and staging schemas."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for schema in (DATASET, f"{DATASET}_staging"):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def _with_password(url: str) -> str:
    """dlt refuses PostgreSQL credentials without a password, even where the server
    trusts local users (as the test servers here do): give it one it will ignore."""
    parts = urlsplit(url)
    if parts.password or "@" not in parts.netloc:
        return url
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user.split(':')[0]}:unused@{host}"))


def run_dlt_child(
    python: Path,
    *,
    site: Any,
    selects: dict[str, str],
    page_size: int,
    warehouse_url: str,
    work_dir: Path,
    log_path: Path,
) -> dict[str, Any]:
    """Load every row into a fresh dataset with dlt; return the child's report."""
    drop_dataset(warehouse_url)
    pipelines_dir = work_dir / "dlt-pipelines"
    shutil.rmtree(pipelines_dir, ignore_errors=True)
    spec = {
        "url": site.url,
        "odata_path": site.odata_path,
        "user": site.user,
        "password": site.password,
        "selects": selects,
        "page_size": page_size,
        "warehouse_url": _with_password(warehouse_url),
        "dataset": DATASET,
        "pipelines_dir": str(pipelines_dir),
    }
    with open(log_path, "a") as log:
        log.write("\n=== dlt pipeline\n")
        log.flush()
        finished = subprocess.run(
            [str(python), str(PIPELINE_SCRIPT), json.dumps(spec)],
            cwd=work_dir,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(work_dir),
                "RUNTIME__LOG_LEVEL": "WARNING",
                "RUNTIME__DLTHUB_TELEMETRY": "false",
            },
        )
    if finished.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(
            f"the dlt pipeline failed (exit {finished.returncode}); see {log_path}:\n"
            + "\n".join(tail)
        )
    return json.loads(finished.stdout.strip().splitlines()[-1])
