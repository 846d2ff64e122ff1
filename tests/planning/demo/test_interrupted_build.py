"""A demo build killed halfway leaves an incomplete workspace; `revplan demo --if-missing`
(what `make run` calls) builds it again and says why, and leaves a complete one alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from planning.cli import main
from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.workspaces import creation_complete

REBUILT = ("Workspace 'demo' was left incomplete by an interrupted build; building it again.")


def kill_demo_once_its_file_exists(data_dir: Path) -> None:
    """Start `revplan demo` in its own process and SIGKILL it as soon as the workspace file
    appears (the company is built, the tables are not yet committed)."""
    build = subprocess.Popen(
        [sys.executable, "-m", "planning.cli", "demo", "--workspace", "demo", "--size", "small"],
        env={**os.environ, "REVPLAN_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not (data_dir / "demo.duckdb").exists():
            assert build.poll() is None, "the demo build ended before writing its workspace"
            assert time.monotonic() < deadline, "the demo build never wrote its workspace"
            time.sleep(0.005)
        build.send_signal(signal.SIGKILL)
    finally:
        build.kill()
        build.wait()
    assert build.returncode == -signal.SIGKILL


def test_a_killed_demo_is_rebuilt_by_if_missing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kill_demo_once_its_file_exists(data_dir)
    assert (data_dir / "demo.duckdb").exists()
    assert not creation_complete("demo")
    close_all_workspaces()

    assert main(["demo", "--workspace", "demo", "--size", "small", "--if-missing"]) == 0
    out = capsys.readouterr().out
    assert REBUILT in out
    assert creation_complete("demo")
    reps, members = open_workspace("demo").read(lambda cur: (
        cur.execute("SELECT count(*) FROM reps").fetchone()[0],
        cur.execute("SELECT count(*) FROM workspace_members").fetchone()[0]))
    assert reps > 0 and members > 0
    close_all_workspaces()
    assert main(["audit", "verify", "--workspace", "demo"]) == 0
    capsys.readouterr()

    assert main(["demo", "--workspace", "demo", "--size", "small", "--if-missing"]) == 0
    assert "exists; leaving it as it is" in capsys.readouterr().out


def test_a_complete_demo_is_left_as_it_is(
    demo_copy: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    before = demo_copy.read(lambda cur: cur.execute("SELECT count(*) FROM audit_events")
                            .fetchone()[0])
    assert main(["demo", "--workspace", demo_copy.name, "--if-missing"]) == 0
    out = capsys.readouterr().out
    assert "exists; leaving it as it is" in out and "incomplete" not in out
    assert open_workspace(demo_copy.name).read(
        lambda cur: cur.execute("SELECT count(*) FROM audit_events").fetchone()[0]) == before
