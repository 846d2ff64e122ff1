"""Shared fixtures: every test gets its own data folder; workspaces are real DuckDB files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from planning.store import Workspace, close_all_workspaces, open_workspace

DEMO_AS_OF = dt.date(2026, 11, 16)
DEMO_SEED = 11


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh workspace folder, set as REVPLAN_DATA_DIR for the test."""
    folder = tmp_path / "workspaces"
    folder.mkdir()
    monkeypatch.setenv("REVPLAN_DATA_DIR", str(folder))
    yield folder
    close_all_workspaces()


@pytest.fixture
def workspace(data_dir: Path) -> Workspace:
    """An empty, fully migrated workspace named 'test'."""
    return open_workspace("test", create=True)


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding a `small` demo workspace named 'demo', generated once per run.

    Tests must treat it as read-only; copy it (see `demo_copy`) to change anything.
    """
    from planning.demo import DEMO_SIZES, generate_demo_workspace

    folder = tmp_path_factory.mktemp("demo-workspaces")
    generate_demo_workspace(
        "demo", size=DEMO_SIZES["small"], seed=DEMO_SEED, as_of=DEMO_AS_OF, base=folder
    )
    close_all_workspaces()
    return folder


@pytest.fixture
def demo_copy(demo_data_dir: Path, data_dir: Path) -> Workspace:
    """A private copy of the small demo workspace, opened read-write as 'demo'."""
    import shutil

    shutil.copy(demo_data_dir / "demo.duckdb", data_dir / "demo.duckdb")
    return open_workspace("demo")
