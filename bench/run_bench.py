"""`make bench`: the sync's figures beside their limits and a peer, measured in one run.

    python -m bench.run_bench [--rows N] [--repeat R] [--no-dlt] [--out PATH]

On a sandbox (a separate process) with N leads and N orders (default 200,000
each) and the warehouse PostgreSQL (found as the tests find it), it measures,
each repeated R times (default 3), medians and spread:

1. raw fetch: a bare `requests` loop sending the hook's queries, `json.loads`;
2. extract: `BpmOnlineHook.iter_rows` over the same rows (ratio to 1);
3. raw COPY of the same rows, already mapped, into an unindexed table;
4. load: `DealLoader` (stage + merge) into an empty `roistat.deal`, then the
   same rows again with 1 % changed (ratio to 3);
5. end to end: status import + a full sync of both entities, each run in a
   child process so its peak RSS is its own; again at N/10 rows;
6. incremental: 1 % of the rows changed in the sandbox, then a run with no
   window (from the watermark), as a fraction of the full sync's time;
7. the peer: dlt's REST API source paging by `$skip` into the same
   PostgreSQL, merge on Id, in its own virtualenv (see bench/README.md).

It prints a table and writes bench/results.json with every figure and a
`targets` object (name -> value, limit, holds). Ratios are taken between
measurements of the same run, so a busy machine still gives a fair figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from bench import bench_dlt, bench_fetch, bench_load
from bench.bench_fetch import Site
from bench.bench_stats import Series, format_table, target
from bench.bench_sync import run_sync_child
from roistat.crm_entities import ENTITIES
from roistat.settings import DEFAULT_SETTINGS_FILE, load_settings_file
from roistat.warehouse_schema import deploy_schema_at
from roistat.warehouse_server import WarehouseServer, find_server
from scripts.sandbox_process import SandboxProcess, sandbox_process

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "bench" / "results.json"
DATABASE_PREFIX = "roistat_bench"
TOUCH_BATCH = 2_000
PHASES = ("extract", "load", "sync", "dlt")

# Targets from issue 7: (name, limit, at_least).
TARGETS = {
    "extract_vs_raw_fetch": (0.8, True),
    "load_empty_vs_raw_copy": (0.5, True),
    "peak_memory_n_vs_n10": (1.25, False),
    "incremental_vs_full_sync": (0.05, False),
    "end_to_end_vs_dlt": (3.0, True),
}


@dataclass
class Run:
    """What one benchmark run holds while it goes."""

    args: argparse.Namespace
    server: WarehouseServer
    work_dir: Path
    log_path: Path
    databases: list[str] = field(default_factory=list)
    series: dict[str, Series] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def measure(self, key: str) -> Series:
        return self.series.setdefault(key, Series(key))

    def new_database(self) -> str:
        """A scratch database with the warehouse schema; dropped when the run ends."""
        name = self.server.create_scratch_database(DATABASE_PREFIX)
        self.databases.append(name)
        url = self.server.url_for(name)
        deploy_schema_at(url)
        return url

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        self.server.drop_database(name)
        self.databases.remove(name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="leads, and as many orders")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".sandbox")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-dlt", action="store_true", help="skip the dlt peer")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        default=list(PHASES),
        help=f"a comma-separated subset of {','.join(PHASES)} (default: all)",
    )
    parser.add_argument("--dlt-venv", type=Path, default=bench_dlt.DEFAULT_VENV)
    args = parser.parse_args(argv)
    if args.rows < 100 or args.repeat < 1:
        parser.error("--rows must be at least 100 and --repeat at least 1")
    if not set(args.only) <= set(PHASES):
        parser.error(f"--only takes {', '.join(PHASES)}")

    _default_airflow_env()
    # A SIGTERM unwinds like Ctrl-C, so the sandbox stops and the scratch
    # databases are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # The hook's and the loader's INFO lines would bury the progress lines.
    logging.getLogger("roistat").setLevel(logging.WARNING)
    results = run(args)
    print()
    print(format_table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nwritten: {args.out}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    load_start = _load_average()
    work_dir = args.data_dir / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "bench.log"
    log_path.write_text("")
    bench = Run(args, find_server(), work_dir, log_path)
    settings = load_settings_file(DEFAULT_SETTINGS_FILE)
    entities = list(settings.entities)
    phases = set(args.only)
    run_dlt = "dlt" in phases and not args.no_dlt
    dlt_python = bench_dlt.ensure_venv(args.dlt_venv) if run_dlt else None
    if not run_dlt:
        bench.notes["dlt_note"] = "skipped (--no-dlt)" if args.no_dlt else "skipped (--only)"

    try:
        with _sandbox(args, args.rows) as (site, ready):
            warehouse = bench.new_database()
            _point_connections(site, warehouse)
            status_groups = _import_statuses(settings, warehouse)

            if "extract" in phases:
                _extraction(bench, site, settings, entities)
            ids: dict[str, list[str]] = {}
            if phases & {"load", "sync"}:
                records = _load_phase(
                    bench, settings, entities, status_groups, warehouse, "load" in phases
                )
                ids = _ids_to_touch(records)
                del records
                gc.collect()
            bench.drop_database(warehouse)

            if "sync" in phases:
                full_db = _full_syncs(bench, site, "sync_full")
                _incremental(bench, site, ready, full_db, ids)
                bench.drop_database(full_db)
            if dlt_python is not None:
                _dlt(bench, dlt_python, site, settings)

        if "sync" in phases:
            with _sandbox(args, max(args.rows // 10, 10)) as (site, _):
                small_db = _full_syncs(bench, site, "sync_full_small")
                bench.drop_database(small_db)
    finally:
        for name in list(bench.databases):
            bench.server.drop_database(name)

    return _results(bench, settings, load_start, time.monotonic() - started)


# -- phases ------------------------------------------------------------------


def _extraction(bench: Run, site: Site, settings: Any, entities: list[str]) -> None:
    """(1) and (2), interleaved so both see the same machine.

    Each also records this process's CPU seconds: on a busy machine wall time
    swings with the neighbours, CPU time per row much less, and the difference
    between the two reads is exactly what the hook adds.
    """
    raw, extract = bench.measure("raw_fetch"), bench.measure("extract")
    for rep in range(bench.args.repeat):
        began, cpu = time.perf_counter(), time.process_time()
        fetched = bench_fetch.raw_fetch(site, entities, settings)
        raw.add(
            time.perf_counter() - began,
            fetched.rows,
            cpu_seconds=time.process_time() - cpu,
            request_seconds=fetched.request_seconds,
            requests=fetched.requests,
            page_median_ms=statistics.median(fetched.page_ms),
            page_p95_ms=_p95(fetched.page_ms),
        )
        began, cpu = time.perf_counter(), time.process_time()
        rows = bench_fetch.hook_extract(entities, settings)
        extract.add(time.perf_counter() - began, rows, cpu_seconds=time.process_time() - cpu)
        _progress(f"extraction {rep + 1}/{bench.args.repeat}", raw, extract)


def _load_phase(
    bench: Run,
    settings: Any,
    entities: list[str],
    status_groups: dict[str, dict[str, str]],
    warehouse: str,
    measure_load: bool,
) -> list:
    """Map the rows once (timed, for information), then (3) and (4)."""
    began, cpu = time.perf_counter(), time.process_time()
    records, rejected = bench_fetch.extract_and_map(entities, settings, status_groups)
    bench.measure("extract_and_map").add(
        time.perf_counter() - began, len(records) + rejected, cpu_seconds=time.process_time() - cpu
    )
    bench.notes["rejected_rows"] = rejected
    if not measure_load:
        return records

    rows = bench_load.as_rows(records)
    bench_load.create_raw_table(warehouse)
    text = bench_load.as_copy_text(warehouse, rows)
    raw, raw_text = bench.measure("raw_copy"), bench.measure("raw_copy_text")
    empty, changed = bench.measure("load_empty"), bench.measure("load_changed")
    for rep in range(bench.args.repeat):
        raw.add(bench_load.raw_copy(warehouse, rows), len(rows))
        raw_text.add(bench_load.raw_copy_text(warehouse, text), len(rows))
        bench_load.empty_deal_tables(warehouse)
        empty.add(bench_load.load(warehouse, records, sync_run_id=2 * rep + 1), len(records))
        edited = bench_load.with_one_percent_changed(records, rep)
        changed.add(bench_load.load(warehouse, edited, sync_run_id=2 * rep + 2), len(records))
        _progress(f"load {rep + 1}/{bench.args.repeat}", raw, empty, changed)
    return records


def _full_syncs(bench: Run, site: Site, key: str) -> str:
    """(5): full syncs into fresh databases; return the last one's URL (kept)."""
    series = bench.measure(key)
    url = ""
    for rep in range(bench.args.repeat):
        if url:
            bench.drop_database(url)
        url = bench.new_database()
        report = run_sync_child("full", _child_env(site, url), bench.log_path)
        series.add(
            report["seconds"],
            report["rows_read"],
            peak_rss_mib=report["peak_rss_mib"],
            baseline_rss_mib=report["baseline_rss_mib"],
        )
        _progress(f"{key} {rep + 1}/{bench.args.repeat}", series)
    return url


def _incremental(
    bench: Run, site: Site, ready: SandboxProcess, warehouse: str, ids: dict[str, list[str]]
) -> None:
    """(6): the same 1 % of rows changed before each run, so every run reads the same.

    A first, untimed run after the full sync also re-reads the lookback behind
    the watermark (the newest generated rows); it is kept as information. From
    then on each run reads exactly the rows changed since the last one.
    """
    series = bench.measure("sync_incremental")
    first = bench.measure("sync_incremental_first")
    for rep in range(bench.args.repeat + 1):
        for entity_set, entity_ids in ids.items():
            _touch(ready, entity_set, entity_ids, {"title": f"bench edit {rep}"})
        report = run_sync_child("incremental", _child_env(site, warehouse), bench.log_path)
        (first if rep == 0 else series).add(
            report["seconds"],
            report["rows_read"],
            loaded_changed=report["loaded_changed"],
            touched=sum(len(v) for v in ids.values()),
        )
        label = "first, untimed" if rep == 0 else f"{rep}/{bench.args.repeat}"
        _progress(f"incremental {label}", first if rep == 0 else series)


def _dlt(bench: Run, python: Path, site: Site, settings: Any) -> None:
    """(7): dlt into a fresh dataset each time, in the scratch database of its own."""
    series = bench.measure("dlt")
    warehouse = bench.new_database()
    selects = {
        ENTITIES[name].entity_set: bench_fetch.select_for(ENTITIES[name], settings)
        for name in settings.entities
    }
    for rep in range(bench.args.repeat):
        report = bench_dlt.run_dlt_child(
            python,
            site=site,
            selects=selects,
            page_size=settings.page_size,
            warehouse_url=warehouse,
            work_dir=bench.work_dir,
            log_path=bench.log_path,
        )
        series.add(
            report["seconds"],
            report["rows"],
            peak_rss_mib=report["peak_rss_mib"],
            **{f"{step}_seconds": s for step, s in report["steps"].items()},
        )
        bench.notes["dlt_version"] = report["dlt_version"]
        _progress(f"dlt {rep + 1}/{bench.args.repeat}", series)
    bench.drop_database(warehouse)


# -- results -----------------------------------------------------------------


def _results(bench: Run, settings: Any, load_start: str, seconds: float) -> dict[str, Any]:
    s = bench.series

    def ratio(a: str, b: str) -> float | None:
        if a not in s or b not in s:
            return None
        return s[a].rows_per_second / s[b].rows_per_second

    def median(key: str, extra: str) -> float | None:
        return s[key].median(extra) if key in s else None

    sandbox: dict[str, Any] = {}
    if "raw_fetch" in s:
        raw = s["raw_fetch"]
        serving = raw.rows / statistics.median(raw.extra["request_seconds"])
        sandbox = {
            "serving_rows_per_second": round(serving, 1),
            "page_median_ms": raw.median("page_median_ms"),
            "page_p95_ms": raw.median("page_p95_ms"),
            "requests_per_read": raw.median("requests"),
        }
    memory = {
        "peak_mib_n": median("sync_full", "peak_rss_mib"),
        "peak_mib_n10": median("sync_full_small", "peak_rss_mib"),
        "baseline_mib_n": median("sync_full", "baseline_rss_mib"),
        "baseline_mib_n10": median("sync_full_small", "baseline_rss_mib"),
    }
    ratios = {
        "extract_vs_raw_fetch": ratio("extract", "raw_fetch"),
        "extract_and_map_vs_raw_fetch": ratio("extract_and_map", "raw_fetch"),
        "raw_fetch_vs_sandbox_serving": (
            s["raw_fetch"].rows_per_second / sandbox["serving_rows_per_second"] if sandbox else None
        ),
        "load_empty_vs_raw_copy": ratio("load_empty", "raw_copy"),
        "load_changed_vs_raw_copy": ratio("load_changed", "raw_copy"),
        "raw_copy_vs_raw_copy_text": ratio("raw_copy", "raw_copy_text"),
        "end_to_end_vs_extract": ratio("sync_full", "extract"),
        "peak_memory_n_vs_n10": (
            memory["peak_mib_n"] / memory["peak_mib_n10"] if memory["peak_mib_n"] else None
        ),
        "incremental_vs_full_sync": (
            s["sync_incremental"].median_seconds / s["sync_full"].median_seconds
            if "sync_incremental" in s
            else None
        ),
        "end_to_end_vs_dlt": ratio("sync_full", "dlt"),
    }
    targets = {
        name: target(ratios[name], limit, at_least=at_least)
        for name, (limit, at_least) in TARGETS.items()
    }
    return {
        "leads": bench.args.rows,
        "orders": bench.args.rows,
        "repetitions": bench.args.repeat,
        "page_size": settings.page_size,
        "seconds": round(seconds, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_start": load_start,
            "load_end": _load_average(),
        },
        "warehouse": _postgres_version(bench.server) + f" ({bench.server.origin})",
        "sandbox": sandbox,
        "measurements": {key: series.as_dict() for key, series in s.items()},
        "memory": memory,
        "ratios": {k: None if v is None else round(v, 4) for k, v in ratios.items()},
        "targets": targets,
        **bench.notes,
    }


# -- helpers -----------------------------------------------------------------


@contextmanager
def _sandbox(args: argparse.Namespace, rows: int) -> Iterator[tuple[Site, SandboxProcess]]:
    print(f"sandbox: {rows:,} leads + {rows:,} orders (seed {args.seed}) ...", flush=True)
    with sandbox_process(
        leads=rows, orders=rows, seed=args.seed, data_dir=args.data_dir
    ) as process:
        ready = process.ready
        site = Site(
            url=process.url,
            odata_path=ready.get("odata_path", "/0/odata"),
            user=ready.get("user", "Supervisor"),
            password=ready.get("password", "Supervisor"),
        )
        yield site, process


def _connection_env(site: Site, warehouse_url: str) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_BPMONLINE_DEFAULT": json.dumps(
            {
                "conn_type": "bpmonline",
                "host": site.url,
                "login": site.user,
                "password": site.password,
                "extra": {"odata_path": site.odata_path},
            }
        ),
        "AIRFLOW_CONN_ROISTAT_WAREHOUSE": warehouse_url,
    }


def _point_connections(site: Site, warehouse_url: str) -> None:
    """Point this process's Airflow connections at the sandbox and the warehouse."""
    os.environ.update(_connection_env(site, warehouse_url))
    os.environ.pop("AIRFLOW_VAR_ROISTAT_INTEGRATION", None)


def _child_env(site: Site, warehouse_url: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update(_connection_env(site, warehouse_url))
    env.pop("AIRFLOW_VAR_ROISTAT_INTEGRATION", None)
    return env


def _default_airflow_env() -> None:
    """What `make` exports, for runs started without it."""
    os.environ.setdefault("AIRFLOW_HOME", str(REPO_ROOT / ".airflow"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")


def _import_statuses(settings: Any, warehouse_url: str) -> dict[str, dict[str, str]]:
    """Run the status import; return entity -> {status id: group} as a sync reads it."""
    from roistat.status_task import run_status_import

    run_status_import(settings)
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select entity, status_id::text, status_group from roistat.status where is_mapped"
        ).fetchall()
    groups: dict[str, dict[str, str]] = {}
    for entity, status_id, group in rows:
        groups.setdefault(entity, {})[status_id] = group
    return groups


def _ids_to_touch(records: list) -> dict[str, list[str]]:
    """Every 100th deal of each entity: the 1 % the incremental runs change."""
    ids: dict[str, list[str]] = {}
    for name, entity in ENTITIES.items():
        of_entity = [r.crm_id for r in records if r.entity == name]
        if of_entity:
            ids[entity.entity_set] = of_entity[:: bench_load.CHANGED_EVERY]
    return ids


def _touch(
    process: SandboxProcess, entity_set: str, ids: list[str], changes: dict[str, str]
) -> None:
    for start in range(0, len(ids), TOUCH_BATCH):
        response = requests.post(
            f"{process.url}/_sandbox/touch",
            headers={"X-Sandbox-Admin": process.admin_token},
            json={
                "entity": entity_set,
                "ids": ids[start : start + TOUCH_BATCH],
                "changes": changes,
            },
            timeout=300,
        )
        response.raise_for_status()


def _postgres_version(server: WarehouseServer) -> str:
    with psycopg.connect(server.url) as conn:
        version = conn.execute("show server_version").fetchone()[0]
    return f"PostgreSQL {version}"


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def _progress(label: str, *series: Series) -> None:
    figures = ", ".join(
        f"{s.name} {s.rows / s.seconds[-1]:,.0f} rows/s ({s.seconds[-1]:.1f} s"
        + (
            f", CPU {s.extra['cpu_seconds'][-1] / s.rows * 1e6:.1f} us/row"
            if "cpu_seconds" in s.extra
            else ""
        )
        + ")"
        for s in series
    )
    print(f"  {label}: {figures}  [load {_load_average()}]", flush=True)


if __name__ == "__main__":
    sys.exit(main())
