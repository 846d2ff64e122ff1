"""Quarter forecast: the Monte Carlo kernel, per-subject forecasts, calls and overrides, and the
week's deal changes, each checked against exact expectations or independent SQL."""

from __future__ import annotations

import datetime as dt
import tracemalloc

import numpy as np
import pytest

from planning.access.policy import AccessDeniedError
from planning.access.roles import Role
from planning.access.users import User
from planning.errors import RevPlanError
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.pipeline import forecast as fc
from planning.pipeline.forecast_calls import (
    call_targets,
    overridable_calls,
    override_call,
    submit_call,
)
from planning.pipeline.forecast_changes import Tally, changes_since, deal_changes
from planning.pipeline.forecast_history import forecast_history
from planning.pipeline.forecast_scope import COMPANY
from planning.pipeline.forecast_simulation import (
    PULL_IN,
    in_quarter_probability,
    monte_carlo_totals,
    shocked_totals,
)
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import demo_user

QUARTER = fiscal_quarter_of(DEMO_AS_OF)


# --- monte_carlo_totals -----------------------------------------------------------------------


def test_certain_and_impossible_deals_give_exact_totals() -> None:
    """Probability 1 adds the amount in every draw, 0 never; an empty group stays zero."""
    totals = monte_carlo_totals(
        np.array([100, 250, 999, 7, 31]), np.array([1.0, 0.0, 1.0, 0.0, 1.0]),
        np.array([0, 0, 1, 1, 0]), groups=3, draws=50, seed=1,
    )

    assert totals.dtype == np.int64
    assert totals.shape == (3, 50)
    assert (totals[0] == 131).all()
    assert (totals[1] == 999).all()
    assert (totals[2] == 0).all()


@pytest.mark.parametrize("probability", [0.003, 0.04, 0.3, 0.5, 0.8, 0.97, 0.999])
def test_one_deal_closes_in_its_share_of_draws(probability: float) -> None:
    """Across every simulation path (rare wins, mid-range, rare misses) a single deal closes
    in a share of draws within five standard errors of its probability."""
    draws = 200_000
    totals = monte_carlo_totals(np.array([1]), np.array([probability]), np.array([0]), 1,
                                draws, seed=3)

    share = totals[0].mean()
    assert set(np.unique(totals[0])) <= {0, 1}
    assert abs(share - probability) <= 5 * np.sqrt(probability * (1 - probability) / draws)


def test_mean_and_spread_match_the_independent_deal_model() -> None:
    """Per group, the mean over many draws is within five standard errors of Σ amount × p and
    the variance within 5 % of Σ amount² × p × (1 − p)."""
    rng = np.random.default_rng(11)
    n, draws, groups = 3_000, 20_000, 4
    amounts = rng.integers(1_000, 5_000_000, n)
    probability = np.concatenate([rng.random(n - 300), rng.random(100) * 0.01,
                                  np.ones(100), 1 - rng.random(100) * 0.02])
    group = rng.integers(0, groups, n)

    totals = monte_carlo_totals(amounts, probability, group, groups, draws, seed=5)

    for g in range(groups):
        mine = group == g
        expected = float((amounts[mine] * probability[mine]).sum())
        variance = float((amounts[mine] ** 2.0 * probability[mine] * (1 - probability[mine]))
                         .sum())
        assert abs(totals[g].mean() - expected) <= 5 * np.sqrt(variance / draws)
        assert totals[g].var() == pytest.approx(variance, rel=0.05)


def test_groups_add_up_to_the_company_total_in_every_draw() -> None:
    """The same deals and seed, grouped or not, give the same total in each draw."""
    rng = np.random.default_rng(2)
    n = 5_000
    amounts = rng.integers(0, 10_000_000, n)
    probability = np.where(rng.random(n) < 0.5, rng.random(n), rng.random(n) * 0.05)
    group = rng.integers(0, 17, n)

    by_group = monte_carlo_totals(amounts, probability, group, 17, 3_000, seed=9)
    company = monte_carlo_totals(amounts, probability, np.zeros(n, dtype=np.int64), 1,
                                 3_000, seed=9)

    np.testing.assert_array_equal(by_group.sum(axis=0), company[0])


def test_a_seed_fixes_the_draws() -> None:
    """Same seed, same matrix; another seed, other draws."""
    rng = np.random.default_rng(4)
    amounts, probability = rng.integers(1, 10**6, 800), rng.random(800)
    group = rng.integers(0, 3, 800)

    first = monte_carlo_totals(amounts, probability, group, 3, 1_000, seed=7)
    again = monte_carlo_totals(amounts, probability, group, 3, 1_000, seed=7)
    other = monte_carlo_totals(amounts, probability, group, 3, 1_000, seed=8)

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def _peak_bytes(amounts: np.ndarray, probability: np.ndarray, groups: int, draws: int) -> int:
    group = np.arange(amounts.size, dtype=np.int64) % groups
    tracemalloc.start()
    try:
        totals = monte_carlo_totals(amounts, probability, group, groups, draws, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert totals.shape == (groups, draws)
    return peak


def test_a_million_deals_stay_within_memory_by_blocks() -> None:
    """A million deals: 10,000 draws of rare outcomes, and 400 draws of mid-range ones (a
    matrix of uniform numbers would take 1.6 GB), each peak well under 200 MB."""
    rng = np.random.default_rng(6)
    n = 1_000_000
    amounts = rng.integers(1_000, 10_000_000, n)

    rare = _peak_bytes(amounts, rng.random(n) * 0.0002, groups=40, draws=10_000)
    mixed = _peak_bytes(amounts, rng.random(n), groups=40, draws=400)

    assert rare < 200e6, rare
    assert mixed < 200e6, mixed


@pytest.mark.parametrize(
    ("amounts", "probability", "group", "message"),
    [
        (np.array([1, 2]), np.array([0.5, 1.5]), np.array([0, 0]), "between 0 and 1"),
        (np.array([1.5, 2.0]), np.array([0.5, 0.5]), np.array([0, 0]), "whole cents"),
        (np.array([1, 2]), np.array([0.5, 0.5]), np.array([0, 2]), "from 0 to 1"),
        (np.array([1, 2]), np.array([0.5]), np.array([0, 0]), "one length"),
    ],
)
def test_bad_inputs_are_refused(amounts, probability, group, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        monte_carlo_totals(amounts, probability, group, 2, 10, seed=1)


def test_in_quarter_probability_follows_the_timing_rules() -> None:
    """Inside: win × (1 − slip); past-dated counts as inside; after: win × PULL_IN; due in the
    quarter before a future quarter: win × slip; an ended quarter: nothing."""
    win = np.array([0.5, 0.5, 0.5, 0.5])
    slip = np.array([0.2, 0.2, 0.2, np.nan])
    close = np.array(["2026-12-01", "2026-09-01", "2027-02-01", "2026-11-20"],
                     dtype="datetime64[D]")
    today = dt.date(2026, 11, 16)

    current = in_quarter_probability(win, slip, close, QUARTER, today)
    following = in_quarter_probability(win, slip, close, QUARTER.next(), today)
    ended = in_quarter_probability(win, slip, close, QUARTER.previous(), today)

    np.testing.assert_allclose(current, [0.4, 0.4, 0.5 * PULL_IN, 0.5])
    np.testing.assert_allclose(following, [0.1, 0.1, 0.4, 0.0])
    np.testing.assert_allclose(ended, [0.0, 0.0, 0.0, 0.0])


# --- quarter_forecast -------------------------------------------------------------------------


def _sql_won(workspace: Workspace, owners: list[str] | None = None) -> int:
    scope = "" if owners is None else "AND owner_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params = [QUARTER.start, DEMO_AS_OF] + ([owners] if owners is not None else [])
    return workspace.read(lambda cur: cur.execute(
        f"SELECT COALESCE(SUM(amount_cents), 0) FROM opportunities WHERE status = 'won' "
        f"AND close_date >= ? AND close_date <= ? {scope}", params).fetchone()[0])


def test_company_forecast_is_ordered_and_counts_closed_won(scored_demo_copy: Workspace) -> None:
    """P10 ≤ P50 ≤ P90, closed won equals an independent SQL sum, the mean sits near
    closed won plus Σ amount × probability."""
    forecast = fc.quarter_forecast(scored_demo_copy, None, QUARTER, "company", today=DEMO_AS_OF)

    (company,) = forecast.subjects
    assert company.subject_id == COMPANY
    assert company.closed_won_cents == _sql_won(scored_demo_copy) > 0
    assert company.closed_won_cents <= company.p10_cents <= company.p50_cents
    assert company.p50_cents <= company.p90_cents
    expected = company.closed_won_cents + company.expected_open_cents
    assert company.mean_cents == pytest.approx(expected, rel=0.01)
    assert forecast.scored_deals > 0 and forecast.model_id is not None
    assert forecast.draws == fc.DEFAULT_DRAWS


def test_team_forecasts_add_up_to_the_company(scored_demo_copy: Workspace) -> None:
    """Teams' closed won, pipeline and expected amounts add up exactly to the company's; the
    means too (draw by draw the totals agree), up to rounding each mean to a cent."""
    company = fc.quarter_forecast(scored_demo_copy, None, QUARTER, "company",
                                  today=DEMO_AS_OF).subjects[0]
    teams = fc.quarter_forecast(scored_demo_copy, None, QUARTER, "team",
                                today=DEMO_AS_OF).subjects

    assert len(teams) >= 3
    assert sum(t.closed_won_cents for t in teams) == company.closed_won_cents
    assert sum(t.pipeline_cents for t in teams) == company.pipeline_cents
    assert abs(sum(t.expected_open_cents for t in teams) - company.expected_open_cents) <= 3
    assert abs(sum(t.mean_cents for t in teams) - company.mean_cents) <= len(teams)
    for team in teams:
        assert team.p10_cents <= team.p50_cents <= team.p90_cents


def test_a_rep_sees_only_their_own_book(scored_demo_copy: Workspace) -> None:
    """The rep's forecast has one subject, themselves, with their own closed won and
    pipeline (independent SQL); the company and team levels are refused."""
    rep = demo_user(scored_demo_copy, Role.REP)

    forecast = fc.quarter_forecast(scored_demo_copy, rep, QUARTER, "rep", today=DEMO_AS_OF)

    assert [s.subject_id for s in forecast.subjects] == [rep.rep_id]
    mine = forecast.subjects[0]
    assert mine.closed_won_cents == _sql_won(scored_demo_copy, [rep.rep_id])
    due = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) FROM opportunities WHERE status = 'open' "
        "AND owner_id = ? AND close_date <= ?", [rep.rep_id, QUARTER.end]).fetchone()[0])
    assert mine.pipeline_cents == due
    for level in ("company", "team"):
        with pytest.raises(AccessDeniedError):
            fc.quarter_forecast(scored_demo_copy, rep, QUARTER, level, today=DEMO_AS_OF)


def test_a_rep_unknown_to_the_crm_gets_an_empty_forecast(scored_demo_copy: Workspace) -> None:
    stranger = User(email="new.hire@example.com", name="New", workspace=scored_demo_copy.name,
                    roles=frozenset({Role.REP}), deal_owner_ids=frozenset())

    forecast = fc.quarter_forecast(scored_demo_copy, stranger, QUARTER, "rep", today=DEMO_AS_OF)

    assert forecast.subjects == ()
    assert call_targets(scored_demo_copy, stranger) == []


def test_a_manager_sees_their_team_and_its_reps(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)

    teams = fc.quarter_forecast(scored_demo_copy, manager, QUARTER, "team", today=DEMO_AS_OF)
    reps = fc.quarter_forecast(scored_demo_copy, manager, QUARTER, "rep", today=DEMO_AS_OF)

    assert len(teams.subjects) == 1
    assert {s.subject_id for s in reps.subjects} <= manager.deal_owner_ids
    assert teams.subjects[0].closed_won_cents == _sql_won(
        scored_demo_copy, sorted(manager.deal_owner_ids))
    assert sum(s.closed_won_cents for s in reps.subjects) == teams.subjects[0].closed_won_cents


def test_unscored_deals_use_their_stage_win_rate(demo_copy: Workspace) -> None:
    """Without a model, the expected amount equals Σ amount × stage rate × timing worked out
    with independent SQL over the stage history of deals closed in the last year."""
    forecast = fc.quarter_forecast(demo_copy, None, QUARTER, "company", today=DEMO_AS_OF)

    expected = demo_copy.read(lambda cur: cur.execute(
        """WITH closed AS (
               SELECT opportunity_id, status = 'won' AS won FROM opportunities
               WHERE status <> 'open' AND closed_at >= ?::TIMESTAMP - INTERVAL 365 DAY
                 AND closed_at < ?::TIMESTAMP),
           seen AS (
               SELECT DISTINCT h.opportunity_id, s.stage
               FROM opportunity_history h,
                    LATERAL (SELECT UNNEST([h.old_value, h.new_value]) AS stage) s
               WHERE h.field = 'stage' AND s.stage IS NOT NULL),
           rates AS (
               SELECT stage, AVG(won::DOUBLE) AS rate
               FROM seen JOIN closed USING (opportunity_id) GROUP BY stage)
           SELECT SUM(o.amount_cents * r.rate
                      * CASE WHEN o.close_date <= ? THEN 1 ELSE ? END)
           FROM opportunities o JOIN rates r USING (stage) WHERE o.status = 'open'""",
        [DEMO_AS_OF + dt.timedelta(days=1), DEMO_AS_OF + dt.timedelta(days=1), QUARTER.end,
         PULL_IN]).fetchone()[0])

    open_deals = demo_copy.read(lambda cur: cur.execute(
        "SELECT COUNT(*) FROM opportunities WHERE status = 'open'").fetchone()[0])
    assert forecast.model_id is None and forecast.scored_deals == 0
    assert forecast.fallback_deals == open_deals > 0
    assert forecast.subjects[0].expected_open_cents == pytest.approx(expected, abs=1)


# --- calls and overrides ----------------------------------------------------------------------


def _snapshot_rows(workspace: Workspace) -> list[tuple]:
    return workspace.read(lambda cur: cur.execute(
        "SELECT * FROM forecast_snapshots ORDER BY snapshot_id").fetchall())


def _audit(workspace: Workspace, action: str) -> list[tuple]:
    return workspace.read(lambda cur: cur.execute(
        "SELECT entity, entity_id, actor, reason, after_json FROM audit_events "
        "WHERE action = ? ORDER BY seq", [action]).fetchall())


def _other_rep(workspace: Workspace, manager: User) -> User:
    """A rep outside the manager's team, signed in without the demo picker."""
    rep_id, email = workspace.read(lambda cur: cur.execute(
        "SELECT rep_id, email FROM reps WHERE role = 'rep' AND NOT list_contains(?, rep_id) "
        "ORDER BY rep_id LIMIT 1", [sorted(manager.deal_owner_ids)]).fetchone())
    return User(email=email, name="Other Rep", workspace=workspace.name,
                roles=frozenset({Role.REP}), rep_id=rep_id, deal_owner_ids=frozenset({rep_id}))


def test_a_rep_submits_their_call_with_the_model_view(scored_demo_copy: Workspace) -> None:
    rep = demo_user(scored_demo_copy, Role.REP)
    mine = fc.quarter_forecast(scored_demo_copy, rep, QUARTER, "rep",
                               today=DEMO_AS_OF).subjects[0]

    snapshot_id = submit_call(scored_demo_copy, rep, QUARTER, "rep", rep.rep_id,
                              12_000_000, 15_000_000, "  two big deals in legal  ",
                              today=DEMO_AS_OF)

    row = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT submitted_by, level, subject_id, quarter_label, commit_cents, best_case_cents, "
        "closed_won_cents, model_p10_cents, model_p50_cents, model_p90_cents, comment, "
        "overrides_snapshot_id FROM forecast_snapshots WHERE snapshot_id = ?",
        [snapshot_id]).fetchone())
    assert row == (rep.email, "rep", rep.rep_id, QUARTER.label, 12_000_000, 15_000_000,
                   mine.closed_won_cents, mine.p10_cents, mine.p50_cents, mine.p90_cents,
                   "two big deals in legal", None)
    [(entity, entity_id, actor, _, after)] = _audit(scored_demo_copy, "forecast.submit_call")
    assert (entity, entity_id, actor) == ("forecast_snapshot", str(snapshot_id), rep.email)
    assert '"commit_cents":12000000' in after
    again = fc.quarter_forecast(scored_demo_copy, rep, QUARTER, "rep", today=DEMO_AS_OF)
    assert again.subjects[0].rep_call.snapshot_id == snapshot_id


def test_who_may_call_for_whom(scored_demo_copy: Workspace) -> None:
    """A rep only for themselves, a manager for their team, a sales leader for the company;
    finance not at all. Refusals write nothing."""
    rep = demo_user(scored_demo_copy, Role.REP)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    leader = demo_user(scored_demo_copy, Role.SALES_LEADER)
    finance = demo_user(scored_demo_copy, Role.FINANCE)
    other = _other_rep(scored_demo_copy, manager)
    (team,) = [t.subject_id for t in call_targets(scored_demo_copy, manager, "team")]
    other_team = next(t for t in call_targets(scored_demo_copy, leader, "team")
                      if t.subject_id != team).subject_id

    def call(user: User, level: str, subject: str) -> int:
        return submit_call(scored_demo_copy, user, QUARTER, level, subject, 100, 200,
                           today=DEMO_AS_OF)

    for user, level, subject in ((rep, "rep", other.rep_id), (rep, "team", team),
                                 (rep, "company", COMPANY), (manager, "team", other_team),
                                 (manager, "rep", rep.rep_id), (manager, "company", COMPANY),
                                 (finance, "company", COMPANY)):
        with pytest.raises(AccessDeniedError):
            call(user, level, subject)
    assert _snapshot_rows(scored_demo_copy) == []

    assert call(manager, "team", team) > 0
    assert call(leader, "company", COMPANY) > 0
    assert call(leader, "team", other_team) > 0
    assert len(_snapshot_rows(scored_demo_copy)) == 3


def test_call_figures_are_checked(scored_demo_copy: Workspace) -> None:
    rep = demo_user(scored_demo_copy, Role.REP)
    for commit, best, message in ((300, 200, "at least the commit"), (-1, 5, "negative"),
                                  (1.5, 5, "whole number")):
        with pytest.raises(RevPlanError, match=message):
            submit_call(scored_demo_copy, rep, QUARTER, "rep", rep.rep_id, commit, best,
                        today=DEMO_AS_OF)
    with pytest.raises(RevPlanError, match="ended"):
        submit_call(scored_demo_copy, rep, QUARTER.previous(), "rep", rep.rep_id, 1, 2,
                    today=DEMO_AS_OF)
    assert _snapshot_rows(scored_demo_copy) == []


def test_a_manager_overrides_a_team_call_without_touching_it(
    scored_demo_copy: Workspace,
) -> None:
    """The override is a new row pointing at the call, with the reason, audited; the original
    row is exactly as it was; both show in the forecast and its history."""
    rep = demo_user(scored_demo_copy, Role.REP)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    original = submit_call(scored_demo_copy, rep, QUARTER, "rep", rep.rep_id, 5_000_000,
                           9_000_000, today=DEMO_AS_OF)
    before = _snapshot_rows(scored_demo_copy)

    assert [c.call.snapshot_id for c in overridable_calls(scored_demo_copy, manager,
                                                          QUARTER)] == [original]
    override = override_call(scored_demo_copy, manager, original, 3_000_000, 6_000_000,
                             "Two deals have no signer yet", today=DEMO_AS_OF)

    rows = _snapshot_rows(scored_demo_copy)
    assert rows[0] == before[0]
    assert len(rows) == 2
    new = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT submitted_by, level, subject_id, commit_cents, best_case_cents, "
        "overrides_snapshot_id, override_reason FROM forecast_snapshots WHERE snapshot_id = ?",
        [override]).fetchone())
    assert new == (manager.email, "rep", rep.rep_id, 3_000_000, 6_000_000, original,
                   "Two deals have no signer yet")
    [(_, entity_id, actor, reason, _)] = _audit(scored_demo_copy, "forecast.override_call")
    assert (entity_id, actor, reason) == (str(override), manager.email,
                                          "Two deals have no signer yet")

    by_rep = fc.quarter_forecast(scored_demo_copy, manager, QUARTER, "rep", today=DEMO_AS_OF)
    mine = by_rep.subject(rep.rep_id)
    assert mine.rep_call.snapshot_id == original
    assert mine.manager_call.snapshot_id == override and mine.manager_call.is_override
    team = fc.quarter_forecast(scored_demo_copy, manager, QUARTER, "team",
                               today=DEMO_AS_OF).subjects[0]
    assert team.rep_call.commit_cents == 5_000_000 and team.rep_call.calls == 1
    history = forecast_history(scored_demo_copy, rep, QUARTER)
    assert history["snapshot_id"].tolist() == [original, override]
    assert history["is_override"].tolist() == [False, True]


def test_overrides_need_a_reason_and_a_call_in_scope(scored_demo_copy: Workspace) -> None:
    rep = demo_user(scored_demo_copy, Role.REP)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    leader = demo_user(scored_demo_copy, Role.SALES_LEADER)
    other = _other_rep(scored_demo_copy, manager)
    mine = submit_call(scored_demo_copy, rep, QUARTER, "rep", rep.rep_id, 100, 200,
                       today=DEMO_AS_OF)
    theirs = submit_call(scored_demo_copy, other, QUARTER, "rep", other.rep_id, 100, 200,
                         today=DEMO_AS_OF)
    (team,) = call_targets(scored_demo_copy, manager, "team")
    own = submit_call(scored_demo_copy, manager, QUARTER, "team", team.subject_id, 1, 2,
                      today=DEMO_AS_OF)
    count = len(_snapshot_rows(scored_demo_copy))

    with pytest.raises(RevPlanError, match="reason"):
        override_call(scored_demo_copy, manager, mine, 50, 60, "   ", today=DEMO_AS_OF)
    with pytest.raises(AccessDeniedError):
        override_call(scored_demo_copy, manager, theirs, 50, 60, "no", today=DEMO_AS_OF)
    with pytest.raises(AccessDeniedError):
        override_call(scored_demo_copy, manager, own, 50, 60, "mine", today=DEMO_AS_OF)
    with pytest.raises(AccessDeniedError):
        override_call(scored_demo_copy, rep, mine, 50, 60, "rep", today=DEMO_AS_OF)
    with pytest.raises(RevPlanError, match="no forecast call"):
        override_call(scored_demo_copy, manager, 999, 50, 60, "gone", today=DEMO_AS_OF)
    assert len(_snapshot_rows(scored_demo_copy)) == count

    assert override_call(scored_demo_copy, leader, own, 3, 4, "Region is light",
                         today=DEMO_AS_OF) > 0
    team_view = fc.quarter_forecast(scored_demo_copy, manager, QUARTER, "team",
                                    today=DEMO_AS_OF).subjects[0]
    assert team_view.manager_call.is_override and team_view.manager_call.commit_cents == 3


# --- changes_since ----------------------------------------------------------------------------

SINCE = dt.datetime(2026, 11, 9)
UNTIL = dt.datetime(2026, 11, 16)
LOADED = dt.datetime(2026, 11, 16, 12)
OPEN = dt.datetime(2026, 10, 1, 9)


def _seed_changes(workspace: Workspace) -> None:
    """A manager m1 with rep r1 (team A) and a rep r2 of team B, deals that change in and
    around the week of 9–16 Nov 2026 in every way the summary counts."""
    reps = [("m1", "Mia Manager", "manager", None, "A"), ("r1", "Ray Rep", "rep", "m1", "A"),
            ("r2", "Rob Other", "rep", None, "B")]
    # id, owner, stage, status, amount, close date, created, closed
    deals = [
        ("o1", "r1", "Prospecting", "open", 100_000, "2026-12-10", "2026-11-10 10:00", None),
        ("o2", "r1", "Closed Won", "won", 200_000, "2026-11-12", OPEN, "2026-11-12 15:00"),
        ("o3", "r1", "Closed Lost", "lost", 50_000, "2026-11-13", OPEN, "2026-11-13 15:00"),
        ("o4", "r1", "Proposal", "open", 300_000, "2027-01-15", OPEN, None),
        ("o5", "r1", "Proposal", "open", 70_000, "2026-12-01", OPEN, None),
        ("o6", "r1", "Discovery", "open", 150_000, "2026-12-20", OPEN, None),
        ("o7", "r1", "Discovery", "open", 60_000, "2026-12-20", OPEN, None),
        ("o8", "r1", "Proposal", "open", 10_000, "2026-12-20", OPEN, None),
        ("o9", "r1", "Discovery", "open", 20_000, "2026-12-20", OPEN, None),
        ("o10", "r2", "Closed Won", "won", 400_000, "2026-11-14", OPEN, "2026-11-14 10:00"),
        ("o11", "r1", "Closed Won", "won", 900_000, "2026-11-02", OPEN, "2026-11-02 10:00"),
        ("o12", "r2", "Proposal", "open", 500_000, "2027-02-01", OPEN, None),
    ]
    history = [
        ("o1", "2026-11-10 10:00", "created", None, None),
        ("o2", "2026-11-11 09:00", "close_date", "2027-01-10", "2026-11-12"),
        ("o4", "2026-11-10 09:00", "close_date", "2026-11-30", "2026-12-20"),
        ("o4", "2026-11-12 09:00", "close_date", "2026-12-20", "2027-01-15"),
        ("o5", "2026-11-13 09:00", "close_date", "2027-02-01", "2026-12-01"),
        ("o6", "2026-10-20 09:00", "amount", "90000", "100000"),
        ("o6", "2026-11-10 09:00", "amount", "100000", "120000"),
        ("o6", "2026-11-14 09:00", "amount", "120000", "150000"),
        ("o7", "2026-11-11 09:00", "amount", "80000", "60000"),
        ("o8", "2026-10-05 09:00", "stage", "Prospecting", "Discovery"),
        ("o8", "2026-11-12 09:00", "stage", "Discovery", "Proposal"),
        ("o9", "2026-10-03 09:00", "stage", "Prospecting", "Discovery"),
        ("o9", "2026-10-20 09:00", "stage", "Discovery", "Proposal"),
        ("o9", "2026-11-12 09:00", "stage", "Proposal", "Discovery"),
        ("o12", "2026-11-12 09:00", "close_date", "2026-12-01", "2027-02-01"),
        ("o4", "2026-11-16 09:00", "close_date", "2027-01-15", "2026-12-01"),
    ]

    def work(cur) -> None:
        cur.executemany(
            "INSERT INTO reps (rep_id, name, role, manager_id, team, source, loaded_at) "
            "VALUES (?, ?, ?, ?, ?, 't', ?)", [[*r, LOADED] for r in reps])
        cur.executemany(
            "INSERT INTO opportunities (opportunity_id, account_id, owner_id, stage, status, "
            "amount_cents, close_date, created_at, closed_at, source, loaded_at) "
            "VALUES (?, 'a1', ?, ?, ?, ?, ?, ?, ?, 't', ?)", [[*d, LOADED] for d in deals])
        cur.executemany(
            "INSERT INTO opportunity_history (history_id, opportunity_id, changed_at, field, "
            "old_value, new_value, source, loaded_at) VALUES (?, ?, ?, ?, ?, ?, 't', ?)",
            [[f"h{i:03d}", *h, LOADED] for i, h in enumerate(history)])

    workspace.write(work)


MANAGER = User(email="mia@example.com", name="Mia", workspace="test",
               roles=frozenset({Role.MANAGER}), rep_id="m1",
               deal_owner_ids=frozenset({"m1", "r1"}))


def _sql_tally(workspace: Workspace, where: str, owners: list[str]) -> Tally:
    deals, cents = workspace.read(lambda cur: cur.execute(
        f"SELECT COUNT(*), COALESCE(SUM(amount_cents), 0) FROM opportunities "
        f"WHERE {where} AND owner_id IN (SELECT UNNEST(?::VARCHAR[]))",
        [SINCE, UNTIL, owners]).fetchone())
    return Tally(int(deals), int(cents))


def test_changes_count_what_independent_sql_counts(workspace: Workspace) -> None:
    _seed_changes(workspace)
    owners = sorted(MANAGER.deal_owner_ids)

    changes = deal_changes(workspace, MANAGER, SINCE, UNTIL)

    assert changes.quarter == QUARTER
    assert changes.created == _sql_tally(
        workspace, "created_at >= ? AND created_at < ?", owners) == (1, 100_000)
    assert changes.won == _sql_tally(
        workspace, "status = 'won' AND closed_at >= ? AND closed_at < ?", owners) == (1, 200_000)
    assert changes.lost == _sql_tally(
        workspace, "status = 'lost' AND closed_at >= ? AND closed_at < ?", owners) == (1, 50_000)
    moves = workspace.read(lambda cur: cur.execute(
        """SELECT h.opportunity_id, o.amount_cents,
                  (SELECT old_value FROM opportunity_history f WHERE f.opportunity_id =
                       h.opportunity_id AND f.field = 'close_date' AND f.changed_at >= ?
                   ORDER BY f.changed_at LIMIT 1)::DATE AS first_old,
                  h.new_value::DATE AS last_new
           FROM opportunity_history h JOIN opportunities o USING (opportunity_id)
           WHERE h.field = 'close_date' AND o.status = 'open' AND o.owner_id IN ('m1', 'r1')
             AND h.changed_at >= ?
             AND h.changed_at = (SELECT max(changed_at) FROM opportunity_history g
                                 WHERE g.opportunity_id = h.opportunity_id
                                   AND g.field = 'close_date' AND g.changed_at < ?)""",
        [SINCE, SINCE, UNTIL]).fetchall())
    pushed = [(o, a) for o, a, old, new in moves if old <= QUARTER.end < new]
    pulled = [(o, a) for o, a, old, new in moves if new <= QUARTER.end < old]
    assert changes.pushed_out == (len(pushed), sum(a for _, a in pushed)) == (1, 300_000)
    assert changes.pulled_in == (len(pulled), sum(a for _, a in pulled)) == (1, 70_000)
    assert changes.increased == (1, 50_000)
    assert changes.cut == (1, 20_000)
    assert (changes.advanced, changes.moved_back) == (1, 1)


def test_changes_in_words_and_for_everyone(workspace: Workspace) -> None:
    _seed_changes(workspace)

    words = changes_since(workspace, MANAGER, SINCE, UNTIL)
    everyone = deal_changes(workspace, None, SINCE, UNTIL)

    assert words == [
        "1 new deal worth $1K was created",
        "1 deal worth $2K was won",
        "1 deal ($500) was lost",
        f"1 deal ($3K) pushed out of {QUARTER.label}",
        f"1 deal ($700) pulled into {QUARTER.label}",
        "1 deal grew by $500 in total",
        "1 deal was cut by $200 in total",
        "1 deal advanced to a later stage",
        "1 deal moved back to an earlier stage",
    ]
    assert everyone.won == (2, 600_000)
    assert everyone.pushed_out == (2, 800_000)
    assert changes_since(workspace, MANAGER, dt.datetime(2026, 1, 1),
                         dt.datetime(2026, 1, 8)) == []
    with pytest.raises(RevPlanError):
        deal_changes(workspace, MANAGER, UNTIL, SINCE)


def test_forecast_quarters_follow_the_fiscal_calendar(workspace: Workspace) -> None:
    workspace.write(lambda cur: cur.execute(
        "UPDATE workspace_settings SET value = '2' WHERE key = 'fiscal_year_start_month'"))

    current, following = fc.forecast_quarters(workspace, dt.date(2026, 11, 16))

    assert current == FiscalQuarter(2027, 4, dt.date(2026, 11, 1), dt.date(2027, 1, 31))
    assert following == current.next()


def test_ranges_widen_by_the_latest_backtest_margin(scored_demo_copy: Workspace) -> None:
    import pandas as pd

    from planning.store import forecast_accuracy

    raw = fc.quarter_forecast(scored_demo_copy, None, QUARTER, "team", today=DEMO_AS_OF)
    assert raw.calibration.forecasts == 0
    # A stored backtest whose four forecasts missed their 100-wide ranges by 0.5, 0.5, 1.0
    # and 2.0 widths: for 80% coverage the margin is the ceil(5 * 0.8) = 4th score, 2.0.
    stored = pd.DataFrame({
        "run_id": "backtest-test", "computed_at": dt.datetime(2026, 11, 1), "computed_by": "t",
        "quarter_label": "FY2026 Q3", "quarter_start": dt.date(2026, 7, 1),
        "quarter_end": dt.date(2026, 9, 30),
        "week_of": [dt.date(2026, 7, 1) + dt.timedelta(days=7 * i) for i in range(4)],
        "open_deals": 10, "closed_won_cents": 0, "p10_cents": 0, "p50_cents": 150,
        "p90_cents": 0, "rep_call_cents": 0, "actual_cents": [250, 250, 300, 400],
        "raw_p10_cents": 100, "raw_p90_cents": 200, "interval_margin": 0.0,
        "calibration_forecasts": 0,
    })
    scored_demo_copy.write(lambda cur: forecast_accuracy.insert_backtest(cur, stored))
    widened = fc.quarter_forecast(scored_demo_copy, None, QUARTER, "team", today=DEMO_AS_OF)
    assert widened.calibration.margin == pytest.approx(2.0)
    assert widened.calibration.forecasts == 4 and widened.calibration.run_id == "backtest-test"
    for before, after in zip(raw.subjects, widened.subjects, strict=True):
        width = before.p90_cents - before.p10_cents
        assert after.p50_cents == before.p50_cents
        assert after.p90_cents == before.p90_cents + 2 * width
        assert after.p10_cents == max(before.p10_cents - 2 * width, before.closed_won_cents)


def test_a_shared_shock_widens_the_spread_and_keeps_groups_consistent() -> None:
    rng = np.random.default_rng(3)
    amounts = rng.integers(1_000_00, 50_000_00, 400)
    probability = rng.uniform(0.1, 0.9, 400)
    group = rng.integers(0, 4, 400)
    calm = shocked_totals(amounts, probability, group, 4, 0.0, 4_000, 11).sum(axis=0)
    shocked = shocked_totals(amounts, probability, group, 4, 0.6, 4_000, 11)
    company = shocked_totals(amounts, probability, np.zeros(400, np.int64), 1, 0.6,
                             4_000, 11)[0]
    assert (shocked.sum(axis=0) == company).all()
    assert company.std() > 1.5 * calm.std()
    assert abs(company.mean() - calm.mean()) < 0.05 * calm.mean()
