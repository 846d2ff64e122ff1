"""Inbox (everyone): the items addressed to the signed-in person, such as deal risk alerts for
their team, to act on or dismiss with a note, and the ones already resolved."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from planning.access.users import User
from planning.overview import format_money
from planning.pipeline.exceptions import ALERT_RULE, inbox, resolve_item
from planning.pipeline.scores import PROBABILITY_NOTE, shown_probability
from planning.store import Workspace
from views.common import current_workspace, model_training_notice, require_page, show_failure

FEEDBACK_KEY = "inbox_feedback"
KIND_NAMES = {"deal_risk": "Deal at risk"}
HISTORY_COLUMNS = {
    "resolved_at": st.column_config.DatetimeColumn("Resolved (UTC)", format="YYYY-MM-DD HH:mm"),
    "status": st.column_config.TextColumn("Resolution"),
    "title": st.column_config.TextColumn("Item", width="large"),
    "recommendation": st.column_config.TextColumn("Recommendation", width="large"),
    "note": st.column_config.TextColumn("Note"),
    "outcome": st.column_config.TextColumn("Deal status now"),
    "created_at": st.column_config.DatetimeColumn("Raised (UTC)", format="YYYY-MM-DD HH:mm"),
}


def markdown_text(text: str) -> str:
    """Text safe to show as Markdown: dollar signs would otherwise start formulas."""
    return text.replace("$", "\\$")


def note_key(item_id: int) -> str:
    """Session key of an item's note field."""
    return f"inbox_note_{item_id}"


def on_resolve(workspace: Workspace, user: User, item_id: int, action: str) -> None:
    """Button callback: resolve the item with the note typed for it; keep the outcome to show."""
    note = st.session_state.get(note_key(item_id), "")
    try:
        resolve_item(workspace, user, item_id, action, note)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        st.session_state[FEEDBACK_KEY] = ("error", exc)
        return
    verb = "marked as acted on" if action == "acted" else "dismissed"
    st.session_state[FEEDBACK_KEY] = ("success", f"Item {item_id} {verb}.")


def show_feedback() -> None:
    """The outcome of the last act or dismiss, once."""
    feedback = st.session_state.pop(FEEDBACK_KEY, None)
    if feedback is None:
        return
    kind, content = feedback
    if kind == "error":
        show_failure(content, "resolve the item")
    else:
        st.success(content)


def facts_text(row: pd.Series) -> str:
    """Deal, owner, amount and win probability of an item, in words."""
    parts = [KIND_NAMES.get(row["kind"], str(row["kind"]).replace("_", " "))]
    if isinstance(row["deal_name"], str):
        parts.append(row["deal_name"])
    if isinstance(row["owner_name"], str):
        parts.append(f"owner {row['owner_name']}")
    if not pd.isna(row["amount_cents"]):
        parts.append(format_money(int(row["amount_cents"]), compact=False))
    if not pd.isna(row["win_probability"]):
        parts.append(f"{shown_probability(row['win_probability']):.0%} win probability")
    if not pd.isna(row["expected_loss_cents"]):
        parts.append(f"expected loss {format_money(int(row['expected_loss_cents']))}")
    parts.append(f"raised {row['created_at']:%d %b %Y, %H:%M} UTC")
    return " · ".join(parts)


def resolution_text(row: pd.Series) -> str:
    """How and when a resolved item was answered, with its note, in words."""
    verb = "Acted on" if row["status"] == "acted" else "Dismissed"
    text = f"{verb} by {row['resolved_by']} on {row['resolved_at']:%d %b %Y, %H:%M} UTC"
    return text + (f": {row['note']}" if isinstance(row["note"], str) else ".")


def show_item(workspace: Workspace, user: User, row: pd.Series) -> None:
    """One item with its recommendation: an open one with a note and the two answers, a
    resolved one with how it was answered."""
    item_id = int(row["item_id"])
    with st.container(border=True):
        st.markdown(f"**{markdown_text(row['title'])}**")
        st.caption(markdown_text(facts_text(row)))
        if isinstance(row["recommendation"], str):
            st.markdown(f"Recommendation: {markdown_text(row['recommendation'])}")
        if row["reasons"]:
            st.caption(markdown_text("What the model sees: " + "; ".join(row["reasons"]) + "."))
        if row["status"] != "open":
            st.caption(markdown_text(resolution_text(row)))
            return
        st.text_input("Note", key=note_key(item_id), max_chars=500,
                      placeholder="What you did, or why the alert does not apply")
        act, dismiss = st.columns(2)
        act.button("Acted on it", key=f"inbox_act_{item_id}", type="primary",
                   icon=":material/task_alt:", on_click=on_resolve,
                   args=(workspace, user, item_id, "acted"))
        dismiss.button("Dismiss", key=f"inbox_dismiss_{item_id}", icon=":material/close:",
                       on_click=on_resolve, args=(workspace, user, item_id, "dismissed"),
                       help="Dismissing overrides the recommendation; say why in the note.")


def show_history(resolved: pd.DataFrame) -> None:
    """Items already acted on or dismissed."""
    st.subheader("Resolved")
    if resolved.empty:
        st.caption("Nothing resolved yet.")
        return
    st.dataframe(resolved[list(HISTORY_COLUMNS)], hide_index=True,
                 column_config=HISTORY_COLUMNS)


# Items shown per page.
PAGE_SIZE = 20
# Sort choice -> (column, ascending); ties go by item id, missing values last.
SORTS = {
    "Expected loss": ("expected_loss_cents", False),
    "Amount": ("amount_cents", False),
    "Close date": ("close_date", True),
    "Newest": ("created_at", False),
}
# Risk choice -> win probability range [low, high) when the alert was raised.
RISKS = {
    "All": (0.0, 1.0),
    "Win < 10 %": (0.0, 0.10),
    "Win 10–25 %": (0.10, 0.25),
    "Win ≥ 25 %": (0.25, 1.01),
}
# Status choice -> the item statuses it shows.
STATUSES = {
    "Open": ("open",),
    "Acted on": ("acted",),
    "Dismissed": ("dismissed",),
    "All": ("open", "acted", "dismissed"),
}


def choose_items(items: pd.DataFrame) -> pd.DataFrame:
    """Sort, filter (status, risk, team, owner) and page the viewer's items; returns the page
    to show. Teams and owners to choose from are those of the items addressed to the viewer."""
    sort, status, risk, team, owner = st.columns(5)
    order = sort.selectbox("Sort by", list(SORTS), key="inbox_sort")
    state = status.selectbox("Status", list(STATUSES), key="inbox_status")
    band = risk.selectbox("Risk", list(RISKS), key="inbox_risk",
                          help=f"Win probability when the alert was raised. {PROBABILITY_NOTE}")
    teams = sorted(items["owner_team"].dropna().unique())
    chosen_teams = team.multiselect("Team", teams, key="inbox_team", placeholder="All teams")
    owners = sorted(items["owner_name"].dropna().unique())
    chosen = owner.multiselect("Owner", owners, key="inbox_owner", placeholder="All owners")
    kept = items[items["status"].isin(STATUSES[state])]
    if band != "All":
        low, high = RISKS[band]
        win = kept["win_probability"]
        kept = kept[(win >= low) & (win < high)]
    if chosen_teams:
        kept = kept[kept["owner_team"].isin(chosen_teams)]
    if chosen:
        kept = kept[kept["owner_name"].isin(chosen)]
    column, ascending = SORTS[order]
    kept = kept.sort_values([column, "item_id"], ascending=[ascending, True], na_position="last")
    pages = max(1, -(-len(kept) // PAGE_SIZE))
    page = int(st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1,
                               step=1, key="inbox_page")) if pages > 1 else 1
    start = (min(page, pages) - 1) * PAGE_SIZE
    if kept.empty:
        st.caption("No items match these filters.")
    else:
        st.caption(f"Showing {start + 1:,}–{min(start + PAGE_SIZE, len(kept)):,} of "
                   f"{len(kept):,} matching item{'' if len(kept) == 1 else 's'}.")
    return kept.iloc[start:start + PAGE_SIZE]


def main() -> None:
    """Draw the Inbox page for the signed-in person."""
    user = require_page("inbox")
    workspace = current_workspace()
    st.title("Inbox")
    model_training_notice(workspace)
    show_feedback()
    try:
        items = inbox(workspace, user)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, "read your inbox")
        return
    waiting = items[items["status"] == "open"]
    st.caption(f"{len(waiting):,} open item{'' if len(waiting) == 1 else 's'} addressed to "
               f"{user.email}. Deal risk alerts go to the deal owner's manager.",
               help=ALERT_RULE)
    if waiting.empty:
        st.info("Nothing needs your attention: no open items are addressed to you.")
    if not items.empty:
        for _, row in choose_items(items).iterrows():
            show_item(workspace, user, row)
    show_history(items[items["status"] != "open"])


main()
