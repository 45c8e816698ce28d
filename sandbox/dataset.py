"""Find or generate the cached database, and give each run a private copy of it.

The generated file is a cache keyed by the generation parameters and is never
written to after generation: a run copies it and mutates the copy (admin touches,
paging faults), so the next run starts from the same data again.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.generate import generate, visits_path_for
from sandbox.options import SandboxOptions

log = logging.getLogger("sandbox")

_RUN_COPY = re.compile(r"\.run-(\d+)-[0-9a-f]+\.sqlite$")


@dataclass(frozen=True)
class Dataset:
    pristine_path: Path
    db_path: Path
    visits_path: Path
    generation_seconds: float | None

    def discard(self) -> None:
        """Delete this run's working copy and its SQLite side files."""
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)


def prepare_dataset(options: SandboxOptions) -> Dataset:
    """Generate the data when not cached yet, then make this run's working copy."""
    pristine = options.pristine_db_path().resolve()
    generation_seconds = None
    if not pristine.exists() or not visits_path_for(pristine).exists():
        log.info(
            "generating %s leads and %s orders into %s", options.leads, options.orders, pristine
        )
        started = time.monotonic()
        generate(options, pristine)
        generation_seconds = time.monotonic() - started
        log.info("generated in %.1f s", generation_seconds)
    _remove_stale_copies(pristine.parent)

    working = pristine.with_name(f"{pristine.stem}.run-{os.getpid()}-{secrets.token_hex(4)}.sqlite")
    shutil.copyfile(pristine, working)
    conn = sqlite3.connect(working)
    try:
        # WAL lets readers page while an admin call or a paging fault writes.
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    return Dataset(pristine, working, visits_path_for(pristine), generation_seconds)


def _remove_stale_copies(folder: Path) -> None:
    # Copies left by runs that were killed before they could clean up.
    for path in folder.glob("*.run-*.sqlite*"):
        match = _RUN_COPY.search(path.name.split("-wal")[0].split("-shm")[0])
        if match and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
