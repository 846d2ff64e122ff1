"""Long work that writes the workspace (imports), in a thread of the app process, never in a
page's script thread.

Solves and model training run as jobs in processes of their own (`planning.jobs`), because they
only need the rows the app hands them. An import must write the workspace in one transaction,
and DuckDB lets only one process hold a workspace file: the app. So it runs in a background
thread of the app, and a page follows it by workspace, person and kind: a reload or a visit to
another page and back finds it again, and its outcome is kept until that person starts another.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from planning.progress import ProgressCallback
from planning.store import Workspace


@dataclass
class BackgroundTask:
    """One piece of long work and where it stands."""

    task_id: str
    kind: str
    owner: str
    workspace: str
    started_at: float
    share: float = 0.0
    text: str = "Starting"
    status: str = "running"
    """running, done or failed."""
    result: Any = None
    error: BaseException | None = None
    finished_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        """Whether the work is still going."""
        return self.status == "running"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work has ended (for the command line and tests); False on timeout."""
        return self._done.wait(timeout)


_TASKS: dict[tuple[str, str, str], BackgroundTask] = {}
_LOCK = threading.Lock()


def _key(workspace: Workspace, owner: str, kind: str) -> tuple[str, str, str]:
    return str(workspace.path), owner, kind


def start_task(workspace: Workspace, owner: str, kind: str,
               work: Callable[[ProgressCallback], Any]) -> BackgroundTask:
    """Run `work(progress)` in a background thread as this person's task of `kind` in the
    workspace; their task already running is returned instead of starting a second one."""
    key = _key(workspace, owner, kind)
    with _LOCK:
        current = _TASKS.get(key)
        if current is not None and current.running:
            return current
        task = BackgroundTask(uuid.uuid4().hex[:12], kind, owner, workspace.name, time.time())
        _TASKS[key] = task

    def progress(share: float, text: str) -> None:
        task.share, task.text = min(max(share, 0.0), 1.0), text

    def run() -> None:
        try:
            task.result = work(progress)
            task.status = "done"
        except BaseException as exc:  # noqa: BLE001 - kept for the page, which shows it in words
            task.error, task.status = exc, "failed"
        finally:
            task.finished_at = time.time()
            task._done.set()

    threading.Thread(target=run, name=f"{kind}-{task.task_id}", daemon=True).start()
    return task


def current_task(workspace: Workspace, owner: str, kind: str) -> BackgroundTask | None:
    """This person's latest task of `kind` in the workspace (running or ended), if any."""
    with _LOCK:
        return _TASKS.get(_key(workspace, owner, kind))


def forget_task(workspace: Workspace, owner: str, kind: str, task_id: str) -> None:
    """Drop an ended task once its outcome has been shown."""
    key = _key(workspace, owner, kind)
    with _LOCK:
        task = _TASKS.get(key)
        if task is not None and task.task_id == task_id and not task.running:
            del _TASKS[key]


__all__ = ["BackgroundTask", "current_task", "forget_task", "start_task"]
