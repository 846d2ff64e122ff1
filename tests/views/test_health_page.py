"""The Customer health page per role on the small demo with a trained churn model: renewals in
the window with their ARR at risk, filters, the account drill-down with its timelines, save
plays started from the page (at once, or awaiting approval), outcomes, the model card and the
play figures; roles outside the policy are refused."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planning.access.policy import PAGE_ROLES
from planning.access.roles import Role
from planning.health.accounts import renewals_at_risk
from planning.health.jobs import health_training_progress
from planning.health.plays import account_plays, saved_renewal_rate, start_play
from planning.health.training import churn_model_cards, train_health_model
from planning.jobs import wait_for_job, workspace_queue
from planning.overview import format_money, format_percent
from planning.store import Workspace, close_all_workspaces, open_workspace
from tests.conftest import DEMO_AS_OF, copy_workspace_file
from tests.views.test_pages import (
    chart_specs,
    demo_user,
    element_types,
    metric_values,
    page_app,
    run_page,
)
from views.registry import page_by_path

PAGE = page_by_path("views/health.py")
AS_OF = dt.datetime.combine(DEMO_AS_OF + dt.timedelta(days=1), dt.time())
VIEWING_ROLES = (Role.ADMIN, Role.REVOPS, Role.SALES_LEADER, Role.MANAGER, Role.REP, Role.CS,
                 Role.FINANCE, Role.DEAL_DESK)


@pytest.fixture(scope="session")
def health_demo_data_dir(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo with a churn model trained (and every customer scored) as of AS_OF."""
    folder = tmp_path_factory.mktemp("health-demo-workspaces")
    copy_workspace_file(demo_data_dir, folder, "demo")
    train_health_model(open_workspace("demo", base=folder), "operator", as_of=AS_OF)
    close_all_workspaces()
    return folder


@pytest.fixture
def health_demo(health_demo_data_dir: Path, data_dir: Path) -> Iterator[Workspace]:
    """A private copy of the trained demo, opened read-write as 'demo'."""
    copy_workspace_file(health_demo_data_dir, data_dir, "demo")
    yield open_workspace("demo")


def shown_table(app: AppTest):
    """The renewals table as the page drew it."""
    return app.dataframe[0].value


def no_missing_words(app: AppTest) -> None:
    """Nothing the page wrote says nan or None."""
    texts = ([m.value for m in app.markdown] + [c.value for c in app.caption]
             + [m.label for m in app.metric] + [m.value for m in app.metric])
    for text in texts:
        assert "nan" not in text.split() and "None" not in text, text


def test_page_roles_are_those_who_may_view_health() -> None:
    assert PAGE_ROLES["health"] == frozenset(VIEWING_ROLES)


def test_customer_success_sees_the_renewals_of_the_window(health_demo: Workspace) -> None:
    cs = demo_user(health_demo, Role.CS)
    expected = renewals_at_risk(health_demo, cs, 90)

    app = run_page(PAGE, cs)

    assert not app.exception and not app.error, [e.value for e in app.error]
    assert [t.value for t in app.title] == ["Customer health"]
    assert app.radio[0].value == 90
    metrics = metric_values(app)
    arr, at_risk = int(expected["arr_cents"].sum()), int(expected["arr_at_risk_cents"].sum())
    assert metrics["Renewals in 90 days"] == f"{len(expected):,}"
    assert metrics["ARR renewing"] == format_money(arr)
    assert metrics["ARR at risk"] == format_money(at_risk)
    assert metrics["Share of ARR at risk"] == format_percent(at_risk / arr)
    assert metrics["ARR at risk"].startswith("$") and metrics["ARR at risk"][-1] in "KMB"
    table = shown_table(app)
    assert table["Account"].tolist() == expected["account_name"].tolist()
    assert table["CRM id"].tolist() == expected["account_id"].tolist()
    assert table["Owner"].tolist() == expected["owner_name"].tolist()
    assert table["ARR at risk"].tolist() == [format_money(int(c))
                                             for c in expected["arr_at_risk_cents"]]
    assert table["Churn"].tolist() == pytest.approx(
        (expected["churn_probability"] * 100).round(1).tolist())
    assert [list(r) for r in table["Top reasons"]] == [list(r) for r in expected["top_reasons"]]
    assert all(all(isinstance(t, str) and t for t in r) for r in table["Top reasons"])
    assert table.notna().all().all()
    assert "Whole workspace" in app.caption[0].value
    assert "Train the churn model and rescore" not in [b.label for b in app.button]
    no_missing_words(app)


def test_the_window_and_the_risk_filter_are_one_planning_call(health_demo: Workspace) -> None:
    cs = demo_user(health_demo, Role.CS)
    app = run_page(PAGE, cs)
    app.radio[0].set_value(30).run()
    thirty = renewals_at_risk(health_demo, cs, 30)
    assert metric_values(app)["Renewals in 30 days"] == f"{len(thirty):,}"
    assert len(thirty) < len(renewals_at_risk(health_demo, cs, 90))

    app.multiselect(key="segment_30")  # the segment filter exists for the window
    risk = next(m for m in app.multiselect if m.label == "Risk")
    risk.set_value(["high"]).run()
    high = renewals_at_risk(health_demo, cs, 30, risks=["high"])
    assert not app.exception and not app.error
    assert metric_values(app)["Renewals in 30 days"] == f"{len(high):,}"
    assert set(shown_table(app)["Risk"]) <= {"High"}


def test_a_manager_sees_their_team_and_a_rep_their_book(health_demo: Workspace) -> None:
    manager = demo_user(health_demo, Role.MANAGER)
    rep = demo_user(health_demo, Role.REP)
    everyone = renewals_at_risk(health_demo, None, 90)

    team_app = run_page(PAGE, manager)
    rep_app = run_page(PAGE, rep)

    for app in (team_app, rep_app):
        assert not app.exception and not app.error, [e.value for e in app.error]
    team = renewals_at_risk(health_demo, manager, 90)
    mine = renewals_at_risk(health_demo, rep, 90)
    assert 0 < len(mine) < len(team) < len(everyone)
    assert metric_values(team_app)["Renewals in 90 days"] == f"{len(team):,}"
    assert set(shown_table(team_app)["CRM id"]) == set(team["account_id"])
    assert set(team["owner_id"]) <= set(manager.deal_owner_ids)
    assert team_app.caption[0].value.startswith("Your team: ")
    owners = next(m for m in team_app.multiselect if m.label == "Owner")
    assert set(owners.options) == set(team["owner_name"])
    assert set(shown_table(rep_app)["CRM id"]) == set(mine["account_id"])
    assert rep_app.caption[0].value.startswith("Your book")


@pytest.mark.parametrize("role", [Role.FINANCE, Role.DEAL_DESK])
def test_finance_and_deal_desk_read_everything_but_start_no_play(
        health_demo: Workspace, role: Role) -> None:
    user = demo_user(health_demo, role)
    account = renewals_at_risk(health_demo, user, 90)["account_id"].iloc[0]
    app = page_app(PAGE, user)
    app.query_params["account"] = account
    app.run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    assert len(shown_table(app)) == len(renewals_at_risk(health_demo, None, 90))
    assert not [b.label for b in app.button if b.label.startswith("Start ")]
    assert any(c.value.startswith("Starting plays needs one of these roles") for c in app.caption)
    assert "Record outcome" not in [b.label for b in app.button]


@pytest.mark.parametrize("role", [Role.COMP, Role.VIEWER])
def test_roles_without_health_are_refused(health_demo: Workspace, role: Role) -> None:
    app = run_page(PAGE, demo_user(health_demo, role))

    assert not app.exception
    assert element_types(app.main) == ["error", "caption"]
    assert app.error[0].value.startswith("**Access refused.**")


def test_revops_may_train_and_sees_the_model_card(health_demo: Workspace) -> None:
    card = json.loads(churn_model_cards(health_demo).iloc[0]["card_json"])
    metrics = card["metrics"]

    app = run_page(PAGE, demo_user(health_demo, Role.REVOPS))

    assert not app.exception and not app.error
    assert "Train the churn model and rescore" in [b.label for b in app.button]
    shown = metric_values(app)
    assert shown["Held-out AUC"] == f"{metrics['auc']:.3f}"
    assert shown["Brier score"] == f"{metrics['brier']:.4f}"
    assert shown["Base rate Brier"] == f"{metrics['base_rate_brier']:.4f}"
    assert metrics["brier"] < metrics["base_rate_brier"]
    brier = next(m for m in app.metric if m.label == "Brier score")
    assert brier.proto.delta.endswith("vs base rate") and brier.proto.delta.startswith("-")
    captions = " ".join(c.value for c in app.caption)
    assert f"held out {card['rows_test']:,} renewals" in captions
    assert f"{dt.date.fromisoformat(card['test_from']):%d %b %Y}" in captions
    auc_chart = next(s for s in chart_specs(app)
                     if s["layout"]["title"]["text"].startswith("Model quality over time: AUC"))
    assert auc_chart["data"][0]["name"] == "Held out at training"
    assert auc_chart["data"][0]["y"] == [pytest.approx(metrics["auc"])]
    assert shown["Plays started"] == "0"
    assert shown["Saved with a play"] == "n/a"


def test_without_a_model_the_page_says_so(demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(demo_copy, Role.CS))

    assert not app.exception and not app.error
    assert app.info[0].value.startswith("No health scores yet")
    assert "admin, revops" in app.info[0].value


def drill_down(workspace: Workspace, role: Role, account: str) -> AppTest:
    app = page_app(PAGE, demo_user(workspace, role))
    app.query_params["account"] = account
    return app.run()


def test_the_drill_down_shows_components_reasons_and_timelines(health_demo: Workspace) -> None:
    cs = demo_user(health_demo, Role.CS)
    row = renewals_at_risk(health_demo, cs, 90).iloc[0]

    app = drill_down(health_demo, Role.CS, row["account_id"])

    assert not app.exception and not app.error
    assert [h.value for h in app.subheader][0] == row["account_name"]
    titles = [s["layout"]["title"]["text"] for s in chart_specs(app)]
    assert titles[0] == f"Health components: score {row['health_score']} of 100"
    assert "Usage: monthly active users" in titles
    assert any(t.startswith("Support: tickets opened per month") for t in titles)
    assert "Billing: days late per invoice" in titles
    for spec in chart_specs(app):
        assert spec["layout"]["xaxis"]["title"]["text"] and spec["layout"]["yaxis"]["title"]
    usage = next(s for s in chart_specs(app) if s["layout"]["title"]["text"].startswith("Usage"))
    assert [d["name"] for d in usage["data"]] == ["Active users", "Seats paid for"]
    markdown = " ".join(m.value for m in app.markdown)
    for reason in row["top_reasons"]:
        assert f"- {reason}" in markdown
    assert "What changed since last week" in markdown
    starts = [b.label for b in app.button if b.label.startswith("Start ")]
    assert starts
    no_missing_words(app)


def test_a_rep_cannot_open_an_account_outside_their_book(health_demo: Workspace) -> None:
    rep = demo_user(health_demo, Role.REP)
    other = renewals_at_risk(health_demo, None, 90)
    other = other[other["owner_id"] != rep.rep_id]["account_id"].iloc[0]

    app = drill_down(health_demo, Role.REP, other)

    assert not app.exception
    assert [e.value for e in app.error] == [
        "Could not show this account's health: That account belongs to someone outside your "
        "team."]


def concession_account(workspace: Workspace) -> str:
    """An account in the 90-day window whose recommendations include the concession play."""
    from planning.health.plays import recommend_plays

    renewals = renewals_at_risk(workspace, None, 90)
    for row in renewals.itertuples():
        if any(r.play.key == "concession" for r in recommend_plays(row.reason_codes)):
            return str(row.account_id)
    raise AssertionError("no account in the window is recommended a concession")


def test_a_csm_starts_plays_and_records_the_outcome(health_demo: Workspace) -> None:
    account = concession_account(health_demo)
    cs = demo_user(health_demo, Role.CS)

    app = drill_down(health_demo, Role.CS, account)
    assert [b.label for b in app.button if b.label == "Start Discount or concession"]
    app.number_input(key=f"pct_concession_{account}").set_value(15.0)
    next(b for b in app.button if b.label == "Start Discount or concession").click().run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.info[0].value.startswith("Discount or concession started and is awaiting "
                                        "approval")
    runs = account_plays(health_demo, cs, account)
    assert [(r.play, r.status, r.concession_pct) for r in runs] == [
        ("concession", "awaiting_approval", 15.0)]
    markdown = " ".join(m.value for m in app.markdown)
    assert "*awaiting approval*" in markdown and "concession 15% of ARR" in markdown
    tasks = [d.value for d in app.dataframe if "Status" in d.value.columns]
    assert [set(t["Status"]) for t in tasks] == [{"waiting for approval"}]

    other = next(b for b in app.button if b.label.startswith("Start ")
                 and b.label != "Start Discount or concession")
    name = other.label.removeprefix("Start ")
    other.click().run()
    assert not app.exception and not app.error
    assert app.success[0].value.startswith(f"{name} started: 3 tasks are open.")
    done = next(b for b in app.button if b.label.startswith("Done: "))
    done.click().run()
    assert app.success[0].value == f"{done.label}."

    arr = runs[0].arr_cents
    app.radio(key=f"outcome_{account}").set_value("renewed")
    next(b for b in app.button if b.label == "Record outcome").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.success[0].value.startswith(
        f"Recorded: the renewal of {runs[0].renewal_date:%d %b %Y} renewed at "
        f"{format_money(arr)}. It credits 1 play(s).")
    rate = saved_renewal_rate(health_demo, cs)
    assert rate.with_play.renewals + rate.without_play.renewals == 1
    assert metric_values(app)["Plays started"] == "2"


def test_deal_desk_and_finance_approve_a_concession_on_the_approvals_page(
        health_demo: Workspace) -> None:
    account = concession_account(health_demo)
    cs = demo_user(health_demo, Role.CS)
    run = start_play(health_demo, cs, account, "concession", concession_pct=15.0)
    assert run.status == "awaiting_approval"
    approvals_page = page_by_path("views/approvals.py")

    for role in (Role.DEAL_DESK, Role.FINANCE):
        app = run_page(approvals_page, demo_user(health_demo, role))
        assert not app.exception and not app.error, [e.value for e in app.error]
        heading = app.tabs[0].markdown[0].value
        assert heading.startswith("**Discount or concession** save play on **")
        assert f"**{role.value}**" in heading
        caption = app.tabs[0].caption[0].value
        assert "Concession 15% of ARR of " in caption and account in caption
        next(b for b in app.button if b.label == "Record decision").click().run()
        assert not app.exception and not app.error, [e.value for e in app.error]
        assert app.success[0].value.startswith("Recorded. The request is now ")

    assert [(r.status, {t.status for t in r.tasks})
            for r in account_plays(health_demo, cs, account)] == [("active", {"open"})]


TRAINING_SECONDS = 600
"""Training the small demo's churn model takes about 7 s on a quiet machine."""


def test_revops_trains_from_the_page_as_a_job_with_progress(demo_copy: Workspace) -> None:
    revops = demo_user(demo_copy, Role.REVOPS)
    app = page_app(PAGE, revops)
    app.default_timeout = TRAINING_SECONDS
    app.run()
    assert app.info[0].value.startswith("No health scores yet: the churn model is not trained.")

    queue = workspace_queue(demo_copy)
    queue.heartbeat("busy-worker")  # a worker that takes no job: the job waits in the queue
    next(b for b in app.button if b.label == "Train the churn model and rescore").click().run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    progress = app.get("progress")
    assert [p.proto.text for p in progress] == [
        "Training the churn model (waiting for the worker). Health scores and churn risk are "
        "redrawn when it ends."]
    job = health_training_progress(demo_copy)
    assert job is not None and job.status == "queued"
    assert churn_model_cards(demo_copy).empty
    queue.forget_worker("busy-worker")
    wait_for_job(demo_copy, job.job_id, TRAINING_SECONDS)
    app.run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    cards = churn_model_cards(demo_copy)
    assert cards["trained_by"].tolist() == [revops.email]
    renewals = renewals_at_risk(demo_copy, revops, 90)
    assert metric_values(app)["Renewals in 90 days"] == f"{len(renewals):,}"
    assert metric_values(app)["Held-out AUC"] == \
        f"{json.loads(cards.iloc[0]['card_json'])['metrics']['auc']:.3f}"
