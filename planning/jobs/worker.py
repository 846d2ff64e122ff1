"""`revplan worker`: polls the job queues of every workspace and runs their jobs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

from planning.jobs.run import launch
from planning.store.job_queue import JobQueue

HEARTBEAT_SECONDS = 1.0


def run_worker(folder: Path, *, stop: threading.Event | None = None,
               poll: float = 0.5) -> None:
    """Claim queued jobs in `folder`'s queue files and start each in its own processes.

    Writes a heartbeat to every queue on each poll, so the app knows not to start jobs itself;
    runs until `stop` is set or the process is terminated. Jobs already started keep running
    under their own supervisors, which still enforce their limits.
    """
    stop = stop or threading.Event()
    name = f"{socket.gethostname()}:{os.getpid()}"
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    running: list[subprocess.Popen] = []
    seen: set[Path] = set()
    try:
        while not stop.is_set():
            for file in sorted(Path(folder).glob("*.jobs.sqlite")):
                queue = JobQueue(file)
                seen.add(file)
                queue.heartbeat(name)
                for job_id in queue.queued():
                    if queue.claim(job_id):
                        running.append(launch(file, job_id))
            running = [process for process in running if process.poll() is None]
            stop.wait(min(poll, HEARTBEAT_SECONDS))
    finally:
        for file in seen:
            JobQueue(file).forget_worker(name)
