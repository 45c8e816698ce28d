"""Measure the sandbox at scale: generation, start-up on cached data, page latency.

    python -m bench.sandbox_serving [--leads N --orders M] [--regenerate]

1. generation: builds the cached database (skipped when cached, unless
   --regenerate);
2. start-up: `python -m sandbox` as a child process on the cached data, from
   launch to its "ready" line;
3. page latency: 1,000-row pages as a syncing client asks for them ($select of 8
   columns, a ModifiedOn window or keyset, `$orderby=ModifiedOn asc,Id asc`,
   `$top=1000`), timed from request to the last byte, median and p95.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from sandbox.generate import generate, visits_path_for
from sandbox.options import SandboxOptions
from sandbox.ticks import TICKS_PER_DAY, format_ticks, parse_iso_ticks

SELECT = {
    "Lead": "Id,CreatedOn,ModifiedOn,LeadName,QualifyStatusId,Budget,UsrRoistat,UsrBrand",
    "Order": "Id,CreatedOn,ModifiedOn,Number,StatusId,Amount,UsrRoistat,UsrFirstCost",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=Path(".sandbox"))
    parser.add_argument("--pages", type=int, default=50, help="pages per kind of query")
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()

    results: dict[str, Any] = {"leads": args.leads, "orders": args.orders}
    results["generation_s"] = _generation(args)
    with _sandbox(args) as (ready, startup):
        results["startup_s"] = startup
        results["pages"] = _pages(ready, args.pages, args.seed)
    _print_table(results)
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2))


def _generation(args: argparse.Namespace) -> float | None:
    options = SandboxOptions(
        leads=args.leads, orders=args.orders, seed=args.seed, data_dir=args.data_dir
    )
    path = options.pristine_db_path()
    if path.exists() and not args.regenerate:
        print(f"cached data: {path} (use --regenerate to time generation)", flush=True)
        return None
    path.unlink(missing_ok=True)
    visits_path_for(path).unlink(missing_ok=True)
    print(f"generating {args.leads:,} leads and {args.orders:,} orders ...", flush=True)
    started = time.perf_counter()
    generate(options, path)
    return time.perf_counter() - started


@contextmanager
def _sandbox(args: argparse.Namespace) -> Iterator[tuple[dict[str, Any], float]]:
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--leads",
        str(args.leads),
        "--orders",
        str(args.orders),
        "--seed",
        str(args.seed),
        "--data-dir",
        str(args.data_dir),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        startup = time.perf_counter() - started
        if not line:
            raise RuntimeError(f"the sandbox exited with code {process.wait()}")
        yield json.loads(line), startup
    finally:
        process.terminate()
        process.wait(timeout=30)


def _pages(ready: dict[str, Any], pages: int, seed: int) -> dict[str, dict[str, float]]:
    session = requests.Session()
    login = session.post(
        ready["url"] + "/ServiceModel/AuthService.svc/Login",
        json={"UserName": ready["user"], "UserPassword": ready["password"]},
        timeout=30,
    )
    login.raise_for_status()
    session.headers.update({"BPMCSRF": session.cookies["BPMCSRF"], "ForceUseSession": "true"})
    info = session.get(
        ready["url"] + "/_sandbox/info",
        headers={"X-Sandbox-Admin": ready["admin_token"]},
        timeout=30,
    ).json()
    start, until = parse_iso_ticks(info["start"]), parse_iso_ticks(info["until"])
    rng = random.Random(seed)
    base = ready["url"] + ready["odata_path"]

    results = {}
    for entity in ("Lead", "Order"):
        for kind in ("window+skip", "keyset"):
            timings, sizes = [], []
            for n in range(pages + 3):
                params = _page_params(entity, kind, rng, start, until)
                began = time.perf_counter()
                response = session.get(f"{base}/{entity}", params=params, timeout=60)
                elapsed = time.perf_counter() - began
                response.raise_for_status()
                if n >= 3:  # the first requests warm the caches
                    timings.append(elapsed * 1000)
                    sizes.append(len(response.json()["value"]))
            results[f"{entity} {kind}"] = {
                "median_ms": statistics.median(timings),
                "p95_ms": statistics.quantiles(timings, n=20)[-1],
                "max_ms": max(timings),
                "rows_median": statistics.median(sizes),
            }
    return results


def _page_params(
    entity: str, kind: str, rng: random.Random, start: int, until: int
) -> dict[str, str]:
    params = {"$select": SELECT[entity], "$orderby": "ModifiedOn asc,Id asc", "$top": "1000"}
    low = rng.randrange(start, until - 40 * TICKS_PER_DAY)
    if kind == "keyset":
        params["$filter"] = f"ModifiedOn ge {format_ticks(low)}"
        return params
    high = low + rng.choice((7, 14, 30)) * TICKS_PER_DAY
    params["$filter"] = f"ModifiedOn ge {format_ticks(low)} and ModifiedOn lt {format_ticks(high)}"
    params["$skip"] = str(rng.choice((0, 1000, 2000, 5000)))
    return params


def _print_table(results: dict[str, Any]) -> None:
    generation = results["generation_s"]
    print()
    print(f"sandbox at {results['leads']:,} leads + {results['orders']:,} orders")
    print(f"  generation             {'cached' if generation is None else f'{generation:.1f} s'}")
    print(f"  start-up (cached data) {results['startup_s']:.1f} s")
    print(f"  {'1,000-row page':24} {'median':>8} {'p95':>8} {'max':>8} {'rows':>6}")
    for name, page in results["pages"].items():
        print(
            f"  {name:24} {page['median_ms']:6.1f}ms {page['p95_ms']:6.1f}ms "
            f"{page['max_ms']:6.1f}ms {page['rows_median']:6.0f}"
        )


if __name__ == "__main__":
    main()
