"""The Inbox page: a manager's open risk alerts, acting on and dismissing them, the history;
someone with nothing addressed to them sees that said."""

from __future__ import annotations

import json

import pandas as pd

from auth.roles import Role
from planning.overview import format_money
from planning.pipeline.exceptions import raise_risk_alerts
from planning.store import Workspace
from tests.views.test_pages import demo_user, run_page
from views.registry import page_by_path

PAGE = page_by_path("views/inbox.py")


def escaped(text: str) -> str:
    """Text as the page writes it into Markdown: dollar signs escaped."""
    return text.replace("$", "\\$")


def _items_for(workspace: Workspace, email: str) -> pd.DataFrame:
    return workspace.read(lambda cur: cur.execute(
        """SELECT item_id, title, status, detail_json FROM inbox_items
           WHERE assignee_email = ? ORDER BY created_at DESC, item_id DESC""", [email]).df())


def test_a_manager_sees_their_open_alerts(scored_demo_copy: Workspace) -> None:
    raise_risk_alerts(scored_demo_copy)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    mine = _items_for(scored_demo_copy, manager.email)
    total = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM inbox_items").fetchone()[0])
    assert 0 < len(mine) < total

    app = run_page(PAGE, manager)

    assert not app.exception and not app.error
    assert [t.value for t in app.title] == ["Inbox"]
    assert app.caption[0].value.startswith(f"{len(mine)} open items addressed to "
                                           f"{manager.email}.")
    assert [m.value for m in app.markdown if m.value.startswith("**")] == [
        f"**{escaped(title)}**" for title in mine["title"]]
    assert len(app.text_input) == len(mine)
    assert [b.label for b in app.button] == ["Acted on it", "Dismiss"] * len(mine)
    amount = json.loads(mine["detail_json"].iloc[0])["amount_cents"]
    assert escaped(format_money(amount, compact=False)) in app.caption[1].value
    assert any(m.value.startswith("Recommendation: ") for m in app.markdown)
    assert app.caption[-1].value == "Nothing resolved yet."


def test_acting_and_dismissing_resolve_items(scored_demo_copy: Workspace) -> None:
    raise_risk_alerts(scored_demo_copy)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    mine = _items_for(scored_demo_copy, manager.email)
    first, second = (int(i) for i in mine["item_id"].iloc[:2])
    app = run_page(PAGE, manager)

    app.text_input(key=f"inbox_note_{first}").input("Booked a call with the CFO")
    app.button(key=f"inbox_act_{first}").click().run()

    assert not app.exception and not app.error
    assert app.success[0].value == f"Item {first} marked as acted on."
    assert app.caption[0].value.startswith(f"{len(mine) - 1} open items")
    history = app.dataframe[0].value
    assert history["status"].tolist() == ["acted"]
    assert history["note"].tolist() == ["Booked a call with the CFO"]

    app.button(key=f"inbox_dismiss_{second}").click().run()

    assert not app.exception
    assert "Say why you dismiss the alert" in app.error[0].value
    assert _items_for(scored_demo_copy, manager.email).set_index("item_id").loc[
        second, "status"] == "open"

    app.text_input(key=f"inbox_note_{second}").input("Verbal yes from the buyer")
    app.button(key=f"inbox_dismiss_{second}").click().run()

    assert not app.error
    assert app.success[0].value == f"Item {second} dismissed."
    stored = _items_for(scored_demo_copy, manager.email).set_index("item_id")["status"]
    assert (stored.loc[first], stored.loc[second]) == ("acted", "dismissed")
    assert (stored == "open").sum() == len(mine) - 2
    assert sorted(app.dataframe[0].value["status"]) == ["acted", "dismissed"]


def test_someone_with_nothing_addressed_to_them_is_told_so(scored_demo_copy: Workspace) -> None:
    raise_risk_alerts(scored_demo_copy)

    app = run_page(PAGE, demo_user(scored_demo_copy, Role.REVOPS))

    assert not app.exception and not app.error
    assert app.info[0].value.startswith("Nothing needs your attention")
    assert not app.button and not app.dataframe
