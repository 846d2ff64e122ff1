"""Shared fixtures: every test gets its own data folder; workspaces are real DuckDB files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from planning.store import Workspace, close_all_workspaces, open_workspace

DEMO_AS_OF = dt.date(2026, 11, 16)
DEMO_SEED = 11


def copy_workspace_file(source: Path, target: Path, name: str) -> None:
    """Copy a closed workspace's database file and its audit anchor log to another folder."""
    import shutil

    shutil.copy(source / f"{name}.duckdb", target / f"{name}.duckdb")
    anchor = source / f"{name}.audit-anchor"
    if anchor.exists():
        shutil.copy(anchor, target / anchor.name)


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

    copy_workspace_file(demo_data_dir, data_dir, "demo")
    return open_workspace("demo")


@pytest.fixture(scope="session")
def scored_demo_data_dir(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo workspace with trained deal risk models and scored open deals.

    Models are trained as of DEMO_AS_OF and open deals scored at the same moment.
    Tests must treat it as read-only; copy it (see `scored_demo_copy`) to change anything.
    """

    from planning.pipeline.training import score_open_deals, train_deal_models

    folder = tmp_path_factory.mktemp("scored-demo-workspaces")
    copy_workspace_file(demo_data_dir, folder, "demo")
    workspace = open_workspace("demo", base=folder)
    moment = dt.datetime.combine(DEMO_AS_OF, dt.time(12))
    train_deal_models(workspace, as_of=moment)
    score_open_deals(workspace, as_of=moment)
    close_all_workspaces()
    return folder


@pytest.fixture
def scored_demo_copy(scored_demo_data_dir: Path, data_dir: Path) -> Workspace:
    """A private copy of the scored small demo workspace, opened read-write as 'demo'."""

    copy_workspace_file(scored_demo_data_dir, data_dir, "demo")
    return open_workspace("demo")
