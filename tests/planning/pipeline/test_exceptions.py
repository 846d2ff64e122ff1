"""Deal risk alerts on the scored demo workspace: who gets them, idempotence, audit, the inbox,
resolving items, and recommendation attribution, each checked against independent SQL."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planning.access.policy import AccessDeniedError
from planning.access.roles import Role
from planning.access.users import User
from planning.audit import verify_chain
from planning.cli import main
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.pipeline.exceptions import (
    REASON_KINDS,
    RECOMMENDATION_TEXTS,
    inbox,
    raise_risk_alerts,
    recommendation_attribution,
    refresh_recommendation_outcomes,
    resolve_item,
    top_risk_reason,
)
from planning.store import Workspace, open_workspace
from tests.views.test_pages import demo_user

MIN_CENTS, MAX_PROBABILITY = 4_000_000, 0.3
"""Thresholds set by the tests, different from the defaults, so reading them is checked."""


def _rows(workspace: Workspace, sql: str, params: list | None = None) -> pd.DataFrame:
    return workspace.read(lambda cur: cur.execute(sql, params or []).df())


def _no_alert_budget(workspace: Workspace) -> None:
    """Turn off the expected-loss threshold and the weekly cap per manager, so the tests written
    for the amount and probability rule see every deal over those thresholds alerted."""
    workspace.write(lambda cur: cur.executemany(
        "INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
        [["risk_alert_min_expected_loss_cents", "0"], ["risk_alert_max_per_week", "100000"]]))


@pytest.fixture(autouse=True)
def _alert_budget_off(request: pytest.FixtureRequest) -> None:
    """The tests below written for the amount and probability rule expect every deal over those
    thresholds alerted, so they run without the expected-loss threshold and weekly cap (the
    defaults are checked by the tests that call `_default_alert_budget`)."""
    if "scored_demo_copy" in request.fixturenames:
        _no_alert_budget(request.getfixturevalue("scored_demo_copy"))


def _default_alert_budget(workspace: Workspace) -> None:
    workspace.write(lambda cur: cur.execute(
        "DELETE FROM workspace_settings WHERE key IN "
        "('risk_alert_min_expected_loss_cents', 'risk_alert_max_per_week')"))


def _set_thresholds(workspace: Workspace, cents: int, probability: float) -> None:
    _no_alert_budget(workspace)
    workspace.write(lambda cur: cur.execute(
        """UPDATE workspace_settings SET value = CASE key
               WHEN 'risk_alert_min_amount_cents' THEN ? ELSE ? END
           WHERE key IN ('risk_alert_min_amount_cents', 'risk_alert_max_win_probability')""",
        [str(cents), str(probability)]))


def _expected_deals(workspace: Workspace, cents: int, probability: float) -> set[str]:
    """Open deals over the thresholds by the active win model, straight from the tables."""
    return set(_rows(workspace, """
        SELECT o.opportunity_id FROM opportunities o
        JOIN deal_scores s USING (opportunity_id)
        JOIN model_versions m ON m.model_id = s.model_id
        WHERE m.is_active AND m.target = 'win' AND o.status = 'open'
          AND o.amount_cents >= ? AND s.win_probability <= ?""",
        [cents, probability])["opportunity_id"])


def _items(workspace: Workspace) -> pd.DataFrame:
    return _rows(workspace, "SELECT * FROM inbox_items ORDER BY item_id")


def _events(workspace: Workspace, action: str) -> pd.DataFrame:
    return _rows(workspace, "SELECT * FROM audit_events WHERE action = ? ORDER BY seq", [action])


def test_alerts_cover_exactly_the_deals_over_the_thresholds(scored_demo_copy: Workspace) -> None:
    """One open item per deal at or over the amount and at or under the probability, from the
    workspace settings, and nothing else."""
    _set_thresholds(scored_demo_copy, MIN_CENTS, MAX_PROBABILITY)
    expected = _expected_deals(scored_demo_copy, MIN_CENTS, MAX_PROBABILITY)
    assert 10 < len(expected) < 300

    raised = raise_risk_alerts(scored_demo_copy)

    items = _items(scored_demo_copy)
    assert raised == len(items) == len(expected)
    assert set(items["entity_id"]) == expected
    assert set(items["kind"]) == {"deal_risk"} and set(items["entity"]) == {"opportunity"}
    assert set(items["status"]) == {"open"}
    assert items["resolved_at"].isna().all()


def test_alerts_go_to_the_owners_manager_with_words_and_a_recommendation(
    scored_demo_copy: Workspace,
) -> None:
    raise_risk_alerts(scored_demo_copy)

    items = _items(scored_demo_copy)
    assert len(items) == len(_expected_deals(scored_demo_copy, 5_000_000, 0.25))
    routing = _rows(scored_demo_copy, """
        SELECT o.opportunity_id AS entity_id, r.manager_id, lower(m.email) AS manager_email,
               o.amount_cents, s.win_probability, s.reasons_json, s.model_id
        FROM opportunities o JOIN reps r ON r.rep_id = o.owner_id
        JOIN reps m ON m.rep_id = r.manager_id
        JOIN deal_scores s ON s.opportunity_id = o.opportunity_id
        JOIN model_versions v ON v.model_id = s.model_id AND v.is_active AND v.target = 'win'
    """)
    merged = items.merge(routing, on="entity_id", validate="one_to_one")
    assert len(merged) == len(items)
    assert (merged["assignee_rep_id"] == merged["manager_id"]).all()
    assert (merged["assignee_email"] == merged["manager_email"]).all()
    assert merged["assignee_email"].nunique() > 1

    recommendations = _rows(scored_demo_copy, "SELECT * FROM recommendations")
    assert len(recommendations) == len(items)
    for row in merged.itertuples():
        detail = json.loads(row.detail_json)
        recommendation = recommendations.set_index("recommendation_id").loc[
            detail["recommendation_id"]]
        feature, reason = top_risk_reason(row.reasons_json)
        kind = REASON_KINDS.get(feature, "review_deal")
        # Titles show the probability clipped to 1 %-99 %: the model is never certain.
        shown = min(max(row.win_probability, 0.01), 0.99)
        assert f"{shown:.0%} win probability" in row.title
        assert "at 0% win" not in row.title and "at 100% win" not in row.title
        assert reason in row.title and format_money(row.amount_cents) in row.title
        assert recommendation["opportunity_id"] == row.entity_id
        assert recommendation["kind"] == kind
        assert recommendation["shown_to"] == row.manager_email
        assert recommendation["model_id"] == row.model_id
        assert reason in recommendation["text"]
        assert recommendation["text"].split(" ")[0] == RECOMMENDATION_TEXTS[kind].split(" ")[0]
        assert pd.isna(recommendation["action"])
        assert detail["amount_cents"] == row.amount_cents


def test_raising_again_adds_nothing_and_every_alert_is_audited(
    scored_demo_copy: Workspace,
) -> None:
    first = raise_risk_alerts(scored_demo_copy, actor="ops@example.com")
    items = _items(scored_demo_copy)
    events = _events(scored_demo_copy, "inbox.risk_alert")
    assert first > 0
    assert len(events) == first
    assert sorted(events["entity_id"].astype(int)) == sorted(items["item_id"])
    assert set(events["actor"]) == {"ops@example.com"}
    after = json.loads(events["after_json"].iloc[0])
    assert after["opportunity_id"] == items.set_index("item_id").loc[
        int(events["entity_id"].iloc[0]), "entity_id"]

    assert raise_risk_alerts(scored_demo_copy) == 0
    assert len(_items(scored_demo_copy)) == first
    assert len(_rows(scored_demo_copy, "SELECT * FROM recommendations")) == first
    assert len(_events(scored_demo_copy, "inbox.risk_alert")) == first
    assert verify_chain(scored_demo_copy).ok


def test_a_resolved_alert_is_raised_again_while_the_deal_stays_at_risk(
    scored_demo_copy: Workspace,
) -> None:
    """Only an open item holds back a new one: a later scoring alerts again."""
    _no_alert_budget(scored_demo_copy)
    raise_risk_alerts(scored_demo_copy)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    mine = inbox(scored_demo_copy, manager)
    resolve_item(scored_demo_copy, manager, int(mine["item_id"].iloc[0]), "acted", "called")

    assert raise_risk_alerts(scored_demo_copy) == 1
    newest = _items(scored_demo_copy).iloc[-1]
    assert newest["entity_id"] == mine["entity_id"].iloc[0] and newest["status"] == "open"


def test_the_inbox_holds_only_the_assignees_items(scored_demo_copy: Workspace) -> None:
    raise_risk_alerts(scored_demo_copy)
    manager = demo_user(scored_demo_copy, Role.MANAGER)

    mine = inbox(scored_demo_copy, manager)

    expected = _rows(scored_demo_copy, "SELECT item_id FROM inbox_items WHERE assignee_email = ?",
                     [manager.email])
    assert 0 < len(mine) < len(_items(scored_demo_copy))
    assert sorted(mine["item_id"]) == sorted(expected["item_id"])
    assert set(mine["assignee_rep_id"]) == {manager.rep_id}
    assert mine["recommendation"].notna().all()
    assert (mine["amount_cents"] >= 5_000_000).all() and (mine["win_probability"] <= 0.25).all()
    assert inbox(scored_demo_copy, demo_user(scored_demo_copy, Role.REVOPS)).empty
    by_rep_id = User(email="someone.else@example.com", name="Alias", workspace="demo",
                     roles=frozenset({Role.MANAGER}), rep_id=manager.rep_id,
                     deal_owner_ids=manager.deal_owner_ids)
    assert sorted(inbox(scored_demo_copy, by_rep_id)["item_id"]) == sorted(mine["item_id"])


def test_only_the_assignee_resolves_an_item_and_it_is_audited(
    scored_demo_copy: Workspace,
) -> None:
    raise_risk_alerts(scored_demo_copy)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    first, second = (int(i) for i in inbox(scored_demo_copy, manager)["item_id"].iloc[:2])
    other_manager = _rows(scored_demo_copy, """
        SELECT rep_id, email FROM reps WHERE role = 'manager' AND rep_id <> ? ORDER BY rep_id
        LIMIT 1""", [manager.rep_id]).iloc[0]
    strangers = [
        demo_user(scored_demo_copy, Role.REVOPS),
        demo_user(scored_demo_copy, Role.ADMIN),
        User(email=other_manager["email"], name="Other", workspace="demo",
             roles=frozenset({Role.MANAGER}), rep_id=other_manager["rep_id"],
             deal_owner_ids=frozenset({other_manager["rep_id"]})),
    ]
    for stranger in strangers:
        with pytest.raises(AccessDeniedError, match="addressed to someone else"):
            resolve_item(scored_demo_copy, stranger, first, "acted", "not mine")
    assert set(_items(scored_demo_copy)["status"]) == {"open"}
    assert _events(scored_demo_copy, "inbox.resolve").empty

    with pytest.raises(RevPlanError, match="Say why"):
        resolve_item(scored_demo_copy, manager, second, "dismissed", "  ")
    with pytest.raises(RevPlanError, match="Unknown inbox action"):
        resolve_item(scored_demo_copy, manager, second, "ignored", "x")
    resolve_item(scored_demo_copy, manager, first, "acted", "Met the CFO on Monday")
    resolve_item(scored_demo_copy, manager, second, "dismissed", "Signed paper in hand")
    with pytest.raises(RevPlanError, match="already acted"):
        resolve_item(scored_demo_copy, manager, first, "dismissed", "changed my mind")

    items = _items(scored_demo_copy).set_index("item_id")
    assert items.loc[first, "status"] == "acted" and items.loc[second, "status"] == "dismissed"
    assert items.loc[first, "resolved_by"] == manager.email
    assert json.loads(items.loc[first, "detail_json"])["resolution_note"] == \
        "Met the CFO on Monday"
    actions = _rows(scored_demo_copy, """
        SELECT i.item_id, r.action, r.action_by FROM inbox_items i JOIN recommendations r
          ON r.recommendation_id = CAST(json_extract_string(i.detail_json,
                                                            '$.recommendation_id') AS BIGINT)
        WHERE i.item_id IN (?, ?)""", [first, second]).set_index("item_id")
    assert actions.loc[first, "action"] == "accepted"
    assert actions.loc[second, "action"] == "overridden"
    assert set(actions["action_by"]) == {manager.email}
    events = _events(scored_demo_copy, "inbox.resolve")
    assert list(events["entity_id"].astype(int)) == [first, second]
    assert list(events["reason"]) == ["Met the CFO on Monday", "Signed paper in hand"]
    assert list(events["actor"]) == [manager.email, manager.email]
    assert verify_chain(scored_demo_copy).ok


def test_attribution_counts_every_recommendation_and_the_win_rates(
    scored_demo_copy: Workspace,
) -> None:
    """Two accepted (one then won, one lost) and one overridden (then lost) recommendation of
    one kind; every other recommendation unanswered; counts and rates exactly as set up."""
    raise_risk_alerts(scored_demo_copy)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    mine = inbox(scored_demo_copy, manager)
    kind = mine["recommendation_kind"].value_counts().index[0]
    chosen = mine[mine["recommendation_kind"] == kind].head(3)
    assert len(chosen) == 3, "the manager needs three alerts of one kind"
    (a, deal_a), (b, deal_b), (c, deal_c) = zip(chosen["item_id"].astype(int),
                                                chosen["entity_id"], strict=True)
    resolve_item(scored_demo_copy, manager, a, "acted", "on it")
    resolve_item(scored_demo_copy, manager, b, "acted", "on it")
    resolve_item(scored_demo_copy, manager, c, "dismissed", "fine as is")

    def close(cur) -> None:
        for deal, status in ((deal_a, "won"), (deal_b, "lost"), (deal_c, "lost")):
            cur.execute("UPDATE opportunities SET status = ?, closed_at = now() "
                        "WHERE opportunity_id = ?", [status, deal])

    scored_demo_copy.write(close)
    shown = _rows(scored_demo_copy,
                  "SELECT kind, count(*) AS n FROM recommendations GROUP BY kind")
    shown = dict(zip(shown["kind"], shown["n"], strict=True))

    assert refresh_recommendation_outcomes(scored_demo_copy) == sum(shown.values())
    assert refresh_recommendation_outcomes(scored_demo_copy) == 0
    assert len(_events(scored_demo_copy, "recommendation.refresh_outcomes")) == 1
    table = recommendation_attribution(scored_demo_copy).set_index("kind")

    assert table["shown"].to_dict() == shown
    assert table["accepted"].to_dict() == {k: 2 if k == kind else 0 for k in shown}
    assert table["overridden"].to_dict() == {k: 1 if k == kind else 0 for k in shown}
    assert table.loc[kind, "pending"] == shown[kind] - 3
    assert table.loc[kind, ["accepted_closed", "accepted_won", "overridden_closed",
                            "overridden_won"]].tolist() == [2, 1, 1, 0]
    assert table.loc[kind, "win_rate_accepted"] == pytest.approx(0.5)
    assert table.loc[kind, "win_rate_overridden"] == pytest.approx(0.0)
    others = table.drop(index=kind)
    assert others["win_rate_accepted"].isna().all()
    assert others["win_rate_overridden"].isna().all()


def test_the_score_command_rescores_and_raises_alerts(
    scored_demo_copy: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    """`revplan pipeline score` rescores the open deals as of a date and alerts their managers,
    audited as the operator; a second run finds nothing new to alert."""
    open_deals = _rows(scored_demo_copy,
                       "SELECT count(*) AS n FROM opportunities WHERE status = 'open'")["n"][0]

    first = main(["pipeline", "score", "--workspace", "demo", "--as-of", "2026-11-16"])
    second = main(["pipeline", "score", "--workspace", "demo", "--as-of", "2026-11-16"])

    out = capsys.readouterr().out.splitlines()
    workspace = open_workspace("demo")
    items = _items(workspace)
    assert (first, second) == (0, 0)
    assert len(items) == len(_expected_deals(workspace, 5_000_000, 0.25)) > 0
    assert out == [
        f"Scored {open_deals:,} open deals; {len(items):,} new risk alerts sent to managers' "
        "inboxes.",
        f"Scored {open_deals:,} open deals; 0 new risk alerts sent to managers' inboxes.",
    ]
    assert set(_events(workspace, "inbox.risk_alert")["actor_role"]) == {"operator"}


def test_default_alerts_stay_a_handful_per_manager_per_week(scored_demo_copy: Workspace) -> None:
    """By default only deals with a large expected loss alert, at most 5 per manager in 7 days:
    a second scoring the same week adds nothing for a manager who already has 5."""
    _default_alert_budget(scored_demo_copy)
    raise_risk_alerts(scored_demo_copy)
    items = _items(scored_demo_copy)
    per_manager = items.groupby("assignee_rep_id").size()
    assert len(items) > 0 and per_manager.max() <= 5
    losses = [json.loads(d)["expected_loss_cents"] for d in items["detail_json"]]
    floor = json.loads(items["detail_json"].iloc[0])["min_expected_loss_cents"]
    assert floor > 0 and min(losses) >= floor
    full = set(per_manager.index[per_manager == 5])
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    mine = inbox(scored_demo_copy, manager)
    resolve_item(scored_demo_copy, manager, int(mine["item_id"].iloc[0]), "acted", "called")
    raise_risk_alerts(scored_demo_copy)
    again = _items(scored_demo_copy).groupby("assignee_rep_id").size()
    assert all(again[rep] == 5 for rep in full)


def test_the_expected_loss_setting_changes_the_alerts(scored_demo_copy: Workspace) -> None:
    scored_demo_copy.write(lambda cur: cur.executemany(
        "INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
        [["risk_alert_min_expected_loss_cents", "0"], ["risk_alert_max_per_week", "1"]]))
    raise_risk_alerts(scored_demo_copy)
    assert _items(scored_demo_copy).groupby("assignee_rep_id").size().max() == 1
