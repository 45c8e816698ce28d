"""The pipeline benchmark still runs: bench.run_bench at 2,000 rows, one repetition.

Nothing here is timed; it proves the script works end to end and writes
results.json in the shape issue 7 asks for, so the benchmark cannot rot.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_dlt import DEFAULT_VENV, dlt_available

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGETS = {
    "extract_vs_raw_fetch",
    "load_empty_vs_raw_copy",
    "peak_memory_n_vs_n10",
    "incremental_vs_full_sync",
    "end_to_end_vs_dlt",
}
MEASUREMENTS = {
    "raw_fetch",
    "extract",
    "extract_and_map",
    "raw_copy",
    "raw_copy_text",
    "load_empty",
    "load_changed",
    "sync_full",
    "sync_full_small",
    "sync_incremental",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dlt_ready() -> bool:
    return dlt_available(DEFAULT_VENV)


@pytest.fixture(scope="module")
def results(tmp_path_factory, dlt_ready) -> dict:
    work = tmp_path_factory.mktemp("bench")
    out = work / "results.json"
    command = [
        sys.executable,
        "-m",
        "bench.run_bench",
        "--rows",
        "2000",
        "--repeat",
        "1",
        "--data-dir",
        str(work / "data"),
        "--out",
        str(out),
    ]
    # The smoke test never builds dlt's virtualenv (a minute and a download);
    # it uses one a full `make bench` left behind.
    command += ["--dlt-venv", str(DEFAULT_VENV)] if dlt_ready else ["--no-dlt"]
    env = os.environ.copy()
    env.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".airflow"))
    finished = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "targets" in finished.stdout
    return json.loads(out.read_text())


def test_results_have_every_target_with_value_limit_and_verdict(results):
    assert set(results["targets"]) == TARGETS
    for name, entry in results["targets"].items():
        assert set(entry) == {"value", "limit", "holds"}, name
        assert isinstance(entry["limit"], int | float), name
        if name != "end_to_end_vs_dlt":
            assert isinstance(entry["value"], int | float), name
            assert isinstance(entry["holds"], bool), name


def test_every_measurement_read_every_row(results):
    m = results["measurements"]
    assert MEASUREMENTS <= set(m)
    rows = 2 * 2000
    for key in ("raw_fetch", "extract", "extract_and_map", "sync_full"):
        assert m[key]["rows"] == rows, key
    assert m["sync_full_small"]["rows"] == rows // 10
    assert m["load_empty"]["rows"] == m["raw_copy"]["rows"]
    # The incremental run reads the 1 % changed, not everything.
    assert 0 < m["sync_incremental"]["rows"] < rows // 10
    for entry in m.values():
        assert entry["repetitions"] == 1
        assert entry["rows_per_second"] > 0


def test_memory_and_sandbox_serving_are_reported(results):
    assert results["memory"]["peak_mib_n"] > 0
    assert results["memory"]["peak_mib_n10"] > 0
    assert results["sandbox"]["serving_rows_per_second"] > 0


def test_dlt_peer_loads_every_row(results, dlt_ready):
    if not dlt_ready:
        pytest.skip(
            f"dlt is not installed in {DEFAULT_VENV}: run `make bench` once (it builds that "
            "virtualenv from bench/requirements.txt), or build it by hand"
        )
    assert results["measurements"]["dlt"]["rows"] == 2 * 2000
    target = results["targets"]["end_to_end_vs_dlt"]
    assert isinstance(target["value"], float) and isinstance(target["holds"], bool)
