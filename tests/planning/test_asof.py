"""The workspace's as-of date: from the data, the setting or the session, and what uses it."""

from __future__ import annotations

import datetime as dt

import pytest

from planning import audit
from planning.access.policy import AccessDeniedError, system_principal
from planning.access.roles import Role
from planning.access.users import User
from planning.asof import (
    AsOf,
    AsOfError,
    as_of_moment,
    describe_span,
    fiscal_years_with_data,
    parse_day,
    quarters_with_data,
    resolve_as_of,
    set_workspace_as_of,
)
from planning.overview import workspace_kpis
from planning.store import Workspace

LAST_CLOSE = dt.date(2017, 12, 31)

# (id, status, amount_cents, created, close_date); the export ends on 31 Dec 2017.
OLD_DEALS = [
    ("d1", "won", 1_000_000, "2016-10-20 09:00:00", "2016-11-02"),
    ("d2", "lost", 400_000, "2016-11-01 09:00:00", "2017-02-10"),
    ("d3", "won", 250_000, "2017-03-01 09:00:00", "2017-05-15"),
    ("d4", "won", 600_000, "2017-07-01 09:00:00", "2017-09-30"),
    ("d5", "won", 300_050, "2017-10-02 09:00:00", "2017-12-31"),
    ("d6", "lost", 90_000, "2017-10-05 09:00:00", "2017-11-20"),
    ("d7", "open", 750_000, "2017-11-01 09:00:00", "2018-03-31"),
]


def user(role: Role, workspace: str = "test") -> User:
    """A signed-in person holding one role in the workspace."""
    return User(f"{role.value}@example.com", role.value.title(), workspace,
                roles=frozenset({role}))


def seed_old_workspace(workspace: Workspace) -> None:
    """Two reps, two accounts and seven deals of 2016-2017, loaded now, as an old CRM export."""
    loaded = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def work(cur) -> None:
        cur.execute(
            "INSERT INTO reps (rep_id, name, is_active, source, loaded_at) VALUES "
            "('r1', 'Ada', TRUE, 't', ?), ('r2', 'Bo', TRUE, 't', ?)", [loaded, loaded])
        cur.execute(
            "INSERT INTO accounts (account_id, name, created_at, source, loaded_at) VALUES "
            "('a1', 'Acme', '2016-01-05', 't', ?), ('a2', 'Globex', NULL, 't', ?)",
            [loaded, loaded])
        for deal_id, status, cents, created, close in OLD_DEALS:
            cur.execute(
                "INSERT INTO opportunities (opportunity_id, account_id, owner_id, stage, status, "
                "amount_cents, close_date, created_at, source, loaded_at) "
                "VALUES (?, 'a1', 'r1', ?, ?, ?, ?, ?, 't', ?)",
                [deal_id, status.title(), status, cents, close, created, loaded])

    workspace.write(work)


def test_empty_workspace_is_as_of_today(workspace: Workspace) -> None:
    as_of = resolve_as_of(workspace)
    assert as_of == AsOf(dt.datetime.now(dt.UTC).date(), "clock", None, None)


def test_data_date_is_the_newest_closed_deal_not_an_open_deal_plan(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    as_of = resolve_as_of(workspace)
    assert (as_of.day, as_of.source) == (LAST_CLOSE, "data")
    assert as_of.newest_record == as_of.newest_close == LAST_CLOSE
    assert as_of.sentence == (
        "Data as of 31 Dec 2017 (newest record); newest deal closed 31 Dec 2017")
    assert as_of.to_dict()["as_of"] == "2017-12-31"


@pytest.mark.parametrize(("table_sql", "expected"), [
    ("INSERT INTO opportunity_history VALUES ('h1', 'd7', '2018-01-04 10:00:00', 'stage', "
     "'A', 'B', NULL, 't', now())", dt.date(2018, 1, 4)),
    ("INSERT INTO activities VALUES ('x1', 'd7', 'a1', 'r1', 'call', '2018-01-05 10:00:00', "
     "'t', now())", dt.date(2018, 1, 5)),
    ("UPDATE accounts SET created_at = '2018-01-06' WHERE account_id = 'a2'",
     dt.date(2018, 1, 6)),
    ("UPDATE opportunities SET created_at = '2018-01-07' WHERE opportunity_id = 'd7'",
     dt.date(2018, 1, 7)),
    ("UPDATE opportunities SET closed_at = '2018-01-08 17:00:00' WHERE opportunity_id = 'd6'",
     dt.date(2018, 1, 8)),
    # A record dated after today never moves the data date past today.
    ("INSERT INTO activities VALUES ('x2', 'd7', 'a1', 'r1', 'call', '2999-01-01 10:00:00', "
     "'t', now())", LAST_CLOSE),
])
def test_data_date_comes_from_every_dated_table(
    workspace: Workspace, table_sql: str, expected: dt.date
) -> None:
    seed_old_workspace(workspace)
    workspace.write(lambda cur: cur.execute(table_sql))
    assert resolve_as_of(workspace).day == expected


def test_session_override_beats_setting_which_beats_data(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    admin = user(Role.ADMIN)
    set_workspace_as_of(workspace, admin, dt.date(2017, 6, 30))
    assert resolve_as_of(workspace).source == "workspace"
    assert resolve_as_of(workspace).day == dt.date(2017, 6, 30)
    chosen = resolve_as_of(workspace, dt.date(2017, 3, 1))
    assert (chosen.day, chosen.source, chosen.newest_close) == (
        dt.date(2017, 3, 1), "session", LAST_CLOSE)
    assert "chosen for this session" in chosen.sentence


def test_setting_is_persisted_audited_and_clearable(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    revops = user(Role.REVOPS)
    after = set_workspace_as_of(workspace, revops, dt.date(2017, 9, 30))
    assert (after.day, after.source) == (dt.date(2017, 9, 30), "workspace")
    cleared = set_workspace_as_of(workspace, revops, None)
    assert (cleared.day, cleared.source) == (LAST_CLOSE, "data")

    events = audit.audit_events(workspace, system_principal(workspace.name),
                                action="workspace.set_as_of").to_dict("records")
    assert len(events) == 1
    assert events[0]["actor"] == "revops@example.com"
    assert events[0]["after_json"] == '"2017-09-30"'
    cleared_events = audit.audit_events(workspace, system_principal(workspace.name),
                                        action="workspace.clear_as_of")
    assert list(cleared_events["before_json"]) == ['"2017-09-30"']
    assert audit.verify_chain(workspace).ok


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SALES_LEADER, Role.REP])
def test_only_admins_and_revops_may_set_it(workspace: Workspace, role: Role) -> None:
    with pytest.raises(AccessDeniedError):
        set_workspace_as_of(workspace, user(role), dt.date(2017, 1, 1))
    assert resolve_as_of(workspace).source == "clock"
    assert audit.audit_events(workspace, system_principal(workspace.name),
                              action="workspace.set_as_of").empty


def test_a_broken_setting_is_a_clear_error(workspace: Workspace) -> None:
    workspace.write(lambda cur: cur.execute(
        "INSERT INTO workspace_settings VALUES ('as_of', 'last tuesday')"))
    with pytest.raises(AsOfError, match="as_of is 'last tuesday'"):
        resolve_as_of(workspace)


def test_quarters_with_data_reach_back_to_the_oldest_deal(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    quarters = quarters_with_data(workspace, resolve_as_of(workspace).day)
    assert [q.label for q in quarters] == [
        "FY2017 Q4", "FY2017 Q3", "FY2017 Q2", "FY2017 Q1", "FY2016 Q4"]
    assert fiscal_years_with_data(workspace, LAST_CLOSE) == [2018, 2017, 2016]


def test_quarters_follow_the_fiscal_start_month(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    workspace.write(lambda cur: cur.execute(
        "UPDATE workspace_settings SET value = '2' WHERE key = 'fiscal_year_start_month'"))
    quarters = quarters_with_data(workspace, LAST_CLOSE)
    assert quarters[0].label == "FY2018 Q4" and quarters[-1].label == "FY2017 Q3"


def test_empty_workspace_has_only_the_as_of_quarter(workspace: Workspace) -> None:
    assert [q.label for q in quarters_with_data(workspace, dt.date(2026, 5, 1))] == ["FY2026 Q2"]


def test_kpis_at_the_data_date_show_the_datas_own_bookings(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    kpis = workspace_kpis(workspace)
    assert kpis.today == LAST_CLOSE
    assert kpis.as_of is not None and kpis.as_of.source == "data"
    assert kpis.current_quarter.label == "FY2017 Q4"
    assert kpis.bookings_qtd_cents == 300_050
    assert kpis.bookings_last_quarter_cents == 600_000
    assert kpis.win_rate_last_quarter == 1.0
    by_label = {q.quarter.label: q.cents for q in kpis.bookings_by_quarter}
    assert by_label["FY2017 Q2"] == 250_000 and by_label["FY2016 Q4"] == 1_000_000
    assert kpis.open_pipeline_cents == 750_000
    assert kpis.newest_record_at is not None
    assert kpis.newest_record_at.date() == LAST_CLOSE
    assert kpis.record_age is not None and kpis.record_age > dt.timedelta(days=365)


def test_kpis_follow_an_explicit_as_of(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    kpis = workspace_kpis(workspace, as_of=resolve_as_of(workspace, dt.date(2017, 6, 1)))
    assert kpis.current_quarter.label == "FY2017 Q2"
    assert kpis.bookings_qtd_cents == 250_000


@pytest.mark.parametrize(("days", "text"), [
    (1, "1 day"), (20, "20 days"), (62, "2 months"), (365, "1 year"), (1065, "2 years 11 months"),
])
def test_describe_span(days: int, text: str) -> None:
    assert describe_span(days) == text


def test_parse_day_says_the_expected_form() -> None:
    assert parse_day(" 2017-12-31 ") == LAST_CLOSE
    with pytest.raises(AsOfError, match="YYYY-MM-DD"):
        parse_day("31/12/2017")


def test_models_default_to_the_end_of_the_as_of_day(workspace: Workspace) -> None:
    now = dt.datetime(2026, 11, 30, 9, 0)
    assert as_of_moment(workspace, now) == now
    seed_old_workspace(workspace)
    assert as_of_moment(workspace, now) == dt.datetime(2018, 1, 1)
