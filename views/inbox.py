"""Inbox (everyone): the items addressed to the signed-in person, such as deal risk alerts for
their team, to act on or dismiss with a note, and the ones already resolved."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from auth.users import User
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.pipeline.exceptions import inbox, resolve_item
from planning.store import Workspace
from views.common import current_workspace, require_page, show_failure

logger = logging.getLogger(__name__)

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
        if not isinstance(exc, RevPlanError):
            logger.exception("Resolving inbox item %s failed", item_id)
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
        parts.append(f"{row['win_probability']:.0%} win probability")
    parts.append(f"raised {row['created_at']:%d %b %Y, %H:%M} UTC")
    return " · ".join(parts)


def show_item(workspace: Workspace, user: User, row: pd.Series) -> None:
    """One open item with its recommendation, a note and the two answers."""
    item_id = int(row["item_id"])
    with st.container(border=True):
        st.markdown(f"**{markdown_text(row['title'])}**")
        st.caption(markdown_text(facts_text(row)))
        if isinstance(row["recommendation"], str):
            st.markdown(f"Recommendation: {markdown_text(row['recommendation'])}")
        if row["reasons"]:
            st.caption(markdown_text("What the model sees: " + "; ".join(row["reasons"]) + "."))
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


def main() -> None:
    """Draw the Inbox page for the signed-in person."""
    user = require_page("inbox")
    workspace = current_workspace()
    st.title("Inbox")
    show_feedback()
    try:
        items = inbox(workspace, user)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        if not isinstance(exc, RevPlanError):
            logger.exception("Reading the inbox of %s failed", user.email)
        show_failure(exc, "read your inbox")
        return
    waiting = items[items["status"] == "open"]
    st.caption(f"{len(waiting):,} open item{'' if len(waiting) == 1 else 's'} addressed to "
               f"{user.email}. Deal risk alerts go to the deal owner's manager.")
    if waiting.empty:
        st.info("Nothing needs your attention: no open items are addressed to you.")
    for _, row in waiting.iterrows():
        show_item(workspace, user, row)
    show_history(items[items["status"] != "open"])


main()
