"""Home KPIs on a hand-built workspace: every expected value is summed by hand, in cents."""

from __future__ import annotations

import datetime as dt

import pytest

from planning.errors import RevPlanError
from planning.overview import (
    describe_age,
    format_money,
    format_percent,
    relative_change,
    workspace_kpis,
)
from planning.store import Workspace

TODAY = dt.date(2026, 11, 23)  # FY2026 Q4 (calendar fiscal year), day 54
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
NEWEST_LOAD = dt.datetime(2026, 11, 23, 6, 30)

# (id, stage, status, amount_cents, close_date)
OPPORTUNITIES = [
    ("o1", "Discovery", "open", 1_000_000, "2026-12-15"),
    ("o2", "Proposal", "open", 2_500_050, "2026-12-20"),
    ("o3", "Awaiting budget", "open", None, "2027-01-10"),
    ("o4", "Negotiation", "open", 700_001, "2026-12-01"),
    # Current quarter (FY2026 Q4): first day and today count, tomorrow does not.
    ("o5", "Closed Won", "won", 300_000, "2026-10-01"),
    ("o6", "Closed Won", "won", 450_025, "2026-11-23"),
    ("o7", "Closed Won", "won", 999_999, "2026-11-24"),
    # Last quarter (FY2026 Q3); the same point as today is 23 Aug.
    ("o8", "Closed Won", "won", 200_000, "2026-07-01"),
    ("o9", "Closed Won", "won", 100_000, "2026-08-23"),
    ("o10", "Closed Won", "won", 50_000, "2026-08-24"),
    ("o11", "Closed Won", "won", 125_000, "2026-09-30"),
    ("o12", "Closed Lost", "lost", 40_000, "2026-09-15"),
    ("o13", "Closed Lost", "lost", 999, "2026-07-20"),
    # The quarter before (FY2026 Q2).
    ("o14", "Closed Won", "won", 80_000, "2026-05-01"),
    ("o15", "Closed Lost", "lost", 5_000, "2026-06-30"),
    # FY2024 Q4 falls outside the eight-quarter series; FY2025 Q1's first day is inside.
    ("o16", "Closed Won", "won", 777_777, "2024-12-31"),
    ("o17", "Closed Won", "won", 10_000, "2025-01-01"),
]

# (history_id, opportunity_id, changed_at, field, old, new); o2 was created 1 Sep, o4 1 Aug.
HISTORY = [
    ("h1", "o2", "2026-09-01 00:00:00", "created", None, "Discovery"),
    ("h2", "o2", "2026-09-11 00:00:00", "stage", "Discovery", "Proposal"),
    ("h3", "o4", "2026-08-06 00:00:00", "stage", "Discovery", "Proposal"),
    ("h4", "o4", "2026-08-21 00:00:00", "stage", "Proposal", "Negotiation"),
    ("h5", "o4", "2026-08-22 00:00:00", "amount", "600000", "700001"),
]

CREATED = {"o2": "2026-09-01 00:00:00", "o4": "2026-08-01 00:00:00"}


def seed_known_workspace(workspace: Workspace, fiscal_start_month: int = 1) -> None:
    """Fill a migrated workspace with the rows above (plus reps, accounts, activities)."""

    def work(cur) -> None:
        cur.execute(
            "UPDATE workspace_settings SET value = ? WHERE key = 'fiscal_year_start_month'",
            [str(fiscal_start_month)],
        )
        for rep_id, active, loaded in [
            ("r1", True, "2026-11-20 10:00:00"),
            ("r2", True, "2026-11-20 10:00:00"),
            ("r3", False, "2026-11-20 10:00:00"),
        ]:
            cur.execute(
                "INSERT INTO reps (rep_id, name, is_active, source, loaded_at) "
                "VALUES (?, ?, ?, 'test', ?)",
                [rep_id, f"Rep {rep_id}", active, loaded],
            )
        for account_id in ("a1", "a2", "a3"):
            cur.execute(
                "INSERT INTO accounts (account_id, name, source, loaded_at) "
                "VALUES (?, ?, 'test', '2026-11-22 09:00:00')",
                [account_id, f"Account {account_id}"],
            )
        for opp_id, stage, status, cents, close in OPPORTUNITIES:
            cur.execute(
                "INSERT INTO opportunities (opportunity_id, account_id, owner_id, stage, status, "
                "amount_cents, close_date, created_at, source, loaded_at) "
                "VALUES (?, 'a1', 'r1', ?, ?, ?, ?, ?, 'test', '2026-11-23 05:00:00')",
                [opp_id, stage, status, cents, close, CREATED.get(opp_id, "2024-06-01 00:00:00")],
            )
        for row in HISTORY:
            cur.execute(
                "INSERT INTO opportunity_history (history_id, opportunity_id, changed_at, field, "
                "old_value, new_value, source, loaded_at) VALUES (?, ?, ?, ?, ?, ?, 'test', ?)",
                [*row, NEWEST_LOAD],
            )
        cur.execute(
            "INSERT INTO activities (activity_id, opportunity_id, kind, occurred_at, source, "
            "loaded_at) VALUES ('x1', 'o1', 'call', '2026-11-20 12:00:00', 'test', "
            "'2026-11-21 08:00:00')"
        )

    workspace.write(work)


def test_kpis_on_calendar_fiscal_year(workspace: Workspace) -> None:
    seed_known_workspace(workspace)
    kpis = workspace_kpis(workspace, TODAY, now=NOW)

    assert kpis.workspace == "test"
    assert kpis.current_quarter.label == "FY2026 Q4"
    assert kpis.last_quarter.label == "FY2026 Q3"
    assert kpis.day_of_quarter == 54
    assert kpis.last_quarter_same_point == dt.date(2026, 8, 23)

    assert kpis.open_pipeline_cents == 1_000_000 + 2_500_050 + 700_001
    assert kpis.open_pipeline_deals == 4
    assert (kpis.bookings_qtd_cents, kpis.bookings_qtd_deals) == (300_000 + 450_025, 2)
    assert kpis.bookings_last_quarter_cents == 200_000 + 100_000 + 50_000 + 125_000
    assert kpis.bookings_last_quarter_deals == 4
    assert kpis.bookings_last_quarter_same_point_cents == 200_000 + 100_000
    assert kpis.bookings_qtd_change == pytest.approx((750_025 - 300_000) / 300_000)
    assert kpis.bookings_last_quarter_change == pytest.approx((475_000 - 80_000) / 80_000)

    assert (kpis.won_last_quarter, kpis.lost_last_quarter) == (4, 2)
    assert kpis.win_rate_last_quarter == pytest.approx(4 / 6)
    assert kpis.win_rate_quarter_before == pytest.approx(1 / 2)
    assert kpis.win_rate_change == pytest.approx(4 / 6 - 1 / 2)

    assert kpis.accounts == 3
    assert kpis.active_reps == 2
    assert kpis.has_data
    assert kpis.data_as_of == NEWEST_LOAD.replace(tzinfo=dt.UTC)
    assert kpis.data_age == dt.timedelta(hours=3)


def test_bookings_series_covers_eight_quarters(workspace: Workspace) -> None:
    seed_known_workspace(workspace)
    series = workspace_kpis(workspace, TODAY, now=NOW).bookings_by_quarter

    assert [(q.quarter.label, q.cents, q.deals, q.to_date) for q in series] == [
        ("FY2025 Q1", 10_000, 1, False),
        ("FY2025 Q2", 0, 0, False),
        ("FY2025 Q3", 0, 0, False),
        ("FY2025 Q4", 0, 0, False),
        ("FY2026 Q1", 0, 0, False),
        ("FY2026 Q2", 80_000, 1, False),
        ("FY2026 Q3", 475_000, 4, False),
        ("FY2026 Q4", 750_025, 2, True),
    ]


def test_pipeline_by_stage_in_funnel_order(workspace: Workspace) -> None:
    """Stages order by when deals entered them, not by name; unseen stages go last."""
    seed_known_workspace(workspace)
    stages = workspace_kpis(workspace, TODAY, now=NOW).pipeline_by_stage

    assert [(s.stage, s.cents, s.deals) for s in stages] == [
        ("Discovery", 1_000_000, 1),
        ("Proposal", 2_500_050, 1),
        ("Negotiation", 700_001, 1),
        ("Awaiting budget", 0, 1),
    ]


def test_kpis_follow_the_fiscal_start_month(workspace: Workspace) -> None:
    """With a February start, today is day 23 of FY2027 Q4 (1 Nov - 31 Jan)."""
    seed_known_workspace(workspace, fiscal_start_month=2)
    kpis = workspace_kpis(workspace, TODAY, now=NOW)

    assert kpis.fiscal_year_start_month == 2
    assert kpis.current_quarter.label == "FY2027 Q4"
    assert kpis.last_quarter.label == "FY2027 Q3"
    assert kpis.day_of_quarter == 23
    assert kpis.last_quarter_same_point == dt.date(2026, 8, 23)
    assert kpis.bookings_qtd_cents == 450_025
    assert kpis.bookings_last_quarter_cents == 300_000 + 100_000 + 50_000 + 125_000
    assert kpis.bookings_last_quarter_same_point_cents == 100_000
    assert kpis.win_rate_last_quarter == pytest.approx(4 / 5)


def test_empty_workspace_is_all_zeros(workspace: Workspace) -> None:
    kpis = workspace_kpis(workspace, TODAY, now=NOW)

    assert kpis.open_pipeline_cents == kpis.open_pipeline_deals == 0
    assert kpis.bookings_qtd_cents == kpis.bookings_last_quarter_cents == 0
    assert kpis.bookings_qtd_change is None
    assert kpis.win_rate_last_quarter is None and kpis.win_rate_change is None
    assert kpis.accounts == kpis.active_reps == 0
    assert not kpis.has_data and kpis.data_age is None
    assert len(kpis.bookings_by_quarter) == 8
    assert all(q.cents == 0 for q in kpis.bookings_by_quarter)
    assert kpis.pipeline_by_stage == ()


def test_today_defaults_to_the_utc_date_of_now(workspace: Workspace) -> None:
    late = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    kpis = workspace_kpis(workspace, now=late)
    assert kpis.today == dt.date(2027, 1, 1)
    assert kpis.current_quarter.label == "FY2027 Q1"


def test_invalid_fiscal_setting_is_a_clear_error(workspace: Workspace) -> None:
    workspace.write(
        lambda cur: cur.execute(
            "UPDATE workspace_settings SET value = '13' WHERE key = 'fiscal_year_start_month'"
        )
    )
    with pytest.raises(RevPlanError, match="fiscal_year_start_month"):
        workspace_kpis(workspace, TODAY, now=NOW)


@pytest.mark.parametrize(
    ("cents", "compact", "text"),
    [
        (0, True, "$0"),
        (95_000, True, "$950"),
        (99_949, True, "$999"),
        (123_456, True, "$1.23K"),
        (83_000_000, True, "$830K"),
        (99_999_999, True, "$1M"),
        (124_000_000, True, "$1.24M"),
        (1_250_000_000_00, True, "$1.25B"),
        (-420_051, True, "-$4.2K"),
        (124_000_000, False, "$1,240,000"),
    ],
)
def test_format_money(cents: int, compact: bool, text: str) -> None:
    assert format_money(cents, compact=compact) == text


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (dt.timedelta(seconds=30), "just now"),
        (dt.timedelta(minutes=1), "1 minute ago"),
        (dt.timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (dt.timedelta(hours=3, minutes=10), "3 hours ago"),
        (dt.timedelta(days=1, hours=2), "1 day ago"),
        (dt.timedelta(days=9), "9 days ago"),
    ],
)
def test_describe_age(age: dt.timedelta, text: str) -> None:
    assert describe_age(age) == text


def test_percent_and_change_helpers() -> None:
    assert format_percent(4 / 6) == "66.7%"
    assert format_percent(0.5, signed=True) == "+50.0%"
    assert format_percent(None) == "n/a"
    assert relative_change(150, 100) == pytest.approx(0.5)
    assert relative_change(5, 0) is None


@pytest.mark.parametrize(("value", "shown"), [
    (0, "0"), (830.4, "830"), (12_400, "12.4K"), (6_890_000, "6.89M"),
    (68_908_438_025_000, "68.9T"), (-2_500_000_000, "-2.5B"),
])
def test_large_quantities_read_at_a_glance(value: float, shown: str) -> None:
    from planning.overview import format_quantity

    assert format_quantity(value) == shown
