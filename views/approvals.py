"""Approvals: versions waiting for my decision, what I submitted, and every request's history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from planning.approvals import (
    ApproverSummary,
    approver_summary,
    biggest_changes_table,
    decide,
    requests,
    waiting_for,
    withdraw_request,
)
from planning.health.plays import CATALOGUE, plays_waiting_for
from planning.overview import format_money
from views.common import current_workspace, require_page, show_failure

DECISION_WORDS = {"approved": "Approve", "changes_requested": "Request changes",
                  "rejected": "Reject"}

user = require_page("approvals")
workspace = current_workspace()

st.title("Approvals")
st.caption("Versions are routed by the workspace's approval policy. Approving approves the "
           "version's content hash; nobody decides their own submission or two steps of one "
           "request.")

REQUEST_HEADERS = {"request_id": "Request", "version_id": "Version id", "kind": "Kind",
                   "name": "Version", "status": "Status", "submitted_by": "Submitted by",
                   "submitted_at": "Submitted (UTC)", "policy_version": "Policy",
                   "steps": "Steps", "waiting_for": "Waiting for"}


def show_summary(summary: ApproverSummary) -> None:
    """What the approver sees before deciding: totals, biggest changes, rule, compare link."""
    st.markdown(f"**Why you are asked:** {summary.rule}.")
    st.caption(summary.baseline_text)
    if summary.change_summary:
        st.markdown(summary.change_summary)
    columns = st.columns(len(summary.totals))
    for column, figure in zip(columns, summary.totals, strict=True):
        column.metric(figure.label, figure.value, delta=figure.change, delta_color="off",
                      help=None if figure.baseline is None else f"Published: {figure.baseline}",
                      border=True)
    changes = biggest_changes_table(summary)
    st.markdown(f"**The {len(changes)} biggest changes**" if len(changes)
                else "**No change against the baseline.**")
    if len(changes):
        st.dataframe(changes, hide_index=True, width="stretch")
    if summary.compare_query:
        st.markdown(f"[Open the full compare](versions{summary.compare_query}"
                    f"&kind={summary.kind})")


def concession_text(row) -> str:
    """The concession a save play asks, in words ("15% of ARR", "$25K"); empty for none."""
    parts = []
    if pd.notna(row.concession_pct):
        parts.append(f"{row.concession_pct:g}% of ARR")
    if pd.notna(row.concession_cents):
        parts.append(format_money(int(row.concession_cents)))
    return " and ".join(parts)


def show_play_steps(plays: pd.DataFrame) -> None:
    """Save plays waiting for my decision: the account, the concession, why, and the form."""
    for row in plays.itertuples():
        key = f"{row.request_id}_{row.step_no}"
        name = CATALOGUE[row.play].name if row.play in CATALOGUE else row.play
        with st.container(border=True):
            st.markdown(f"**{name}** save play on **{row.account_name}** · step {row.step_no}: "
                        f"**{row.role}** · started by {row.submitted_by} on "
                        f"{row.submitted_at:%d %b %H:%M}")
            asked, arr = concession_text(row), format_money(int(row.arr_cents))
            terms = (f"Concession {asked} of {arr} renewing" if asked
                     else f"No concession on the {arr} renewing")
            st.caption(f"Why: {row.reason}. {terms} (CRM id {row.account_id}). Approving "
                       "approves the play's terms; its tasks open when every step has "
                       "approved.")
            decision_form(key, row.request_id, int(row.step_no))


def decision_form(key: str, request_id: str, step_no: int) -> None:
    """Approve, reject or request changes on one step, with the comment a refusal needs."""
    with st.form(f"decide_{key}"):
        choice = st.radio("Decision", list(DECISION_WORDS), format_func=DECISION_WORDS.get,
                          horizontal=True, key=f"choice_{key}")
        comment = st.text_input("Comment (required to reject or request changes)",
                                key=f"comment_{key}")
        if st.form_submit_button("Record decision", type="primary"):
            try:
                status = decide(workspace, request_id, step_no, user, choice, comment)
                st.success(f"Recorded. The request is now {status}.")
            except Exception as exc:  # noqa: BLE001 - shown in words
                show_failure(exc, "record the decision")


mine, submitted, history = st.tabs(["Waiting for me", "Submitted by me", "History"])
with mine:
    waiting = waiting_for(workspace, user)
    plays_waiting = plays_waiting_for(workspace, user)
    if waiting.empty and plays_waiting.empty:
        st.info("Nothing is waiting for your decision.")
    show_play_steps(plays_waiting)
    for row in waiting.itertuples():
        key = f"{row.request_id}_{row.step_no}"
        with st.container(border=True):
            role = str(row.role).replace("_", " ")
            st.markdown(f"**{row.name}** ({row.kind}) · step {row.step_no}: **{role}** "
                        f"· submitted by {row.submitted_by} on {row.submitted_at:%d %b %H:%M}")
            st.caption(f"Why: {row.reason}. Policy version {row.policy_version}; approving "
                       f"approves content hash {row.content_hash[:12]}. Version "
                       f"{row.version_id}.")
            try:
                show_summary(approver_summary(workspace, row.request_id, int(row.step_no)))
            except Exception as exc:  # noqa: BLE001 - shown in words
                show_failure(exc, "summarise the version")
            decision_form(key, row.request_id, int(row.step_no))
with submitted:
    rows = requests(workspace, submitted_by=user.email)
    if rows.empty:
        st.info("You have submitted nothing for approval.")
    else:
        st.dataframe(rows.rename(columns=REQUEST_HEADERS), hide_index=True, width="stretch")
        open_requests = rows[rows["status"] == "pending"]
        for row in open_requests.itertuples():
            if st.button(f"Withdraw {row.name} ({row.request_id})",
                         key=f"withdraw_{row.request_id}", icon=":material/undo:",
                         help="The version returns to draft and can be submitted again."):
                try:
                    withdraw_request(workspace, row.request_id, user)
                    st.success(f"Withdrawn: {row.name} is a draft again.")
                except Exception as exc:  # noqa: BLE001 - shown in words
                    show_failure(exc, "withdraw the request")
with history:
    rows = requests(workspace)
    if rows.empty:
        st.info("No approval requests yet.")
    else:
        st.dataframe(rows.rename(columns=REQUEST_HEADERS), hide_index=True, width="stretch")
