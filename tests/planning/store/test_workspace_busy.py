"""A workspace another process holds is reported as busy, naming that process, and opening it
retries for a bounded time; it is never reported as missing access."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from auth.settings import load_auth_settings
from planning.access.membership import accessible_workspaces, grant_roles
from planning.access.users import Identity
from planning.errors import WorkspaceBusyError
from planning.store import Workspace, open_workspace
from planning.store.workspace import OPEN_RETRY_SECONDS

MEMBER = "member@example.com"
APP = Path(__file__).resolve().parents[3] / "app.py"


@contextmanager
def held_by_another_process(path: Path, seconds: float = 60) -> Iterator[subprocess.Popen]:
    """A second process that opens the workspace file (taking DuckDB's lock) and keeps it for
    `seconds`, then exits."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(float(sys.argv[2]))", str(path), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def members_workspace(workspace: Workspace) -> Path:
    """The test workspace with one member, closed in this process so another may hold it."""
    grant_roles(workspace, None, MEMBER, ["viewer"])
    path = workspace.path
    workspace.close()
    return path


def test_opening_a_held_workspace_says_busy_with_the_pid_and_retries(
    members_workspace: Path,
) -> None:
    notices: list[str] = []
    with held_by_another_process(members_workspace) as holder:
        started = time.monotonic()
        with pytest.raises(WorkspaceBusyError) as caught:
            open_workspace("test", on_busy=notices.append)
        waited = time.monotonic() - started
    assert notices == [f"Workspace 'test' is busy in another process (PID {holder.pid}); "
                       "retrying…"]
    assert OPEN_RETRY_SECONDS <= waited < OPEN_RETRY_SECONDS + 5
    assert caught.value.pid == holder.pid and caught.value.workspace == "test"
    assert f"busy in another process (PID {holder.pid})" in str(caught.value)
    assert "access" not in str(caught.value)


def test_a_workspace_freed_while_retrying_opens(members_workspace: Path) -> None:
    notices: list[str] = []
    with held_by_another_process(members_workspace, seconds=1):
        workspace = open_workspace("test", on_busy=notices.append)
    assert len(notices) == 1 and "retrying" in notices[0]
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM workspace_members").fetchone()[0]) == 1


def test_a_busy_workspace_is_not_reported_as_missing_access(members_workspace: Path) -> None:
    settings = load_auth_settings({}, {})
    with held_by_another_process(members_workspace) as holder, pytest.raises(
            WorkspaceBusyError) as caught:
        accessible_workspaces(Identity(MEMBER, "", "demo"), settings)
    assert f"busy in another process (PID {holder.pid})" in str(caught.value)
    assert accessible_workspaces(Identity(MEMBER, "", "demo"), settings) == ["test"]


def test_the_app_says_busy_not_no_access(members_workspace: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVPLAN_WORKSPACE", "test")
    monkeypatch.chdir(members_workspace.parent)
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.query_params["as"] = MEMBER
    with held_by_another_process(members_workspace) as holder:
        app.run()
    errors = [element.value for element in app.error]
    assert any(f"Workspace 'test' is busy in another process (PID {holder.pid})" in text
               for text in errors), errors
    assert not any("no access" in text for text in errors)
    assert [button.label for button in app.button] == ["Try again"]
