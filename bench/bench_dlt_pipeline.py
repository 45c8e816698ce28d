"""The peer: dlt's REST API source reading the sandbox by `$skip` into PostgreSQL, merge on Id.

Run by `bench.bench_dlt` with the Python of the separate dlt virtualenv
(bench/requirements.txt), so it imports nothing from this project: only the
standard library, requests and dlt. One JSON argument in, one JSON line out:

    python bench/bench_dlt_pipeline.py '{"url": ..., "odata_path": ..., "user": ...,
        "password": ..., "selects": {"Lead": "Id,...", "Order": "Id,..."},
        "page_size": 1000, "warehouse_url": ..., "dataset": ..., "pipelines_dir": ...}'

The configuration is what a dlt user would write for Creatio: an offset
paginator on `$skip`/`$top` that stops at the first empty page, the rows under
`value`, primary key `Id`, write disposition `merge`, dlt's defaults otherwise.
Logging in is done once with requests, as dlt has no Creatio forms auth; the
session cookies and the BPMCSRF header go into the client's headers.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import dlt
import requests
from dlt.sources.rest_api import rest_api_source


def main(spec: dict) -> dict:
    headers = _login(spec)
    source = rest_api_source(
        {
            "client": {
                "base_url": spec["url"] + spec["odata_path"] + "/",
                "headers": headers,
                "paginator": {
                    "type": "offset",
                    "limit": spec["page_size"],
                    "offset_param": "$skip",
                    "limit_param": "$top",
                    "total_path": None,
                    "stop_after_empty_page": True,
                },
            },
            "resource_defaults": {
                "primary_key": "Id",
                "write_disposition": "merge",
                "endpoint": {"data_selector": "value"},
            },
            "resources": [
                {
                    "name": entity_set.lower(),
                    "endpoint": {
                        "path": entity_set,
                        "params": {"$select": select, "$orderby": "ModifiedOn asc,Id asc"},
                    },
                }
                for entity_set, select in spec["selects"].items()
            ],
        },
        name="bpmonline",
    )
    pipeline = dlt.pipeline(
        pipeline_name="bench_bpmonline",
        pipelines_dir=spec["pipelines_dir"],
        destination=dlt.destinations.postgres(credentials=spec["warehouse_url"]),
        dataset_name=spec["dataset"],
        progress=None,
    )

    started = time.perf_counter()
    info = pipeline.run(source)
    seconds = time.perf_counter() - started

    trace = pipeline.last_trace
    steps = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in trace.steps
        if step.finished_at is not None
    }
    rows = trace.last_normalize_info.row_counts if trace.last_normalize_info else {}
    return {
        "seconds": seconds,
        "rows": sum(n for table, n in rows.items() if not table.startswith("_dlt")),
        "row_counts": rows,
        "steps": steps,
        "loads": len(info.loads_ids),
        "peak_rss_mib": _peak_rss_mib(),
        "dlt_version": dlt.__version__,
    }


def _peak_rss_mib() -> float:
    # VmHWM: ru_maxrss of a child starts from its parent's peak (see bench_sync).
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _login(spec: dict) -> dict[str, str]:
    session = requests.Session()
    response = session.post(
        spec["url"] + "/ServiceModel/AuthService.svc/Login",
        json={"UserName": spec["user"], "UserPassword": spec["password"]},
        timeout=30,
    )
    response.raise_for_status()
    cookies = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    return {
        "Cookie": cookies,
        "BPMCSRF": session.cookies["BPMCSRF"],
        "ForceUseSession": "true",
        "Accept": "application/json",
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
