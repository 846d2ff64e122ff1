"""One clock: `planning.clock` is the only place in `planning/` that reads the time."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from planning.clock import now_utc, today_utc

PLANNING = Path(__file__).resolve().parents[2] / "planning"
CLOCK_COPY = re.compile(r"^\s*def _?(now|today|utc_now|utc_today|utc_naive_now)(_utc)?\(",
                        re.MULTILINE)
CLOCK_READ = re.compile(r"\b(datetime\.now|date\.today|datetime\.utcnow)\(")


def _sources() -> list[Path]:
    return sorted(path for path in PLANNING.rglob("*.py") if path.name != "clock.py")


def test_no_module_keeps_its_own_now_or_today() -> None:
    copies = [f"{path.relative_to(PLANNING.parent)}: {match.group(0).strip()}"
              for path in _sources()
              for match in CLOCK_COPY.finditer(path.read_text(encoding="utf-8"))]
    assert copies == [], "use planning.clock.now_utc / today_utc instead of: " + "; ".join(
        copies)


def test_no_module_reads_the_time_outside_the_clock() -> None:
    reads = [f"{path.relative_to(PLANNING.parent)}:{number}"
             for path in _sources()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if CLOCK_READ.search(line)]
    assert reads == [], "read the time through planning.clock: " + ", ".join(reads)


def test_the_clock_is_utc_and_naive() -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    moment = now_utc()
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert moment.tzinfo is None and before <= moment <= after
    assert today_utc() in (before.date(), after.date())
