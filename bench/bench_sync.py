"""End-to-end figures: one sync run (status import, then leads, then orders) per child process.

Each run is a fresh `python -m bench.bench_sync full|incremental` so its peak
resident memory is its own: the child reports its VmHWM, once
after its imports (the floor any Airflow task pays) and once at the end. The
child runs what the sync DAG's tasks run, `run_status_import` and
`run_entity_sync` per entity, with no scheduler; `full` passes
`full_refresh`, `incremental` passes nothing, so the run reads what changed
since the last successful load (its watermark, widened by the lookback).
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_sync_child(mode: str, env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Run one sync in a child process; return what it reports."""
    command = [sys.executable, "-m", "bench.bench_sync", mode]
    with open(log_path, "a") as log:
        log.write(f"\n=== {' '.join(command)}\n")
        log.flush()
        finished = subprocess.run(
            command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, text=True
        )
    if finished.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(
            f"the {mode} sync failed (exit {finished.returncode}); see {log_path}:\n"
            + "\n".join(tail)
        )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def peak_rss_mib() -> float:
    """This process's peak resident memory, in MiB.

    VmHWM, not ru_maxrss: on Linux a child's ru_maxrss starts from its parent's
    peak at fork (it survives exec), so a child of a big benchmark process would
    report the parent's memory. VmHWM belongs to the process's own address space.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _child(mode: str) -> None:
    from roistat.settings import DEFAULT_SETTINGS_FILE, SETTINGS_FILE_ENV, load_settings_file
    from roistat.status_task import run_status_import
    from roistat.sync_task import run_entity_sync

    # What a task has imported before its sync starts: the hook, Airflow, psycopg.
    for module in ("roistat.bpmonline_hook", "roistat.warehouse_connection"):
        importlib.import_module(module)
    baseline = peak_rss_mib()
    settings = load_settings_file(os.environ.get(SETTINGS_FILE_ENV) or DEFAULT_SETTINGS_FILE)
    params = {"full_refresh": True} if mode == "full" else {}

    started = time.perf_counter()
    run_status_import(settings, sweep_deals=False)  # as the sync DAG's task runs it
    counts = {
        entity: run_entity_sync(
            entity,
            params=params,
            data_interval_start=None,
            data_interval_end=None,
            settings=settings,
        )
        for entity in settings.entities
    }
    seconds = time.perf_counter() - started

    report = {
        "mode": mode,
        "seconds": seconds,
        "rows_read": sum(c["rows_read"] for c in counts.values()),
        "loaded_new": sum(c["loaded_new"] for c in counts.values()),
        "loaded_changed": sum(c["loaded_changed"] for c in counts.values()),
        "rejected": sum(c["rejected"] for c in counts.values()),
        "entity_seconds": {entity: c["seconds"] for entity, c in counts.items()},
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("full", "incremental"):
        raise SystemExit("usage: python -m bench.bench_sync full|incremental")
    _child(sys.argv[1])
