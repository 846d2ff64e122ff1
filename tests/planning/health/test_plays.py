"""Save plays on the small demo workspace: recommendations per reason, plays that start at once
or wait for approval by policy, tasks, outcome attribution, writeback, permissions, audit."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from planning import approvals
from planning.access.policy import AccessDeniedError, Action, can, system_principal
from planning.access.roles import Role
from planning.access.users import User
from planning.audit import audit_events, verify_chain
from planning.clock import now_utc, today_utc
from planning.errors import RevPlanError
from planning.health import plays
from planning.health.plays import (
    CATALOGUE,
    PlayError,
    account_recommendations,
    complete_task,
    play_adoption,
    queue_health_writeback,
    reassign_task,
    recommend_plays,
    record_outcome,
    saved_renewal_rate,
    start_play,
)
from planning.store import Workspace
from planning.writeback import outbox
from tests.views.test_pages import demo_user

MODEL_ID = "churn-test"


def accounts_with_renewals(workspace: Workspace, owner_id: str | None = None,
                           other_than: str | None = None) -> list[str]:
    """Accounts with an active subscription (of one owner, or of anyone but one owner)."""
    return workspace.read(lambda cur: [r[0] for r in cur.execute(
        """SELECT DISTINCT a.account_id FROM accounts a JOIN subscriptions s USING (account_id)
           WHERE s.status = 'active' AND a.owner_id IS NOT NULL
             AND (?::VARCHAR IS NULL OR a.owner_id = ?)
             AND (?::VARCHAR IS NULL OR a.owner_id <> ?)
           ORDER BY a.account_id""", [owner_id, owner_id, other_than, other_than]).fetchall()])


def set_renewal(workspace: Workspace, account_id: str, day: dt.date) -> None:
    """Every active subscription of the account renews on `day`."""
    workspace.write(lambda cur: cur.execute(
        "UPDATE subscriptions SET renewal_date = ? WHERE account_id = ? AND status = 'active'",
        [day, account_id]))


def seed_health(workspace: Workspace, probabilities: dict[str, float]) -> None:
    """An active churn model with one score per account (churn probability as given)."""

    def write(cur) -> None:
        cur.execute(
            """INSERT INTO churn_models (model_id, trained_at, as_of, horizon_days, rows_train,
                   rows_test, features, card_json, model_blob, is_active)
               SELECT ?, ?, ?, 60, 1, 1, ['usage_trend'], '{}', ''::BLOB, TRUE
               WHERE NOT EXISTS (SELECT 1 FROM churn_models WHERE model_id = ?)""",
            [MODEL_ID, now_utc(), now_utc(), MODEL_ID])
        for account_id, probability in probabilities.items():
            reasons = [{"code": "low_seat_utilisation", "text": "41% of seats active",
                        "effect": 0.2},
                       {"code": "usage_decline", "text": "active users down 38% in 60 days",
                        "effect": 0.1}]
            cur.execute(
                """INSERT INTO health_scores VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?, '{}', '{}',
                       ?, ?)""",
                [MODEL_ID, account_id, now_utc(), now_utc(), round(100 * (1 - probability)),
                 probability, json.dumps(reasons)])

    workspace.write(write)


def items_of(workspace: Workspace, record_id: str) -> pd.DataFrame:
    items = outbox(workspace)
    return items[items["record_id"] == record_id]


def actions_on(workspace: Workspace, entity_id: str) -> list[str]:
    events = audit_events(workspace, system_principal(workspace.name))
    return sorted(events.loc[events["entity_id"] == entity_id, "action"])


@pytest.fixture
def cs(demo_copy: Workspace) -> User:
    return demo_user(demo_copy, Role.CS)


@pytest.fixture
def account(demo_copy: Workspace) -> str:
    """An account of someone other than the demo rep, renewing in 20 days."""
    rep = demo_user(demo_copy, Role.REP)
    chosen = accounts_with_renewals(demo_copy, other_than=rep.rep_id)[0]
    set_renewal(demo_copy, chosen, today_utc() + dt.timedelta(days=20))
    return chosen


@pytest.mark.parametrize(("code", "expected"), [
    ("usage_decline", "training"),
    ("low_seat_utilisation", "training"),
    ("support_load", "success_plan"),
    ("severe_tickets", "executive_sponsor_call"),
    ("billing_delay", "contract_restructure"),
    ("low_engagement", "success_plan"),
    ("low_nps", "executive_sponsor_call"),
])
def test_each_reason_recommends_the_play_that_answers_it(code: str, expected: str) -> None:
    ranked = recommend_plays([code])
    assert ranked[0].play.key == expected
    assert ranked[0].answers == (code,)
    assert plays.REASON_WORDS[code] in ranked[0].why
    assert all(code in r.play.answers for r in ranked)
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_stronger_reasons_rank_first_and_the_why_quotes_them() -> None:
    first = recommend_plays([{"code": "severe_tickets", "text": "3 severity-1 tickets open"},
                             {"code": "low_seat_utilisation"}])
    assert first[0].play.key == "executive_sponsor_call"
    assert "3 severity-1 tickets open" in first[0].why
    second = recommend_plays(["low_seat_utilisation", "severe_tickets"])
    assert second[0].play.key == "training"
    restructure = next(r for r in second if r.play.key == "contract_restructure")
    assert "routed for approval" in restructure.why
    assert recommend_plays(["not_a_reason"]) == []


def test_account_recommendations_read_the_newest_health_reasons(demo_copy: Workspace, cs: User,
                                                                account: str) -> None:
    assert account_recommendations(demo_copy, cs, account) == []
    seed_health(demo_copy, {account: 0.6})
    ranked = account_recommendations(demo_copy, cs, account)
    assert ranked[0].play.key == "training"
    assert "41% of seats active" in ranked[0].why


def test_a_play_without_commercial_change_starts_at_once(demo_copy: Workspace, cs: User,
                                                          account: str) -> None:
    seed_health(demo_copy, {account: 0.55})
    run = start_play(demo_copy, cs, account, "success_plan", note="renewal in 20 days")

    assert run.status == "active" and run.request_id is None
    assert run.renewal_date == today_utc() + dt.timedelta(days=20)
    owner_email = demo_copy.read(lambda cur: cur.execute(
        "SELECT lower(r.email) FROM accounts a JOIN reps r ON r.rep_id = a.owner_id "
        "WHERE a.account_id = ?", [account]).fetchone()[0])
    assert [(t.status, t.owner_email, t.due_date) for t in run.tasks] == [
        ("open", cs.email, today_utc() + dt.timedelta(days=5)),
        ("open", owner_email, today_utc() + dt.timedelta(days=10)),
        ("open", cs.email, today_utc() + dt.timedelta(days=30))]
    status = items_of(demo_copy, run.play_run_id)
    assert dict(zip(status["field"], status["new_value"], strict=True))["Status__c"] == "active"
    assert len(items_of(demo_copy, run.tasks[0].task_id)) == len(plays.TASK_FIELDS)
    health = items_of(demo_copy, account)
    assert dict(zip(health["field"], health["new_value"], strict=True)) == {
        "Health_Score__c": "45", "Churn_Probability__c": "0.55",
        "Health_Reasons__c": "low_seat_utilisation;usage_decline"}
    assert actions_on(demo_copy, run.play_run_id) == ["save_play.start"]
    with pytest.raises(PlayError, match="already running"):
        start_play(demo_copy, cs, account, "success_plan")


def test_a_concession_above_threshold_waits_for_finance_and_deal_desk(
        demo_copy: Workspace, cs: User, account: str) -> None:
    run = start_play(demo_copy, cs, account, "concession", concession_pct=15)

    assert run.status == "awaiting_approval" and run.activated_at is None
    assert {t.status for t in run.tasks} == {"waiting"}
    steps = approvals.waits_for(demo_copy, run.request_id)
    assert len(steps) == 2
    waiting = plays.plays_waiting_for(demo_copy, demo_user(demo_copy, Role.FINANCE))
    assert waiting["play_run_id"].tolist() == [run.play_run_id]
    with pytest.raises(PlayError, match="awaits approval"):
        complete_task(demo_copy, cs, run.tasks[0].task_id)
    assert items_of(demo_copy, run.tasks[0].task_id).empty
    status = items_of(demo_copy, run.play_run_id)
    assert "awaiting approval" in status["new_value"].tolist()

    deal_desk = demo_user(demo_copy, Role.DEAL_DESK)
    finance = demo_user(demo_copy, Role.FINANCE)
    roles = {role: number for number, role in demo_copy.read(lambda cur: cur.execute(
        "SELECT step_no, role FROM approval_steps WHERE request_id = ?",
        [run.request_id]).fetchall())}
    assert set(roles) == {"deal_desk", "finance"}
    assert approvals.decide(demo_copy, run.request_id, roles["deal_desk"], deal_desk,
                            "approved") == "pending"
    assert plays.read_play(demo_copy, cs, run.play_run_id).status == "awaiting_approval"
    assert approvals.decide(demo_copy, run.request_id, roles["finance"], finance,
                            "approved") == "approved"

    started = plays.read_play(demo_copy, cs, run.play_run_id)
    assert started.status == "active" and started.activated_at is not None
    assert {t.status for t in started.tasks} == {"open"}
    assert "active" in items_of(demo_copy, run.play_run_id)["new_value"].tolist()
    assert len(items_of(demo_copy, run.tasks[0].task_id)) == len(plays.TASK_FIELDS)
    assert actions_on(demo_copy, run.play_run_id) == ["save_play.active", "save_play.start"]
    assert actions_on(demo_copy, run.request_id) == ["approval.approved", "approval.approved",
                                                     "approval.submit"]


def test_small_concessions_need_deal_desk_and_large_amounts_finance(
        demo_copy: Workspace, cs: User, account: str) -> None:
    small = start_play(demo_copy, cs, account, "concession", concession_pct=5)
    assert set(approvals.waits_for(demo_copy, small.request_id)) == {1}
    assert demo_copy.read(lambda cur: cur.execute(
        "SELECT list(role) FROM approval_steps WHERE request_id = ?",
        [small.request_id]).fetchone()[0]) == ["deal_desk"]
    facts = plays.concession_facts(10_000_000, 5, 3_000_000, True)
    rules = approvals.DEFAULT_RULES
    assert [s.role for s in approvals.route(rules, plays.PLAY_KIND, facts)] == [
        "deal_desk", "finance"]
    exactly = plays.concession_facts(10_000_000, 10, None, True)
    assert [s.role for s in approvals.route(rules, plays.PLAY_KIND, exactly)] == ["deal_desk"]
    with pytest.raises(PlayError, match="needs the concession"):
        start_play(demo_copy, cs, account, "concession")
    with pytest.raises(PlayError, match="percentage"):
        start_play(demo_copy, cs, account, "concession", concession_pct=140)


def test_thresholds_are_rows_of_the_approval_policy(demo_copy: Workspace, cs: User,
                                                   account: str) -> None:
    rules = {**approvals.DEFAULT_RULES, plays.PLAY_KIND: [
        {"role": "deal_desk", "when": "commercial_change", "why": "every commercial change"},
        {"role": "finance", "when": "concession_share_over", "threshold": 0.05,
         "why": "a concession above 5%"}]}
    approvals.publish_policy(demo_copy, rules, user=system_principal(demo_copy.name))
    run = start_play(demo_copy, cs, account, "concession", concession_pct=7)
    reasons = demo_copy.read(lambda cur: cur.execute(
        "SELECT role, reason FROM approval_steps WHERE request_id = ? ORDER BY step_no",
        [run.request_id]).fetchall())
    assert reasons == [("deal_desk", "every commercial change"),
                       ("finance", "a concession above 5%")]
    with pytest.raises(RevPlanError, match="unknown condition"):
        approvals.check_rules({plays.PLAY_KIND: [{"role": "finance", "when": "sometimes"}]})


def test_a_rejected_concession_never_starts(demo_copy: Workspace, cs: User,
                                            account: str) -> None:
    run = start_play(demo_copy, cs, account, "concession", concession_cents=3_000_000)
    finance_step = demo_copy.read(lambda cur: cur.execute(
        "SELECT step_no FROM approval_steps WHERE request_id = ? AND role = 'finance'",
        [run.request_id]).fetchone()[0])
    approvals.decide(demo_copy, run.request_id, finance_step,
                     demo_user(demo_copy, Role.FINANCE), "rejected", "too generous")
    closed = plays.read_play(demo_copy, cs, run.play_run_id)
    assert closed.status == "rejected"
    assert {t.status for t in closed.tasks} == {"cancelled"}
    outcome = record_outcome(demo_copy, cs, account, "churned", 0)
    assert outcome.credited_plays == () and outcome.uncredited_plays == (run.play_run_id,)


def test_tasks_complete_and_reassign(demo_copy: Workspace, cs: User, account: str) -> None:
    run = start_play(demo_copy, cs, account, "training")
    deal_desk = demo_user(demo_copy, Role.DEAL_DESK)
    with pytest.raises(PlayError, match="not a member"):
        reassign_task(demo_copy, cs, run.tasks[0].task_id, "nobody@example.com")
    moved = reassign_task(demo_copy, cs, run.tasks[0].task_id, deal_desk.email.upper())
    assert moved.tasks[0].owner_email == deal_desk.email
    owner = items_of(demo_copy, run.tasks[0].task_id)
    owner = owner[owner["field"] == "Owner_Email__c"]
    assert owner[["old_value", "new_value"]].values.tolist()[-1] == [cs.email, deal_desk.email]
    for task in run.tasks:
        after = complete_task(demo_copy, cs, task.task_id)
    assert after.status == "completed"
    assert {t.status for t in after.tasks} == {"done"}
    with pytest.raises(PlayError, match="already done"):
        complete_task(demo_copy, cs, run.tasks[0].task_id)
    assert actions_on(demo_copy, run.tasks[0].task_id) == ["save_play.task_done",
                                                           "save_play.task_reassign"]
    done = items_of(demo_copy, run.tasks[2].task_id)
    assert done.loc[done["field"] == "Status", "new_value"].tolist() == ["Not Started",
                                                                        "Completed"]


def test_an_outcome_credits_the_plays_run_in_the_renewal_window(
        demo_copy: Workspace, cs: User, account: str) -> None:
    seed_health(demo_copy, {account: 0.5})
    run = start_play(demo_copy, cs, account, "training")
    pending = start_play(demo_copy, cs, account, "concession", concession_pct=20)

    outcome = record_outcome(demo_copy, cs, account, "renewed", 9_000_000)

    assert outcome.credited_plays == (run.play_run_id,)
    assert outcome.uncredited_plays == (pending.play_run_id,)
    assert outcome.at_risk and outcome.renewal_date == today_utc() + dt.timedelta(days=20)
    credit = items_of(demo_copy, run.play_run_id)
    assert credit.loc[credit["field"] == "Outcome__c", "new_value"].tolist() == ["renewed"]
    assert actions_on(demo_copy, outcome.outcome_id) == ["save_play.outcome"]
    with pytest.raises(PlayError, match="no renewal"):
        record_outcome(demo_copy, cs, account, "renewed", 9_000_000)


def test_plays_started_after_the_renewal_date_or_too_early_get_no_credit(
        demo_copy: Workspace, cs: User) -> None:
    rep = demo_user(demo_copy, Role.REP)
    late, early = accounts_with_renewals(demo_copy, other_than=rep.rep_id)[1:3]
    set_renewal(demo_copy, late, today_utc() - dt.timedelta(days=3))
    set_renewal(demo_copy, early, today_utc() + dt.timedelta(days=200))
    late_run = start_play(demo_copy, cs, late, "training")
    early_run = start_play(demo_copy, cs, early, "training")

    assert record_outcome(demo_copy, cs, late, "churned", 0).credited_plays == ()
    early_outcome = record_outcome(demo_copy, cs, early, "renewed", 1)
    assert early_outcome.credited_plays == ()
    assert early_outcome.uncredited_plays == (early_run.play_run_id,)
    assert late_run.renewal_date < late_run.started_at.date()


def test_a_play_started_after_the_outcome_gets_no_credit() -> None:
    renewal = dt.date(2027, 3, 1)
    outcome_at = dt.datetime(2027, 2, 10, 12)
    frame = pd.DataFrame({
        "play_run_id": ["before", "after", "never_active", "too_early", "credited"],
        "started_at": [dt.datetime(2027, 2, 1), dt.datetime(2027, 2, 11),
                       dt.datetime(2027, 2, 1), dt.datetime(2026, 8, 1),
                       dt.datetime(2027, 2, 2)],
        "activated_at": [dt.datetime(2027, 2, 1), dt.datetime(2027, 2, 11), None,
                         dt.datetime(2026, 8, 1), dt.datetime(2027, 2, 2)]})
    assert plays.credited(frame, renewal, outcome_at, 180, {"credited"}) == ["before"]


def test_outcomes_are_checked(demo_copy: Workspace, cs: User, account: str) -> None:
    with pytest.raises(PlayError, match="arr_cents_after=0"):
        record_outcome(demo_copy, cs, account, "churned", 100)
    with pytest.raises(PlayError, match="downgrade"):
        record_outcome(demo_copy, cs, account, "downgraded", 10**12)
    with pytest.raises(PlayError, match="outcomes are"):
        record_outcome(demo_copy, cs, account, "lost", 0)


def test_adoption_and_saved_renewal_rate(demo_copy: Workspace, cs: User) -> None:
    rep = demo_user(demo_copy, Role.REP)
    saved, lost, calm = accounts_with_renewals(demo_copy, other_than=rep.rep_id)[3:6]
    for chosen in (saved, lost, calm):
        set_renewal(demo_copy, chosen, today_utc() + dt.timedelta(days=30))
    seed_health(demo_copy, {saved: 0.7, lost: 0.6, calm: 0.05})
    run = start_play(demo_copy, cs, saved, "executive_sponsor_call")

    adoption = play_adoption(demo_copy, cs)
    assert adoption.per_play.set_index("play").loc["executive_sponsor_call", "started"] == 1
    assert adoption.per_play["started"].sum() == 1
    assert adoption.per_week["plays"].tolist() == [1]
    assert adoption.at_risk_renewals >= 2 and adoption.at_risk_with_play == 1

    record_outcome(demo_copy, cs, saved, "renewed", 5_000_000)
    record_outcome(demo_copy, cs, lost, "churned", 0)
    record_outcome(demo_copy, cs, calm, "churned", 0)
    rate = saved_renewal_rate(demo_copy, cs)
    assert (rate.with_play.renewals, rate.with_play.win_rate) == (1, 1.0)
    assert (rate.without_play.renewals, rate.without_play.win_rate) == (1, 0.0)
    assert rate.lift == 1.0
    adoption = play_adoption(demo_copy, cs)
    assert adoption.per_play.set_index("play").loc["executive_sponsor_call", "credited"] == 1
    assert run.play_run_id in plays.plays_in_scope(demo_copy, cs)["play_run_id"].tolist()


def test_a_rep_runs_plays_on_their_own_accounts_only(demo_copy: Workspace, cs: User,
                                                      account: str) -> None:
    rep = demo_user(demo_copy, Role.REP)
    with pytest.raises(AccessDeniedError, match="outside your team"):
        start_play(demo_copy, rep, account, "training")
    with pytest.raises(AccessDeniedError, match="outside your team"):
        record_outcome(demo_copy, rep, account, "churned", 0)
    others = start_play(demo_copy, cs, account, "training")
    with pytest.raises(AccessDeniedError, match="outside your team"):
        complete_task(demo_copy, rep, others.tasks[0].task_id)
    own = accounts_with_renewals(demo_copy, owner_id=rep.rep_id)[0]
    mine = start_play(demo_copy, rep, own, "training")
    assert mine.status == "active"
    assert plays.plays_in_scope(demo_copy, rep)["play_run_id"].tolist() == [mine.play_run_id]
    for role in (Role.VIEWER, Role.FINANCE, Role.COMP):
        with pytest.raises(AccessDeniedError):
            start_play(demo_copy, demo_user(demo_copy, role), own, "training")


def test_health_writeback_is_queued_once_per_value(demo_copy: Workspace, cs: User,
                                                   account: str) -> None:
    seed_health(demo_copy, {account: 0.4})
    assert queue_health_writeback(demo_copy, cs, [account]) == 3
    assert queue_health_writeback(demo_copy, cs, [account]) == 0
    with pytest.raises(AccessDeniedError):
        queue_health_writeback(demo_copy, demo_user(demo_copy, Role.REP), [account])


def test_every_play_change_is_in_a_verifying_audit_trail(demo_copy: Workspace, cs: User,
                                                         account: str) -> None:
    run = start_play(demo_copy, cs, account, "contract_restructure")
    approvals.decide(demo_copy, run.request_id, 1, demo_user(demo_copy, Role.DEAL_DESK),
                     "approved")
    complete_task(demo_copy, cs, run.tasks[0].task_id)
    record_outcome(demo_copy, cs, account, "downgraded", 1)
    actions = set(audit_events(demo_copy, system_principal(demo_copy.name))["action"])
    assert {"save_play.start", "approval.submit", "approval.approved", "save_play.active",
            "save_play.task_done", "save_play.outcome", "writeback.queue"} <= actions
    assert verify_chain(demo_copy).ok


def test_the_catalogue_names_every_reason() -> None:
    answered = {code for play in CATALOGUE.values() for code in play.answers}
    assert answered == set(plays.REASON_WORDS)
    assert {p.key for p in CATALOGUE.values() if p.commercial} == {"concession",
                                                                   "contract_restructure"}


@pytest.mark.parametrize("field", plays.WRITEBACK_FIELDS)
def test_every_play_field_is_a_row_of_the_field_permissions(demo_copy: Workspace,
                                                            field: str) -> None:
    assert can(demo_user(demo_copy, Role.CS), Action.WRITE_FIELD, field)
    assert can(demo_user(demo_copy, Role.REP), Action.WRITE_FIELD, field)
    assert not can(demo_user(demo_copy, Role.VIEWER), Action.WRITE_FIELD, field)
    approver_writes = field.startswith(("Save_Play__c.", "Task."))
    assert can(demo_user(demo_copy, Role.FINANCE), Action.WRITE_FIELD, field) is approver_writes


def test_adoption_without_plays_or_scores_is_empty(demo_copy: Workspace, cs: User) -> None:
    adoption = play_adoption(demo_copy, cs)
    assert adoption.per_week.empty
    assert adoption.per_play["started"].sum() == 0
    assert len(adoption.per_play) == len(CATALOGUE)
    assert (adoption.at_risk_renewals, adoption.share_with_play) == (0, None)
    assert "0 play(s) started" in adoption.to_text()
    rate = saved_renewal_rate(demo_copy, cs)
    assert rate.with_play.renewals == 0 and rate.lift is None
