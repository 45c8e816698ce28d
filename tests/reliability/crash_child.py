"""Run entity syncs in child processes that SIGKILL themselves at a chosen point.

    python tests/reliability/crash_child.py

The script imports the package once (Airflow takes seconds to import), prints
`ready`, then reads jobs from stdin, one JSON line each, and forks one child
per job, which runs the sync and dies where it was told to. For each job it
prints `pid <pid>` when the child starts and `exit <pid> <code>` when it ends
(`<code>` is negative for a signal, as with `subprocess`). Nothing is
connected before the fork: each child opens its own HTTP session and its own
PostgreSQL session, like a task process.

A job: `url` (the warehouse), `entity`, `kill_at`, `rows`, `settings` (a
mapping), `params`, `connection` (the AIRFLOW_CONN_BPMONLINE_DEFAULT JSON).
`kill_at` is one of:

- `never`: run to the end (the parent may kill the child from outside, e.g.
  mid-read, by the pid printed);
- `mid-copy`: after `rows` rows went into a COPY (`psycopg.Copy.write_row`);
- `before-commit`: right after the run marked itself `success` inside the load
  transaction (`finish_run`), before the transaction commits;
- `after-commit`: right after the load transaction committed (`_log_summary`,
  the first thing `sync_entity` does once it has).

Why wrapping a library function is the only stand-in here: a SIGKILL sent from
outside cannot be aimed at "between this statement and the commit" on a run
that takes a fraction of a second, so the kill would land somewhere else on
every run. Wrapping one function in the child only, and having it send
SIGKILL to its own process, puts the kill exactly there and changes nothing
else: the HTTP to the sandbox, the PostgreSQL session and its transaction are
all real, and the process dies as a killed task dies (no exception, no
`finally`, no rollback sent by us).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(kill_at: str, rows: int) -> None:
    import psycopg

    import roistat.entity_sync as entity_sync

    if kill_at == "mid-copy":
        write_row = psycopg.Copy.write_row
        written = 0

        def write_row_then_die(self: Any, row: Any) -> None:
            nonlocal written
            write_row(self, row)
            written += 1
            if written >= rows:
                print(f"killing myself after {written} COPY rows", flush=True)
                _die()

        psycopg.Copy.write_row = write_row_then_die

    elif kill_at == "before-commit":
        finish_run = entity_sync.finish_run

        def finish_then_die(*args: Any, **kwargs: Any) -> None:
            finish_run(*args, **kwargs)
            print("killing myself after finish_run, before the commit", flush=True)
            _die()

        # entity_sync imported the function by name: wrap the name it calls.
        entity_sync.finish_run = finish_then_die

    elif kill_at == "after-commit":

        def die_after_commit(*args: Any, **kwargs: Any) -> None:
            print("killing myself after the commit", flush=True)
            _die()

        entity_sync._log_summary = die_after_commit

    elif kill_at != "never":
        raise SystemExit(f"unknown kill point {kill_at!r}")


def _run(job: dict[str, Any]) -> None:
    import psycopg

    from roistat.bpmonline_hook import BpmOnlineHook
    from roistat.entity_sync import RunContext, sync_entity
    from roistat.settings import parse_settings

    os.environ["AIRFLOW_CONN_BPMONLINE_DEFAULT"] = job["connection"]
    config = parse_settings(job["settings"], source="crash test")
    _arm(job["kill_at"], job.get("rows", 0))
    print(f"syncing {job['entity']}, kill point {job['kill_at']}", flush=True)
    with (
        BpmOnlineHook(retry_initial_wait=0.01, retry_max_wait=0.1) as hook,
        psycopg.connect(job["url"], autocommit=True) as conn,
    ):
        context = RunContext(params=job.get("params") or {})
        counts = sync_entity(hook, conn, config, job["entity"], context)
    print(json.dumps(counts), flush=True)


def main() -> None:
    # Import everything a job needs before the first fork.
    import psycopg  # noqa: F401

    import roistat.bpmonline_hook
    import roistat.entity_sync  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _run(job)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(f"exit {pid} {code}", flush=True)


if __name__ == "__main__":
    main()
