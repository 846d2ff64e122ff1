"""Browser tests: the real app served by `streamlit run` on a free port, driven by Chromium.

The server runs on a private copy of a workspace named `demo`, so it never holds a file other
tests use. It is always terminated at teardown.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from planning.overview import WorkspaceKpis, workspace_kpis
from planning.store import open_workspace

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_DIR = PROJECT_ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
STARTUP_SECONDS = 60
RENDER_TIMEOUT_MS = 90_000
"""How long any browser wait (expect, click, fill, navigation) may take: long enough for a
rerun of a page on a busy 2-core machine, so no wait falls back to Playwright's 5 s."""
STOP_SECONDS = 10


@dataclass(frozen=True)
class RunningApp:
    """A served app: its base URL, data folder and the KPIs its workspace should show."""

    url: str
    data_dir: Path
    workspace: str
    kpis: WorkspaceKpis
    log: Path
    members: dict[str, str]
    """Role -> email of the member holding it (read before the server took the file)."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _expected_kpis(folder: Path, name: str) -> WorkspaceKpis:
    workspace = open_workspace(name, read_only=True, base=folder)
    try:
        return workspace_kpis(workspace)
    finally:
        workspace.close()


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().decode().strip() == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"streamlit did not answer /_stcore/health within {STARTUP_SECONDS} s:\n"
        f"{log.read_text()[-4000:]}"
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_SECONDS)


@contextmanager
def serve_app(
    folder: Path, extra_args: tuple[str, ...] = (), extra_env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[str, Path]]:
    """`streamlit run app.py` on a port (a free one by default) over the workspaces in
    `folder`; yields its URL and log file."""
    port = port or free_port()
    url = f"http://localhost:{port}"
    log = folder / f"streamlit-{port}.log"
    env = {
        **os.environ,
        "REVPLAN_DATA_DIR": str(folder),
        "REVPLAN_WORKSPACE": "demo",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    command = [
        str(Path(sys.executable).with_name("streamlit")), "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        *extra_args,
    ]
    with log.open("w") as log_file:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_healthy(url, process, log)
        yield url, log
    finally:
        _stop(process)


def member_emails(folder: Path, name: str = "demo") -> dict[str, str]:
    """Role -> email of a workspace member holding it (the demo has one person per role).

    Read before a server opens the file: DuckDB lets one process hold it.
    """
    workspace = open_workspace(name, read_only=True, base=folder)
    try:
        rows = workspace.read(lambda cur: cur.execute(
            "SELECT unnest(roles) AS role, min(email) FROM workspace_members GROUP BY role"
        ).fetchall())
    finally:
        workspace.close()
    return dict(rows)


@pytest.fixture(scope="session")
def running_app(
    demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """The app in demo sign-in mode over a private copy of the small demo workspace."""
    folder = tmp_path_factory.mktemp("served-workspaces")
    shutil.copy(demo_data_dir / "demo.duckdb", folder / "demo.duckdb")
    kpis = _expected_kpis(folder, "demo")
    members = member_emails(folder)
    with serve_app(folder) as (url, log):
        yield RunningApp(url=url, data_dir=folder, workspace="demo", kpis=kpis, log=log,
                         members=members)


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright's sync API."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (make browser installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        use_render_timeout()
        try:
            yield chromium
        finally:
            chromium.close()


def use_render_timeout() -> None:
    """Make every `expect` wait up to the render timeout unless told otherwise."""
    expect.set_options(timeout=RENDER_TIMEOUT_MS)


def new_context(browser: Browser, width: int = 1600, height: int = 1000) -> BrowserContext:
    """A fresh browser session at this window size whose pages wait up to the render timeout
    for every action, navigation and `expect`."""
    use_render_timeout()
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(RENDER_TIMEOUT_MS)
    context.set_default_navigation_timeout(RENDER_TIMEOUT_MS)
    return context


def new_page(context: BrowserContext) -> Page:
    """A page of `context` that waits up to the render timeout."""
    page = context.new_page()
    page.set_default_timeout(RENDER_TIMEOUT_MS)
    page.set_default_navigation_timeout(RENDER_TIMEOUT_MS)
    return page


def wait_until_settled(page: Page) -> None:
    """Wait until the app's script has finished its run, no element still shows its loading
    skeleton, the fonts are loaded and the browser has painted twice since, so a screenshot or
    a measurement sees the finished page."""
    expect(page.get_by_test_id("stApp")).to_have_attribute(
        "data-test-script-state", "notRunning")
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0)
    page.wait_for_function("document.fonts.status === 'loaded'")
    page.evaluate(
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")


@pytest.fixture
def browser_page(chromium_browser: Browser) -> Iterator[Page]:
    """A fresh browser page at a meeting-friendly window size, waiting up to the render
    timeout."""
    context = new_context(chromium_browser)
    try:
        yield new_page(context)
    finally:
        context.close()


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """`test-output/` in the project, where screenshots go."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR
