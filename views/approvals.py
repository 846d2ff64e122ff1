"""Approvals: versions waiting for my decision, what I submitted, and every request's history."""

from __future__ import annotations

import streamlit as st

from planning.approvals import decide, requests, waiting_for
from views.common import current_workspace, require_page, show_failure

DECISION_WORDS = {"approved": "Approve", "changes_requested": "Request changes",
                  "rejected": "Reject"}

user = require_page("approvals")
workspace = current_workspace()

st.title("Approvals")
st.caption("Versions are routed by the workspace's approval policy. Approving approves the "
           "version's content hash; nobody decides their own submission or two steps of one "
           "request.")

mine, submitted, history = st.tabs(["Waiting for me", "Submitted by me", "History"])
with mine:
    waiting = waiting_for(workspace, user)
    if waiting.empty:
        st.info("Nothing is waiting for your decision.")
    for row in waiting.itertuples():
        key = f"{row.request_id}_{row.step_no}"
        with st.container(border=True):
            st.markdown(f"**{row.name}** ({row.kind}) · step {row.step_no}: **{row.role}** "
                        f"· submitted by {row.submitted_by} on {row.submitted_at:%d %b %H:%M}")
            st.caption(f"Why: {row.reason}. Policy version {row.policy_version}; approving "
                       f"approves content hash {row.content_hash[:12]}. Version "
                       f"{row.version_id}.")
            with st.form(f"decide_{key}"):
                choice = st.radio("Decision", list(DECISION_WORDS), format_func=
                                  DECISION_WORDS.get, horizontal=True, key=f"choice_{key}")
                comment = st.text_input("Comment (required to reject or request changes)",
                                        key=f"comment_{key}")
                if st.form_submit_button("Record decision", type="primary"):
                    try:
                        status = decide(workspace, row.request_id, int(row.step_no), user,
                                        choice, comment)
                        st.success(f"Recorded. The request is now {status}.")
                    except Exception as exc:  # noqa: BLE001 - shown in words
                        show_failure(exc, "record the decision")
with submitted:
    rows = requests(workspace, submitted_by=user.email)
    if rows.empty:
        st.info("You have submitted nothing for approval.")
    else:
        st.dataframe(rows, hide_index=True, width="stretch")
with history:
    rows = requests(workspace)
    if rows.empty:
        st.info("No approval requests yet.")
    else:
        st.dataframe(rows, hide_index=True, width="stretch")
