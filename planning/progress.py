"""Progress reporting shared by long jobs: the app shows it with st.progress, the CLI with tqdm."""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[float, str], None]
"""Called with the share done (0.0 to 1.0) and a short description of the current step."""


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores every report."""
