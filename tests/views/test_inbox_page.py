"""The Inbox page: a manager's open risk alerts, acting on and dismissing them, the history;
someone with nothing addressed to them sees that said."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from planning.access.roles import Role
from planning.access.users import User
from planning.overview import format_money
from planning.pipeline.exceptions import ALERT_RULE, raise_risk_alerts
from planning.store import Workspace
from planning.store import inbox as inbox_repo
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
    assert app.caption[0].help == ALERT_RULE
    by_loss = mine.assign(loss=[json.loads(d)["expected_loss_cents"] for d in mine["detail_json"]]
                          ).sort_values(["loss", "item_id"], ascending=[False, True])
    assert [m.value for m in app.markdown if m.value.startswith("**")] == [
        f"**{escaped(title)}**" for title in by_loss["title"]]
    assert len(app.text_input) == len(mine)
    assert [b.label for b in app.button] == ["Acted on it", "Dismiss"] * len(mine)
    assert app.caption[1].value == f"Showing 1–{len(mine)} of {len(mine)} matching items."
    amount = json.loads(by_loss["detail_json"].iloc[0])["amount_cents"]
    assert escaped(format_money(amount, compact=False)) in app.caption[2].value
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


def _fill_inbox(workspace: Workspace, assignee: User, count: int) -> pd.DataFrame:
    """`count` open risk items addressed to `assignee`, with varied amounts, win probabilities
    (0 among them), close dates and two owners from different teams; returns their ids and
    facts with the owners' teams."""
    created = dt.datetime(2025, 1, 10, 9, 0)
    owners = workspace.read(lambda cur: cur.execute(
        """SELECT arg_min(rep_id, rep_id), arg_min(name, rep_id), team FROM reps
           WHERE team IS NOT NULL GROUP BY team ORDER BY team LIMIT 2""").fetchall())
    assert len(owners) == 2
    rows = []
    for n in range(count):
        amount = 1_000_000 * (1 + (n * 7) % count)
        win = (n % 5) * 0.06
        owner_id, owner_name, _ = owners[n % 2]
        detail = {"deal_name": f"Deal {n:02d}", "owner_id": owner_id,
                  "owner_name": owner_name, "amount_cents": amount,
                  "win_probability": win, "expected_loss_cents": round((1 - win) * amount),
                  "close_date": str(dt.date(2025, 3, 1) + dt.timedelta(days=(n * 11) % count)),
                  "reasons": []}
        rows.append({**detail, "title": f"Deal {n:02d} at risk", "team": owners[n % 2][2]})

    def write(cur) -> list[int]:
        return [inbox_repo.insert_item(
            cur, inbox_repo.DEAL_RISK, inbox_repo.OPPORTUNITY, f"opp-{n}", assignee.rep_id,
            assignee.email, created, row["title"],
            json.dumps({k: v for k, v in row.items() if k not in ("title", "team")}))
            for n, row in enumerate(rows)]

    ids = workspace.write(write)
    return pd.DataFrame(rows).assign(item_id=ids)


def _titles(app) -> list[str]:
    return [m.value.strip("*") for m in app.markdown if m.value.startswith("**")]


def test_the_inbox_pages_twenty_items_at_a_time(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    items = _fill_inbox(scored_demo_copy, manager, 45)
    by_loss = items.sort_values(["expected_loss_cents", "item_id"], ascending=[False, True])

    app = run_page(PAGE, manager)

    assert not app.exception and not app.error
    assert app.number_input(key="inbox_page").label == "Page (of 3)"
    assert app.caption[1].value == "Showing 1–20 of 45 matching items."
    assert _titles(app) == by_loss["title"].iloc[:20].tolist()
    assert len(app.text_input) == 20

    app.number_input(key="inbox_page").set_value(3).run()

    assert app.caption[1].value == "Showing 41–45 of 45 matching items."
    assert _titles(app) == by_loss["title"].iloc[40:].tolist()


def test_the_inbox_sorts_by_amount_and_close_date(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    items = _fill_inbox(scored_demo_copy, manager, 15)
    app = run_page(PAGE, manager)

    app.selectbox(key="inbox_sort").set_value("Amount").run()

    assert _titles(app) == items.sort_values(
        ["amount_cents", "item_id"], ascending=[False, True])["title"].tolist()

    app.selectbox(key="inbox_sort").set_value("Close date").run()

    assert _titles(app) == items.sort_values(["close_date", "item_id"])["title"].tolist()


def test_the_inbox_filters_by_risk_team_owner_and_status(scored_demo_copy: Workspace) -> None:
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    items = _fill_inbox(scored_demo_copy, manager, 10)
    app = run_page(PAGE, manager)
    assert app.multiselect(key="inbox_owner").options == sorted(set(items["owner_name"]))
    assert app.multiselect(key="inbox_team").options == sorted(set(items["team"]))

    app.multiselect(key="inbox_team").set_value([items["team"].iloc[0]]).run()

    assert sorted(_titles(app)) == sorted(items[items["team"] == items["team"].iloc[0]]["title"])

    app.multiselect(key="inbox_team").set_value([])

    app.selectbox(key="inbox_risk").set_value("Win < 10 %").run()

    low = items[items["win_probability"] < 0.10]
    assert sorted(_titles(app)) == sorted(low["title"])
    assert "1% win probability" in " ".join(c.value for c in app.caption)
    assert "0% win probability" not in " ".join(c.value for c in app.caption)

    second_owner = items["owner_name"].iloc[1]
    app.selectbox(key="inbox_risk").set_value("All")
    app.multiselect(key="inbox_owner").set_value([second_owner]).run()

    assert sorted(_titles(app)) == sorted(items[items["owner_name"] == second_owner]["title"])

    first = int(items["item_id"].iloc[1])
    app.text_input(key=f"inbox_note_{first}").input("Buyer confirmed in writing")
    app.button(key=f"inbox_dismiss_{first}").click().run()
    app.selectbox(key="inbox_status").set_value("Dismissed").run()

    assert not app.exception and not app.error
    assert _titles(app) == [items["title"].iloc[1]]
    assert not app.button
    assert any(c.value.startswith(f"Dismissed by {manager.email} on ")
               and c.value.endswith(": Buyer confirmed in writing") for c in app.caption)
