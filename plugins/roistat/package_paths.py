"""Where the package's non-Python files live.

`include/` sits beside `plugins/` in the repo and in the Docker image
(/opt/airflow/include). Set ROISTAT_INCLUDE_DIR when it lives elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def include_dir() -> Path:
    """Return the folder holding sql/ and config/."""
    return Path(os.environ.get("ROISTAT_INCLUDE_DIR") or REPO_ROOT / "include")


def sql_path(*parts: str) -> Path:
    """Return a path under include/sql."""
    return include_dir().joinpath("sql", *parts)
