"""Workspace files: safe names, one writer per file, transactions that retry on conflict."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from planning.errors import WorkspaceBusyError, WorkspaceNameError, WorkspaceNotFoundError
from planning.store import (
    Workspace,
    list_workspaces,
    open_workspace,
    validate_workspace_name,
    workspace_path,
)


@pytest.mark.parametrize(
    "name",
    ["../x", "/etc", "", "   ", "a" * 65, "a/b", "..", ".hidden", "x.duckdb", "a b", "-x",
     "naïve", "C:\\temp", "x\x00y"],
)
def test_unsafe_workspace_names_are_refused(name: str, data_dir: Path) -> None:
    with pytest.raises(WorkspaceNameError):
        validate_workspace_name(name)
    with pytest.raises(WorkspaceNameError):
        open_workspace(name, create=True)
    assert list(data_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["demo", "acme-2027", "EMEA_plan", "a" * 64, "0"])
def test_safe_workspace_names_stay_in_the_data_folder(name: str, data_dir: Path) -> None:
    assert workspace_path(name).parent == data_dir.resolve()
    workspace = open_workspace(name, create=True)
    assert workspace.path.exists()
    assert name in list_workspaces()


def test_missing_workspace_is_not_created_silently(data_dir: Path) -> None:
    with pytest.raises(WorkspaceNotFoundError, match="does not exist"):
        open_workspace("nowhere")
    assert not (data_dir / "nowhere.duckdb").exists()


def test_open_returns_the_process_wide_workspace(workspace: Workspace) -> None:
    assert open_workspace("test") is workspace


def test_workspace_held_by_another_process_fails_fast_with_a_clear_message(
    workspace: Workspace,
) -> None:
    path = workspace.path
    workspace.close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(30)", str(path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(WorkspaceBusyError, match="busy in another process") as caught:
            open_workspace("test")
        assert time.monotonic() - started < 10
        assert str(holder.pid) in str(caught.value)
    finally:
        holder.kill()
        holder.wait()
    assert open_workspace("test").path == path


def test_write_rolls_back_everything_when_the_work_fails(workspace: Workspace) -> None:
    def failing(cur) -> None:
        cur.execute("INSERT INTO workspace_settings VALUES ('probe', '1')")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        workspace.write(failing)
    rows = workspace.read(
        lambda cur: cur.execute("SELECT count(*) FROM workspace_settings WHERE key = 'probe'")
        .fetchone()[0]
    )
    assert rows == 0


def test_concurrent_writers_on_one_row_all_land(workspace: Workspace) -> None:
    workspace.write(lambda cur: cur.execute("INSERT INTO workspace_settings VALUES ('n', '0')"))
    threads, per_thread = 8, 10
    errors: list[BaseException] = []

    def increment(cur) -> None:
        value = int(cur.execute("SELECT value FROM workspace_settings WHERE key = 'n'")
                    .fetchone()[0])
        cur.execute("UPDATE workspace_settings SET value = ? WHERE key = 'n'", [str(value + 1)])

    def worker() -> None:
        try:
            for _ in range(per_thread):
                workspace.write(increment, retries=60)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    final = workspace.read(
        lambda cur: cur.execute("SELECT value FROM workspace_settings WHERE key = 'n'")
        .fetchone()[0]
    )
    assert int(final) == threads * per_thread
