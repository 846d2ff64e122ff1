"""Usage telemetry: recording, timing, and the usage report over known events."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pandas as pd
import pytest

from planning.access.policy import system_principal
from planning.store import Workspace
from planning.telemetry import KINDS, OUTCOMES, record_event, timed, usage_report


def events(ws: Workspace) -> list[dict]:
    def read(cur) -> list[dict]:
        cur.execute(
            "SELECT occurred_at, user_email, kind, name, duration_ms, outcome, detail_json "
            "FROM telemetry_events ORDER BY event_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    return ws.read(read)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def insert_at(ws: Workspace, occurred_at: dt.datetime, user: str, kind: str, name: str,
              duration_ms: float | None = None, outcome: str = "ok") -> None:
    ws.write(lambda cur: cur.execute(
        "INSERT INTO telemetry_events (occurred_at, user_email, kind, name, duration_ms, "
        "outcome) VALUES (?, ?, ?, ?, ?, ?)",
        [occurred_at, user, kind, name, duration_ms, outcome]))


def test_record_event_writes_a_row(workspace: Workspace) -> None:
    before = utc_now()
    assert record_event(workspace, "page_view", "home", user_email="ann@example.com",
                        duration_ms=12.5, detail={"b": 2, "a": "x"})
    assert record_event(workspace, "login", "demo")
    after = utc_now()
    first, second = events(workspace)
    assert (first["user_email"], first["kind"], first["name"]) == (
        "ann@example.com", "page_view", "home")
    assert first["duration_ms"] == 12.5 and first["outcome"] == "ok"
    assert first["detail_json"] == '{"a": "x", "b": 2}'
    assert before <= first["occurred_at"] <= after  # UTC, naive
    assert (second["user_email"], second["kind"], second["name"]) == (None, "login", "demo")
    assert second["duration_ms"] is None and second["detail_json"] is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_known_kind_and_outcome_is_accepted(
    workspace: Workspace, kind: str, outcome: str
) -> None:
    assert record_event(workspace, kind, "x", outcome=outcome)
    assert [(e["kind"], e["outcome"]) for e in events(workspace)] == [(kind, outcome)]


@pytest.mark.parametrize(
    ("kind", "outcome"), [("click", "ok"), ("PAGE_VIEW", "ok"), ("", "ok"),
                          ("page_view", "fine"), ("page_view", "")]
)
def test_unknown_kind_or_outcome_raises(workspace: Workspace, kind: str, outcome: str) -> None:
    with pytest.raises(ValueError, match="Unknown telemetry kind"):
        record_event(workspace, kind, "home", outcome=outcome)
    assert events(workspace) == []


def test_recording_failure_is_swallowed_and_logged(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    workspace.connection.close()
    with caplog.at_level(logging.WARNING, logger="planning.telemetry"):
        assert record_event(workspace, "page_view", "home") is False
    assert "Could not record telemetry event page_view/home" in caplog.text


def test_timed_records_duration_and_detail(workspace: Workspace) -> None:
    started = time.perf_counter()
    with timed(workspace, "solve", "territory", user_email="ann@example.com") as event:
        time.sleep(0.05)
        event.detail = {"rows": 3}
    elapsed_ms = (time.perf_counter() - started) * 1000
    (row,) = events(workspace)
    assert (row["kind"], row["name"], row["user_email"], row["outcome"]) == (
        "solve", "territory", "ann@example.com", "ok")
    assert 50 <= row["duration_ms"] <= elapsed_ms
    assert json.loads(row["detail_json"]) == {"rows": 3}


def test_timed_records_error_and_reraises(workspace: Workspace) -> None:
    class SolverBroke(Exception):
        pass

    with pytest.raises(SolverBroke, match="infeasible"), timed(workspace, "solve", "quota"):
        time.sleep(0.02)
        raise SolverBroke("infeasible")
    (row,) = events(workspace)
    assert row["outcome"] == "error"
    assert row["duration_ms"] >= 20


def test_timed_keeps_an_outcome_set_in_the_block(workspace: Workspace) -> None:
    with timed(workspace, "export", "audit.csv") as event:
        event.outcome = "refused"
    assert events(workspace)[0]["outcome"] == "refused"


def test_timed_block_survives_telemetry_failure(workspace: Workspace) -> None:
    workspace.connection.close()
    done = []
    with timed(workspace, "import", "file.csv"):
        done.append(True)
    assert done == [True]


# --- usage report ---------------------------------------------------------------------------

ANN, BOB, CAT = "ann@example.com", "bob@example.com", "cat@example.com"


@pytest.fixture
def usage(workspace: Workspace) -> Workspace:
    """Known events: some now, one 29 days ago (inside 30 days), two 40 days ago (outside)."""
    for ms in (10.0, 20.0, 60.0):
        record_event(workspace, "page_view", "home", user_email=ANN, duration_ms=ms)
    record_event(workspace, "page_view", "import", user_email=ANN, duration_ms=5.0)
    record_event(workspace, "import", "crm.csv", user_email=ANN, duration_ms=900.0)
    for ms in (30.0, 50.0):
        record_event(workspace, "page_view", "home", user_email=BOB, duration_ms=ms)
    record_event(workspace, "solve", "territory", user_email=BOB, duration_ms=4000.0,
                 outcome="error")
    record_event(workspace, "page_view", "audit", user_email=CAT, outcome="refused")
    record_event(workspace, "export", "audit.csv", user_email=CAT, duration_ms=250.0)
    now = utc_now()
    insert_at(workspace, now - dt.timedelta(days=29), CAT, "page_view", "home", 70.0)
    insert_at(workspace, now - dt.timedelta(days=40), ANN, "page_view", "home", 99_999.0)
    insert_at(workspace, now - dt.timedelta(days=40), "old@example.com", "solve", "quota",
              88_888.0)
    return workspace


def test_usage_by_user(usage: Workspace) -> None:
    report = usage_report(usage, system_principal(usage.name), days=30)
    frame = report.by_user.set_index("user")
    assert list(report.by_user["user"]) == [ANN, BOB, CAT]  # page views, most first
    counts = frame[["page_views", "imports", "solves", "exports", "failures_or_refusals"]]
    assert counts.loc[ANN].tolist() == [4, 1, 0, 0, 0]
    assert counts.loc[BOB].tolist() == [2, 0, 1, 0, 1]
    assert counts.loc[CAT].tolist() == [2, 0, 0, 1, 1]
    assert "old@example.com" not in frame.index


def test_usage_by_user_and_page(usage: Workspace) -> None:
    frame = usage_report(usage, system_principal(usage.name), days=30).by_user_and_page
    got = list(zip(frame["user"], frame["page"], frame["views"], strict=True))
    assert got == [
        (ANN, "home", 3), (BOB, "home", 2), (ANN, "import", 1),
        (CAT, "audit", 1), (CAT, "home", 1),
    ]
    medians = {(u, p): m for u, p, m in zip(frame["user"], frame["page"], frame["median_ms"],
                                            strict=True)}
    assert medians[(ANN, "home")] == 20  # the 40-day-old 99,999 ms view is not counted
    assert medians[(BOB, "home")] == 40
    assert pd.isna(medians[(CAT, "audit")])


def test_slowest_ordered_by_duration(usage: Workspace) -> None:
    slowest = usage_report(usage, system_principal(usage.name), days=30, slowest=4).slowest
    assert list(slowest["duration_ms"]) == [4000.0, 900.0, 250.0, 70.0]
    assert list(slowest["name"]) == ["territory", "crm.csv", "audit.csv", "home"]
    assert slowest["outcome"].iloc[0] == "error"
    everything = usage_report(usage, system_principal(usage.name), days=30, slowest=100).slowest
    assert list(everything["duration_ms"]) == sorted(everything["duration_ms"], reverse=True)
    assert len(everything) == 10  # timed events inside the period; the untimed one is left out
    assert 99_999.0 not in set(everything["duration_ms"])


def test_period_excludes_older_events(usage: Workspace) -> None:
    week = usage_report(usage, system_principal(usage.name), days=7)
    assert CAT in set(week.by_user["user"])
    assert week.by_user.set_index("user").loc[CAT, "page_views"] == 1  # 29-day-old view out
    assert 70.0 not in set(week.slowest["duration_ms"])
    month = usage_report(usage, system_principal(usage.name), days=30)
    assert month.since < utc_now() - dt.timedelta(days=29, hours=23)
    everything = usage_report(usage, system_principal(usage.name), days=60)
    assert everything.by_user.set_index("user").loc[ANN, "page_views"] == 5
    assert everything.slowest["duration_ms"].iloc[0] == 99_999.0


def test_daily_counts(usage: Workspace) -> None:
    daily = usage_report(usage, system_principal(usage.name), days=30).daily
    assert int(daily["events"].sum()) == 11
    old_day = (utc_now() - dt.timedelta(days=29)).date()
    old = daily[pd.to_datetime(daily["day"]).dt.date == old_day]
    assert old[["kind", "events", "users"]].values.tolist() == [["page_view", 1, 1]]


def test_empty_report(workspace: Workspace) -> None:
    report = usage_report(workspace, system_principal(workspace.name))
    assert report.by_user.empty and report.by_user_and_page.empty
    assert report.slowest.empty and report.daily.empty
