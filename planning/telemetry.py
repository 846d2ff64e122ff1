"""Usage telemetry: page views, imports, solves and exports with who, how long and how it went.

Only the verified email identifies a person; details hold names of pages and actions and
counts, never data values. Recording never breaks the action it describes: a failure to write
telemetry is logged and swallowed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd

from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User
from planning.clock import now_utc
from planning.store import Workspace, telemetry_log

logger = logging.getLogger(__name__)

KINDS = ("page_view", "import", "solve", "train", "export", "login", "access_refused")
OUTCOMES = ("ok", "error", "refused")


def record_event(
    workspace: Workspace, kind: str, name: str, *, user_email: str | None = None,
    duration_ms: float | None = None, outcome: str = "ok", detail: dict | None = None,
) -> bool:
    """Append one event; returns False (and logs) instead of raising if it cannot be written."""
    if kind not in KINDS or outcome not in OUTCOMES:
        raise ValueError(f"Unknown telemetry kind {kind!r} or outcome {outcome!r}.")
    detail_json = None if detail is None else json.dumps(detail, sort_keys=True, default=str)
    try:
        workspace.write(lambda cur: telemetry_log.insert_event(
            cur, now_utc(), user_email, kind, name, duration_ms, outcome, detail_json))
    except Exception:  # noqa: BLE001 - telemetry must never break the action it measures
        logger.warning("Could not record telemetry event %s/%s", kind, name, exc_info=True)
        return False
    return True


@dataclass
class TimedEvent:
    """An event being timed; set `outcome` or `detail` before the block ends if needed."""

    outcome: str = "ok"
    detail: dict | None = None


@contextmanager
def timed(
    workspace: Workspace, kind: str, name: str, user_email: str | None = None
) -> Iterator[TimedEvent]:
    """Time the enclosed block and record it; an exception records outcome 'error' and re-raises."""
    if kind not in KINDS:
        raise ValueError(f"Unknown telemetry kind {kind!r}.")
    event = TimedEvent()
    started = time.perf_counter()
    try:
        yield event
    except BaseException:
        event.outcome = "error"
        raise
    finally:
        record_event(workspace, kind, name, user_email=user_email,
                     duration_ms=(time.perf_counter() - started) * 1000,
                     outcome=event.outcome, detail=event.detail)


@dataclass(frozen=True)
class UsageReport:
    """What the Telemetry view shows for a period."""

    since: dt.datetime
    by_user: pd.DataFrame
    by_user_and_page: pd.DataFrame
    slowest: pd.DataFrame
    daily: pd.DataFrame


@entry_point(Action.READ_TELEMETRY)
def usage_report(workspace: Workspace, user: User, days: int = 30,
                 slowest: int = 20) -> UsageReport:
    """Usage per user and page, daily activity and the slowest actions over the last days."""
    since = now_utc() - dt.timedelta(days=days)

    def read(cur) -> UsageReport:
        return UsageReport(
            since=since,
            by_user=telemetry_log.activity_by_user(cur, since),
            by_user_and_page=telemetry_log.usage_by_user_and_page(cur, since),
            slowest=telemetry_log.slowest_events(cur, since, slowest),
            daily=telemetry_log.daily_counts(cur, since),
        )

    return workspace.read(read)
