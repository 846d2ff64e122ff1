"""Deal inspection: filters and flags against independent SQL, scope, timeline, notes, and the
pipeline waterfall adding up to the cent (on the demo and on hand-built deals)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from planning.access.policy import AccessDeniedError, system_principal
from planning.access.roles import Role
from planning.access.users import User
from planning.audit import audit_events, verify_chain
from planning.errors import RevPlanError
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.pipeline.inspection import (
    DEAL_COLUMNS,
    Bucket,
    DealFilters,
    Flag,
    RiskBand,
    add_inspection_note,
    deal_timeline,
    describe_change,
    filter_choices,
    inspect_deals,
    load_inspection_facts,
    pipeline_waterfall,
)
from planning.store import Workspace
from planning.store.inspection import DEFAULT_STALE_AFTER_DAYS, FLAG_SETTING_KEYS
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import demo_user

TODAY = DEMO_AS_OF


def sql_ids(workspace: Workspace, where: str, params: list | None = None) -> set[str]:
    """Ids of open deals matching a condition on `opportunities o`, written for the test."""
    rows = workspace.read(lambda cur: cur.execute(
        f"SELECT o.opportunity_id FROM opportunities o WHERE o.status = 'open' AND ({where})",
        params or [],
    ).fetchall())
    return {row[0] for row in rows}


def ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["opportunity_id"])


def independent_flags(workspace: Workspace) -> dict[Flag, tuple[str, list]]:
    """Each flag as SQL, with the calibrated thresholds in effect (FlagThresholds)."""
    t = load_inspection_facts(workspace).thresholds
    highest = ("(SELECT max(v) FROM (SELECT CAST(h.old_value AS BIGINT) AS v "
               "FROM opportunity_history h WHERE h.opportunity_id = o.opportunity_id "
               "AND h.field = 'amount' UNION ALL SELECT CAST(h.new_value AS BIGINT) "
               "FROM opportunity_history h WHERE h.opportunity_id = o.opportunity_id "
               "AND h.field = 'amount' UNION ALL SELECT o.amount_cents))")
    return {
        Flag.STALE: ("date_diff('day', coalesce(o.last_activity_date, "
                     "CAST(o.created_at AS DATE)), ?) > ?", [TODAY, t.stale_after_days]),
        Flag.NEXT_STEP_MISSING: ("(o.next_step IS NULL OR trim(o.next_step) = '') "
                                 "AND date_diff('day', ?, o.close_date) <= ?",
                                 [TODAY, t.next_step_missing_close_within_days]),
        Flag.NEXT_STEP_OVERDUE: ("date_diff('day', o.next_step_date, ?) > ?",
                                 [TODAY, t.next_step_overdue_after_days]),
        Flag.PUSHED: (
            "(SELECT count(*) FROM opportunity_history h "
            "WHERE h.opportunity_id = o.opportunity_id AND h.field = 'close_date' "
            "AND CAST(h.new_value AS DATE) > CAST(h.old_value AS DATE)) >= ?",
            [t.pushed_min_times]),
        Flag.AMOUNT_CUT: (f"o.amount_cents < {highest} AND o.amount_cents <= "
                          f"{highest} * (1 - ? / 100)", [t.amount_cut_min_percent]),
    }


@pytest.mark.parametrize("flag", list(Flag), ids=[f.value for f in Flag])
def test_each_flag_matches_independent_sql(scored_demo_copy: Workspace, flag: Flag) -> None:
    where, params = independent_flags(scored_demo_copy)[flag]
    expected = sql_ids(scored_demo_copy, where, params)
    every = inspect_deals(scored_demo_copy, None, DealFilters(), TODAY)

    flagged = inspect_deals(scored_demo_copy, None, DealFilters(flags={flag}), TODAY)

    assert 0 < len(expected) < len(every), "the demo should have some deals with the flag"
    assert ids(flagged) == expected
    assert flagged[flag.value].all()
    assert set(every.loc[every[flag.value], "opportunity_id"]) == expected


def test_flags_combine_as_and(scored_demo_copy: Workspace) -> None:
    stale = inspect_deals(scored_demo_copy, None, DealFilters(flags={Flag.STALE}), TODAY)
    pushed = inspect_deals(scored_demo_copy, None, DealFilters(flags={Flag.PUSHED}), TODAY)
    both = inspect_deals(scored_demo_copy, None,
                         DealFilters(flags={Flag.STALE, Flag.PUSHED}), TODAY)
    assert ids(both) == ids(stale) & ids(pushed)


def test_stale_follows_the_workspace_setting(scored_demo_copy: Workspace) -> None:
    before = inspect_deals(scored_demo_copy, None, DealFilters(flags={Flag.STALE}), TODAY)
    scored_demo_copy.write(lambda cur: cur.execute(
        "UPDATE workspace_settings SET value = '60' WHERE key = 'stale_after_days'"))
    after = inspect_deals(scored_demo_copy, None, DealFilters(flags={Flag.STALE}), TODAY)
    assert ids(after) == sql_ids(
        scored_demo_copy,
        "date_diff('day', coalesce(o.last_activity_date, CAST(o.created_at AS DATE)), ?) > 60",
        [TODAY])
    assert ids(after) < ids(before)


def test_every_open_deal_with_columns_largest_first(scored_demo_copy: Workspace) -> None:
    deals = inspect_deals(scored_demo_copy, None, DealFilters(), TODAY)

    assert list(deals.columns) == DEAL_COLUMNS
    assert ids(deals) == sql_ids(scored_demo_copy, "TRUE")
    amounts = deals["amount_cents"].tolist()
    assert amounts == sorted(amounts, reverse=True)
    scored = deals[deals["win_probability"].notna()]
    assert len(scored) == len(deals)
    assert all(isinstance(text, str) for reasons in scored["reasons"] for text in reasons)
    assert any(len(reasons) for reasons in scored["reasons"])


def test_team_stage_quarter_and_risk_filters_match_sql(scored_demo_copy: Workspace) -> None:
    choices = filter_choices(scored_demo_copy, None, TODAY)
    team, stage = choices.teams[0], choices.stages[-1]
    quarter = fiscal_quarter_of(TODAY)

    assert ids(inspect_deals(scored_demo_copy, None, DealFilters(teams={team}), TODAY)) == \
        sql_ids(scored_demo_copy,
                "o.owner_id IN (SELECT rep_id FROM reps WHERE team = ?)", [team])
    assert ids(inspect_deals(scored_demo_copy, None, DealFilters(stages={stage}), TODAY)) == \
        sql_ids(scored_demo_copy, "o.stage = ?", [stage])
    assert ids(inspect_deals(scored_demo_copy, None, DealFilters(close_quarter=quarter),
                             TODAY)) == \
        sql_ids(scored_demo_copy, "o.close_date BETWEEN ? AND ?", [quarter.start, quarter.end])
    high = inspect_deals(scored_demo_copy, None, DealFilters(risk_bands={RiskBand.HIGH}), TODAY)
    assert ids(high) == sql_ids(
        scored_demo_copy,
        "o.opportunity_id IN (SELECT d.opportunity_id FROM deal_scores d JOIN model_versions m "
        "ON m.model_id = d.model_id AND m.is_active AND m.target = 'win' "
        "WHERE d.win_probability < 0.3)")
    combined = inspect_deals(scored_demo_copy, None, DealFilters(
        teams={team}, stages={stage}, risk_bands={RiskBand.HIGH, RiskBand.MEDIUM}), TODAY)
    assert set(combined["team"]) <= {team} and set(combined["stage"]) <= {stage}
    assert (combined["win_probability"] < 0.6).all()


def subtree(workspace: Workspace, rep_id: str) -> set[str]:
    """The rep and everyone reporting to them, directly or not (independent recursive SQL)."""
    rows = workspace.read(lambda cur: cur.execute(
        """WITH RECURSIVE tree(rep_id) AS (
               SELECT rep_id FROM reps WHERE rep_id = ?
               UNION SELECT r.rep_id FROM reps r JOIN tree t ON r.manager_id = t.rep_id)
           SELECT rep_id FROM tree""", [rep_id]).fetchall())
    return {row[0] for row in rows}


def test_a_manager_sees_only_their_subtree(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    team = subtree(scored_demo_copy, manager.rep_id)

    deals = inspect_deals(scored_demo_copy, manager, DealFilters(), TODAY)

    assert ids(deals) == sql_ids(scored_demo_copy, "o.owner_id IN (SELECT UNNEST(?))",
                                 [sorted(team)])
    assert 0 < len(deals) < len(inspect_deals(scored_demo_copy, None, DealFilters(), TODAY))
    choices = filter_choices(scored_demo_copy, manager, TODAY)
    assert set(choices.reps) <= team


def test_a_rep_sees_only_their_own_deals(scored_demo_copy: Workspace) -> None:
    rep = demo_user(scored_demo_copy, Role.REP)

    deals = inspect_deals(scored_demo_copy, rep, DealFilters(), TODAY)

    assert len(deals) > 0
    assert ids(deals) == sql_ids(scored_demo_copy, "o.owner_id = ?", [rep.rep_id])
    assert list(filter_choices(scored_demo_copy, rep, TODAY).reps) == [rep.rep_id]


def test_a_filter_naming_a_rep_outside_scope_returns_nothing(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    everyone = inspect_deals(scored_demo_copy, None, DealFilters(), TODAY)
    outsider = next(o for o in everyone["owner_id"] if o not in manager.deal_owner_ids)
    insider = next(o for o in everyone["owner_id"] if o in manager.deal_owner_ids)
    other_team = next(t for t in everyone["team"]
                      if t not in set(everyone.loc[everyone["owner_id"].isin(
                          manager.deal_owner_ids), "team"]))

    for filters in (DealFilters(owner_ids={outsider}),
                    DealFilters(owner_ids={outsider, insider}),
                    DealFilters(teams={other_team})):
        assert inspect_deals(scored_demo_copy, manager, filters, TODAY).empty
    rep = demo_user(scored_demo_copy, Role.REP)
    assert inspect_deals(scored_demo_copy, rep, DealFilters(owner_ids={insider}), TODAY).empty
    mine = inspect_deals(scored_demo_copy, manager, DealFilters(owner_ids={insider}), TODAY)
    assert set(mine["owner_id"]) == {insider}


def test_shared_facts_never_widen_scope(scored_demo_copy: Workspace) -> None:
    facts = load_inspection_facts(scored_demo_copy)
    rep = demo_user(scored_demo_copy, Role.REP)
    with_facts = inspect_deals(scored_demo_copy, rep, DealFilters(), TODAY, facts=facts)
    assert ids(with_facts) == ids(inspect_deals(scored_demo_copy, rep, DealFilters(), TODAY))
    assert set(with_facts["owner_id"]) == {rep.rep_id}


def deal_with_history(workspace: Workspace, owners: set[str] | None = None) -> str:
    """An open deal with amount and close-date changes (of the given owners, if any)."""
    scope = "TRUE" if owners is None else "o.owner_id IN (SELECT UNNEST(?))"
    params = [] if owners is None else [sorted(owners)]
    row = workspace.read(lambda cur: cur.execute(
        f"""SELECT o.opportunity_id FROM opportunities o WHERE o.status = 'open' AND {scope}
            AND EXISTS (SELECT 1 FROM opportunity_history h WHERE h.field = 'amount'
                        AND h.opportunity_id = o.opportunity_id)
            AND EXISTS (SELECT 1 FROM opportunity_history h WHERE h.field = 'close_date'
                        AND h.opportunity_id = o.opportunity_id)
            ORDER BY o.opportunity_id LIMIT 1""", params).fetchone())
    assert row is not None
    return row[0]


def test_timeline_reads_history_activities_and_notes_in_order(
    scored_demo_copy: Workspace,
) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    deal = deal_with_history(scored_demo_copy, set(manager.deal_owner_ids))
    add_inspection_note(scored_demo_copy, manager, deal, "Champion left; re-qualify.")

    timeline = deal_timeline(scored_demo_copy, manager, deal)

    counts = scored_demo_copy.read(lambda cur: cur.execute(
        """SELECT (SELECT count(*) FROM opportunity_history WHERE opportunity_id = ?),
                  (SELECT count(*) FROM activities WHERE opportunity_id = ?)""",
        [deal, deal]).fetchone())
    assert (timeline["kind"] == "Change").sum() == counts[0]
    assert (timeline["kind"] == "Activity").sum() == counts[1]
    assert timeline.loc[timeline["kind"] == "Note", "detail"].tolist() == [
        "Champion left; re-qualify."]
    assert timeline["time"].is_monotonic_increasing
    amounts = timeline.loc[timeline["what"] == "Amount", "detail"]
    assert all(text.startswith("$") and " → $" in text for text in amounts)
    closes = timeline.loc[timeline["what"] == "Close date", "detail"]
    assert all(" days)" in text or "→" in text for text in closes)


def test_describe_change_words() -> None:
    assert describe_change("amount", "53850000", "30590000") == "$538,500 → $305,900"
    assert describe_change("close_date", "2026-10-27", "2026-12-11") == \
        "27 Oct 2026 → 11 Dec 2026 (+45 days)"
    assert describe_change("stage", "Discovery", "Proposal") == "Discovery → Proposal"
    assert describe_change("next_step", None, "Call") == "(none) → Call"


def test_timeline_refuses_a_deal_outside_scope(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    rep = demo_user(scored_demo_copy, Role.REP)
    outside = deal_with_history(scored_demo_copy, subtree_complement(scored_demo_copy, manager))

    with pytest.raises(AccessDeniedError, match="outside your team"):
        deal_timeline(scored_demo_copy, manager, outside)
    with pytest.raises(AccessDeniedError):
        deal_timeline(scored_demo_copy, rep, outside)
    with pytest.raises(RevPlanError, match="no deal"):
        deal_timeline(scored_demo_copy, manager, "no-such-deal")
    assert not deal_timeline(scored_demo_copy, None, outside).empty


def subtree_complement(workspace: Workspace, user: User) -> set[str]:
    rows = workspace.read(lambda cur: cur.execute("SELECT rep_id FROM reps").fetchall())
    return {row[0] for row in rows} - set(user.deal_owner_ids or ())


def note_events(workspace: Workspace) -> pd.DataFrame:
    return audit_events(workspace, system_principal(workspace.name), action="inspection_note.add")


def test_a_note_is_stored_with_its_audit_event(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    deal = deal_with_history(scored_demo_copy, set(manager.deal_owner_ids))

    note_id = add_inspection_note(scored_demo_copy, manager, deal, "  Verify budget.  ")

    note = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT opportunity_id, author, body FROM inspection_notes WHERE note_id = ?",
        [note_id]).fetchone())
    assert note == (deal, manager.email, "Verify budget.")
    events = note_events(scored_demo_copy)
    assert len(events) == 1
    event = events.iloc[0]
    assert (event["actor"], event["actor_role"], event["entity"], event["entity_id"]) == (
        manager.email, "manager", "opportunity", deal)
    assert '"body":"Verify budget."' in event["after_json"]
    assert verify_chain(scored_demo_copy).ok


def test_notes_are_refused_for_reps_out_of_scope_and_empty(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    rep = demo_user(scored_demo_copy, Role.REP)
    own = deal_with_history(scored_demo_copy, {rep.rep_id})
    outside = deal_with_history(scored_demo_copy, subtree_complement(scored_demo_copy, manager))

    with pytest.raises(AccessDeniedError, match="may not deal.add_note"):
        add_inspection_note(scored_demo_copy, rep, own, "My own deal")
    with pytest.raises(AccessDeniedError, match="outside your team"):
        add_inspection_note(scored_demo_copy, manager, outside, "Not my team")
    with pytest.raises(RevPlanError, match="empty"):
        add_inspection_note(scored_demo_copy, manager, own, "   \n ")

    assert scored_demo_copy.read(
        lambda cur: cur.execute("SELECT count(*) FROM inspection_notes").fetchone()[0]) == 0
    assert note_events(scored_demo_copy).empty


def replay_pipeline(workspace: Workspace, moment: dt.datetime, quarter: FiscalQuarter | None,
                    owners: set[str] | None) -> int:
    """Open pipeline at a moment by replaying the history in plain Python (test's own rules:
    a field's value is the new value of its last change at or before the moment, else the old
    value of its first change after it, else the current value)."""
    deals, history = workspace.read(lambda cur: (
        cur.execute("SELECT opportunity_id, owner_id, status, created_at, closed_at, "
                    "amount_cents, close_date FROM opportunities").fetchall(),
        cur.execute("SELECT opportunity_id, field, changed_at, old_value, new_value "
                    "FROM opportunity_history WHERE field IN ('amount', 'close_date') "
                    "ORDER BY opportunity_id, changed_at").fetchall(),
    ))
    changes: dict[tuple[str, str], list[tuple]] = {}
    for deal_id, field_name, changed_at, old, new in history:
        changes.setdefault((deal_id, field_name), []).append((changed_at, old, new))

    def value_at(deal_id: str, field_name: str, current: object) -> object:
        rows = changes.get((deal_id, field_name))
        if not rows:
            return current
        before = [new for changed_at, _, new in rows if changed_at <= moment]
        return before[-1] if before else rows[0][1]

    total = 0
    for deal_id, owner, status, created, closed, cents, close in deals:
        if owners is not None and owner not in owners:
            continue
        if created > moment or (status in ("won", "lost") and closed <= moment):
            continue
        amount = int(value_at(deal_id, "amount", cents))
        close_day = dt.date.fromisoformat(str(value_at(deal_id, "close_date", close))[:10])
        if quarter is None or quarter.start <= close_day <= quarter.end:
            total += amount
    return total


def check_adds_up(workspace: Workspace, viewer: User | None, start: dt.datetime,
                  end: dt.datetime, quarter: FiscalQuarter | None) -> None:
    waterfall = pipeline_waterfall(workspace, viewer, start, end, quarter)
    assert waterfall.start_cents + sum(b.cents for b in waterfall.buckets) == waterfall.end_cents
    owners = None if viewer is None else set(viewer.deal_owner_ids or ())
    assert waterfall.start_cents == replay_pipeline(workspace, start, quarter, owners)
    assert waterfall.end_cents == replay_pipeline(workspace, end, quarter, owners)
    assert [b.bucket for b in waterfall.buckets] == list(Bucket)
    for bucket in waterfall.buckets:
        positive = bucket.bucket in (Bucket.NEW, Bucket.INCREASED, Bucket.PULLED_IN)
        assert bucket.cents >= 0 if positive else bucket.cents <= 0
    moves = waterfall.moves
    assert (moves["end_cents"] - moves["start_cents"]).sum() == waterfall.change_cents
    assert ((moves["amount_change_cents"] + moves["movement_cents"])
            == moves["end_cents"] - moves["start_cents"]).all()


WINDOWS = [
    (dt.datetime(2026, 11, 9), dt.datetime(2026, 11, 16)),
    (dt.datetime(2026, 10, 1), dt.datetime(2026, 11, 16, 12)),
    (dt.datetime(2026, 6, 30, 23, 59), dt.datetime(2026, 9, 30, 23, 59)),
]


@pytest.mark.parametrize("window", WINDOWS, ids=["last-week", "quarter-to-date", "last-q3"])
def test_waterfall_adds_up_on_the_demo(
    scored_demo_copy: Workspace, window: tuple[dt.datetime, dt.datetime]
) -> None:
    start, end = window
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    quarter = fiscal_quarter_of(end.date())
    for viewer in (None, manager):
        for chosen in (None, quarter, quarter.next()):
            check_adds_up(scored_demo_copy, viewer, start, end, chosen)


def test_waterfall_on_the_demo_has_movement(scored_demo_copy: Workspace) -> None:
    start, end = WINDOWS[1]
    waterfall = pipeline_waterfall(scored_demo_copy, None, start, end, fiscal_quarter_of(
        end.date()))
    for bucket in (Bucket.NEW, Bucket.WON, Bucket.LOST, Bucket.PUSHED_OUT):
        assert waterfall.cents(bucket) != 0, bucket
    with pytest.raises(RevPlanError, match="before its end"):
        pipeline_waterfall(scored_demo_copy, None, end, start, None)


LOADED = dt.datetime(2026, 11, 20)
Q4 = fiscal_quarter_of(dt.date(2026, 11, 1))
START, END = dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 8)
HAND_DEALS = [
    # id, owner, status, amount now, close date now, created, closed_at
    ("D01-steady", "r1", "open", 1_000_000, "2026-12-15", "2026-09-01", None),
    ("D02-increase", "r1", "open", 800_000, "2026-12-01", "2026-09-01", None),
    ("D03-decrease", "r1", "open", 600_050, "2026-12-01", "2026-09-01", None),
    ("D04-new", "r1", "open", 250_025, "2026-12-20", "2026-11-02", None),
    ("D05-won", "r1", "won", 450_000, "2026-11-06", "2026-08-01", "2026-11-06 10:00"),
    ("D06-lost", "r2", "lost", 300_000, "2026-11-07", "2026-08-01", "2026-11-07 10:00"),
    ("D07-pushed", "r2", "open", 700_000, "2027-01-15", "2026-08-01", None),
    ("D08-pulled", "r1", "open", 120_000, "2026-12-05", "2026-08-01", None),
    ("D09-cut-and-pushed", "r1", "open", 150_000, "2027-03-01", "2026-08-01", None),
    ("D10-in-and-out", "r1", "won", 90_000, "2026-11-05", "2026-11-02", "2026-11-05 10:00"),
    ("D11-closed-before", "r1", "won", 80_000, "2026-10-15", "2026-08-01", "2026-10-15 10:00"),
    ("D12-created-after", "r1", "open", 70_000, "2026-12-01", "2026-11-10", None),
    ("D13-changed-before", "r1", "open", 180_000, "2026-12-10", "2026-08-01", None),
    ("D14-changed-after", "r1", "open", 990_000, "2026-12-10", "2026-08-01", None),
]
HAND_HISTORY = [
    # deal, changed_at, field, old, new
    ("D02-increase", "2026-11-03 09:00", "amount", "500000", "800000"),
    ("D03-decrease", "2026-11-04 09:00", "amount", "900000", "600050"),
    ("D05-won", "2026-11-05 09:00", "amount", "400000", "450000"),
    ("D05-won", "2026-11-06 10:00", "stage", "Negotiation", "Closed Won"),
    ("D07-pushed", "2026-11-05 09:00", "close_date", "2026-12-10", "2027-01-15"),
    ("D08-pulled", "2026-11-05 09:00", "close_date", "2027-02-01", "2026-12-05"),
    ("D09-cut-and-pushed", "2026-11-04 09:00", "amount", "200000", "150000"),
    ("D09-cut-and-pushed", "2026-11-06 09:00", "close_date", "2026-12-10", "2027-03-01"),
    ("D13-changed-before", "2026-10-15 09:00", "amount", "100000", "180000"),
    ("D14-changed-after", "2026-11-15 09:00", "amount", "330000", "990000"),
]


@pytest.fixture
def hand_built(workspace: Workspace) -> Workspace:
    """Two reps and the deals above, each built to land in one known waterfall bucket."""
    def load(cur) -> None:
        cur.executemany(
            "INSERT INTO reps (rep_id, name, team, source, loaded_at) VALUES (?, ?, ?, 't', ?)",
            [["r1", "Ada Rep", "North", LOADED], ["r2", "Bo Rep", "South", LOADED]])
        cur.execute("INSERT INTO accounts (account_id, name, source, loaded_at) "
                    "VALUES ('a1', 'Acme', 't', ?)", [LOADED])
        cur.executemany(
            """INSERT INTO opportunities (opportunity_id, account_id, owner_id, name, stage,
                   status, amount_cents, close_date, created_at, closed_at, next_step,
                   source, loaded_at)
               VALUES (?, 'a1', ?, ?, ?, ?, ?, ?, ?, ?, 'Call', 't', ?)""",
            [[d, owner, d, {"open": "Proposal", "won": "Closed Won", "lost": "Closed Lost"}[s],
              s, cents, close, created, closed, LOADED]
             for d, owner, s, cents, close, created, closed in HAND_DEALS])
        cur.executemany(
            """INSERT INTO opportunity_history (history_id, opportunity_id, changed_at, field,
                   old_value, new_value, source, loaded_at) VALUES (?, ?, ?, ?, ?, ?, 't', ?)""",
            [[f"h{i}", *row, LOADED] for i, row in enumerate(HAND_HISTORY)])

    workspace.write(load)
    return workspace


def manager_of_r1() -> User:
    return User(email="m@example.com", name="M", workspace="test",
                roles=frozenset({Role.MANAGER}), rep_id="m1",
                deal_owner_ids=frozenset({"m1", "r1"}))


def test_hand_built_waterfall_for_the_quarter(hand_built: Workspace) -> None:
    waterfall = pipeline_waterfall(hand_built, None, START, END, Q4)

    assert waterfall.start_cents == 4_510_000
    assert waterfall.end_cents == 3_280_075
    assert {b.bucket: b.cents for b in waterfall.buckets} == {
        Bucket.NEW: 250_025,
        Bucket.INCREASED: 300_000 + 50_000,
        Bucket.DECREASED: -299_950 - 50_000,
        Bucket.PULLED_IN: 120_000,
        Bucket.PUSHED_OUT: -700_000 - 150_000,
        Bucket.WON: -450_000,
        Bucket.LOST: -300_000,
    }
    assert {b.bucket: b.deals for b in waterfall.buckets} == {
        Bucket.NEW: 1, Bucket.INCREASED: 2, Bucket.DECREASED: 2, Bucket.PULLED_IN: 1,
        Bucket.PUSHED_OUT: 2, Bucket.WON: 1, Bucket.LOST: 1,
    }
    assert (waterfall.start_deals, waterfall.end_deals) == (9, 7)
    moves = waterfall.moves.set_index("opportunity_id")
    assert moves.loc["D09-cut-and-pushed", "movement"] == "pushed_out"
    assert moves.loc["D09-cut-and-pushed", "amount_change_cents"] == -50_000
    assert moves.loc["D05-won", "movement_cents"] == -450_000
    assert not {"D10-in-and-out", "D11-closed-before", "D12-created-after"} & set(moves.index)
    check_adds_up(hand_built, None, START, END, Q4)


def test_hand_built_waterfall_for_all_open_deals_and_for_a_manager(
    hand_built: Workspace,
) -> None:
    everything = pipeline_waterfall(hand_built, None, START, END, None)
    assert (everything.start_cents, everything.end_cents) == (4_630_000, 4_130_075)
    assert {b.bucket: b.cents for b in everything.buckets} == {
        Bucket.NEW: 250_025, Bucket.INCREASED: 350_000, Bucket.DECREASED: -349_950,
        Bucket.PULLED_IN: 0, Bucket.PUSHED_OUT: 0, Bucket.WON: -450_000, Bucket.LOST: -300_000,
    }
    manager = manager_of_r1()
    mine = pipeline_waterfall(hand_built, manager, START, END, Q4)
    assert (mine.start_cents, mine.end_cents) == (3_510_000, 3_280_075)
    assert mine.cents(Bucket.LOST) == 0
    assert mine.cents(Bucket.PUSHED_OUT) == -150_000
    check_adds_up(hand_built, manager, START, END, Q4)
    check_adds_up(hand_built, manager, START, END, None)


def test_hand_built_flags(hand_built: Workspace) -> None:
    today = dt.date(2026, 11, 16)
    # Calibration off (one push, any cut, plain 21 stale days): this checks the history facts.
    hand_built.write(lambda cur: cur.executemany(
        "INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
        [["pushed_min_times", "1"], ["amount_cut_min_percent", "0"], ["flag_percentile", "0"]]))
    deals = inspect_deals(hand_built, None, DealFilters(), today).set_index("opportunity_id")

    assert set(deals.index[deals["pushed"]]) == {"D07-pushed", "D09-cut-and-pushed"}
    assert set(deals.index[deals["amount_cut"]]) == {"D03-decrease", "D09-cut-and-pushed"}
    assert set(deals.index[deals["stale"]]) == set(deals.index) - {"D04-new", "D12-created-after"}
    assert not deals["next_step_missing"].any()
    assert (deals["risk_band"] == RiskBand.UNSCORED.value).all()
    assert deals["reasons"].map(len).eq(0).all()
    manager = manager_of_r1()
    assert set(inspect_deals(hand_built, manager, DealFilters(), today)["owner_id"]) == {"r1"}
    assert inspect_deals(hand_built, manager, DealFilters(teams={"South"}), today).empty


def test_default_flags_mark_at_most_a_fifth_of_open_deals(scored_demo_copy: Workspace) -> None:
    settings = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT key, value FROM workspace_settings WHERE key IN (SELECT UNNEST(?))",
        [[*FLAG_SETTING_KEYS]]).fetchall())
    assert settings == [("stale_after_days", str(DEFAULT_STALE_AFTER_DAYS))]
    deals = inspect_deals(scored_demo_copy, None, DealFilters(), TODAY)
    flagged = deals[[flag.value for flag in Flag]].any(axis=1)

    assert len(deals) > 0
    assert 0 < flagged.sum() <= 0.20 * len(deals)
