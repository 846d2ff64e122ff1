"""The one clock of the domain core: the current moment and day, in UTC.

Storage keeps UTC as naive timestamps (DuckDB `TIMESTAMP`), so `now_utc()` is naive; every
module that stamps a row, ages data or names a file asks here instead of keeping its own copy,
so the rule (UTC, naive in storage) is written once. The workspace's as-of day, which plans
and forecasts are computed for, is a different thing: see `planning.asof.resolve_as_of`.
"""

from __future__ import annotations

import datetime as dt


def now_utc() -> dt.datetime:
    """The current moment in UTC, naive (the form stored in DuckDB)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def today_utc() -> dt.date:
    """Today's date in UTC."""
    return dt.datetime.now(dt.UTC).date()
