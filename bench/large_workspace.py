"""The `large` demo workspace the benchmarks share: generated once per `make bench` run."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.store import close_all_workspaces

LARGE_DIR_VARIABLE = "REVPLAN_BENCH_LARGE_DIR"
AS_OF = dt.date(2026, 11, 16)


def large_workspace_dir() -> Path:
    """A folder holding `large.duckdb` (1,000,000 deals), made on first use in this run."""
    folder = Path(os.environ[LARGE_DIR_VARIABLE])
    if not (folder / "large.duckdb").exists():
        generate_demo_workspace("large", size=DEMO_SIZES["large"], seed=7, as_of=AS_OF,
                                base=folder)
        close_all_workspaces()
    return folder
