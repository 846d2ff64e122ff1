"""Long work that writes the workspace runs in a thread of the app process, not the caller's:
one task per person and kind, its progress readable while it runs, its outcome kept until
shown; the import page follows an import started before it was opened (a reload)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.import_throughput import write_files
from planning.background import current_task, forget_task, start_task
from planning.errors import RevPlanError
from planning.ingest import import_files, import_in_background, recent_runs
from planning.store import Workspace
from tests.views.test_pages import workspace_admin
from views.common import USER_KEY, WORKSPACE_KEY

PAGE = Path(__file__).resolve().parents[2] / "views" / "import_data.py"
OWNER = "ops@example.com"


def test_a_task_runs_in_its_own_thread_and_keeps_its_outcome(workspace: Workspace) -> None:
    release = threading.Event()
    seen: dict[str, str] = {}

    def work(progress) -> int:
        seen["thread"] = threading.current_thread().name
        progress(0.5, "Half way")
        release.wait(30)
        return 42

    task = start_task(workspace, OWNER, "import", work)
    assert task.running
    assert start_task(workspace, OWNER, "import", lambda progress: 0) is task
    assert current_task(workspace, OWNER, "import") is task
    assert current_task(workspace, "someone@example.com", "import") is None
    release.set()
    assert task.wait(30)
    assert task.status == "done" and task.result == 42 and task.error is None
    assert seen["thread"] != threading.current_thread().name
    forget_task(workspace, OWNER, "import", task.task_id)
    assert current_task(workspace, OWNER, "import") is None


def test_a_failed_task_keeps_the_error_for_the_page(workspace: Workspace) -> None:
    def work(progress) -> None:
        raise RevPlanError("The file has no header row.")

    task = start_task(workspace, OWNER, "import", work)
    assert task.wait(30)
    assert task.status == "failed" and str(task.error) == "The file has no header row."
    again = start_task(workspace, OWNER, "import", lambda progress: 1)
    assert again is not task and again.wait(30) and again.result == 1


@pytest.mark.slow
def test_the_import_page_follows_an_import_started_before_it_opened(
    workspace: Workspace, tmp_path: Path,
) -> None:
    users, accounts, opportunities = write_files(tmp_path, rows=150_000)
    import_files(workspace, [users, accounts])
    admin = workspace_admin(workspace)
    import_in_background(workspace, admin, [(opportunities.name, opportunities.read_bytes())])
    assert current_task(workspace, admin.email, "import").running

    app = AppTest.from_file(str(PAGE), default_timeout=120)
    app.session_state[WORKSPACE_KEY] = workspace.name
    app.session_state[USER_KEY] = admin
    app = app.run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    latest = recent_runs(workspace).iloc[0]
    assert app.subheader[0].value == f"Import run {latest['run_id']}"
    assert {m.label: m.value for m in app.metric}["Inserted"] == "150,000"
    assert current_task(workspace, admin.email, "import") is None


def test_publishing_runs_in_the_background_and_queues_the_same_items(
    demo_copy: Workspace,
) -> None:
    from planning.writeback import PUBLISH_TASK, outbox, publish_in_background
    from tests.planning.test_writeback import PUBLISHER, approve, make_version

    version_id = make_version(demo_copy, "territory")
    approve(demo_copy, version_id)
    task = publish_in_background(demo_copy, version_id, PUBLISHER)
    assert current_task(demo_copy, PUBLISHER.email, PUBLISH_TASK) is task
    assert task.wait(120)
    assert task.status == "done", task.error
    items = outbox(demo_copy)
    assert task.result.new_items == len(items) > 0
    assert set(items["batch_id"]) == {task.result.batch_id}
