"""Plan versions: every saved plan with its lineage and status, two versions side by side,
meeting mode, submitting for approval, and publishing to the CRM outbox."""

from __future__ import annotations

import html
import os
import time

import pandas as pd
import streamlit as st

from planning.access.policy import Action
from planning.approvals import submit_version, submitted_message
from planning.background import current_task, forget_task
from planning.compare import (
    changed_accounts_table,
    changed_quotas_table,
    compare_versions,
    comparison_figures,
    describe_changes,
    kpi_cards,
    report_html,
)
from planning.csv_safety import spreadsheet_csv
from planning.versions import lineage, list_versions, tag_version, version_labels
from planning.writeback import (
    PUBLISH_TASK,
    data_loader_csv,
    deliver_webhook,
    named_preview,
    outbox,
    publish_in_background,
)
from views.common import allowed, current_workspace, require_page, show_failure

CHART_CONFIG = {"displaylogo": False}
CHANGE_HEADERS = {"object": "Object", "record_id": "Record", "field": "Field",
                  "old_value": "Now in the CRM", "new_value": "New value",
                  "queued": "Already queued", "sequence": "#", "batch_id": "Batch",
                  "status": "Status", "attempts": "Attempts", "last_error": "Last error",
                  "delivered_at": "Delivered (UTC)", "record_name": "Name",
                  "field_name": "What changes", "old_name": "Now (name)",
                  "new_name": "New (name)"}
KIND_NAMES = {"quota": "Quota plans", "territory": "Territory plans"}
WEBHOOK_URL = "REVPLAN_WEBHOOK_URL"
WEBHOOK_SECRET = "REVPLAN_WEBHOOK_SECRET"
MEETING_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stToolbar"], header {display: none !important;}
.stMainBlockContainer {max-width: 100% !important; padding-top: 1rem !important;}
html, body, [data-testid="stMarkdownContainer"] p {font-size: 1.35rem !important;}
.meeting-summary {font-size: 1.9rem; line-height: 1.35; margin: 0.4rem 0 1.2rem 0;}
.meeting-cards {display: grid; grid-template-columns: repeat(3, 1fr); gap: 1rem;}
.meeting-card {border: 1px solid #ccd; border-radius: 0.6rem; padding: 0.8rem 1.1rem;}
.meeting-card .label {font-size: 1.25rem; color: #444; white-space: normal;}
.meeting-card .value {font-size: 3.2rem; font-weight: 700; line-height: 1.15;}
.meeting-card .delta {font-size: 1.45rem; color: #555;}
[data-testid="stDataFrame"] {font-size: 1.2rem;}
</style>"""

user = require_page("versions")
workspace = current_workspace()
params = st.query_params
meeting = params.get("meeting") == "1"


def show_comparison(a_id: str, b_id: str, *, read_only: bool) -> None:
    """KPI cards side by side, the chart, the changes and the exports."""
    comparison = compare_versions(workspace, a_id, b_id)
    a, b = comparison.a, comparison.b
    st.subheader(f"{a.name} (A) → {b.name} (B)")
    summary = describe_changes(comparison)
    cards = kpi_cards(comparison)
    if read_only:
        st.caption(f"A: {a.status}, saved {a.created_at:%d %b %Y} by {a.author}  |  "
                   f"B: {b.status}, saved {b.created_at:%d %b %Y} by {b.author}")
        st.html(meeting_cards(summary, cards))
    else:
        st.caption(f"A {a.version_id} · {a.status} · hash {a.content_hash[:12]}  |  "
                   f"B {b.version_id} · {b.status} · hash {b.content_hash[:12]}")
        st.info(summary, icon=":material/summarize:")
        for start in range(0, len(cards), 3):
            columns = st.columns(3)
            for column, card in zip(columns, cards[start:start + 3], strict=False):
                column.metric(card.label, card.value, delta=card.delta, border=True,
                              help=card.help, delta_color="off")
    for figure in comparison_figures(comparison):
        st.plotly_chart(figure, config=CHART_CONFIG, width="stretch")
    items = comparison.items
    if a.kind == "territory":
        changed = changed_accounts_table(comparison)
        st.markdown(f"**Accounts with a different rep: {len(changed):,}**")
    else:
        threshold = 10 if read_only else st.slider("Show reps whose quota moved more than (%)",
                                                   0, 100, 10, key="compare_threshold")
        changed = changed_quotas_table(comparison, threshold / 100)
        st.markdown(f"**Reps whose quota moved more than {threshold}%: {len(changed):,}**")
    id_column = "Account id" if a.kind == "territory" else "Rep id"
    st.dataframe(changed.drop(columns=[id_column]) if read_only else changed,
                 hide_index=True, width="stretch")
    if not read_only:
        left, right = st.columns(2)
        left.download_button("Download the comparison (CSV)", spreadsheet_csv(items),
                             file_name=f"{a.version_id}-vs-{b.version_id}.csv",
                             mime="text/csv", icon=":material/download:")
        right.download_button("Download the report (HTML, works offline)",
                              report_html(comparison),
                              file_name=f"{a.version_id}-vs-{b.version_id}.html",
                              mime="text/html", icon=":material/description:")
        st.markdown("**Copy meeting link** (opens this comparison full screen, read only; "
                    "use the copy icon at the right of the link)")
        st.code(meeting_link(a.version_id, b.version_id), language=None)


def meeting_link(a_id: str, b_id: str) -> str:
    """The full address of this page in meeting mode for versions `a_id` and `b_id`."""
    page = str(st.context.url or "").split("?")[0]
    return f"{page}?a={a_id}&b={b_id}&meeting=1"


def meeting_cards(summary: str, cards: list) -> str:
    """The summary and KPI cards as large HTML for a projector: values bigger than labels,
    labels wrapping instead of being cut off."""
    tiles = "".join(
        f'<div class="meeting-card"><div class="label">{html.escape(card.label)}</div>'
        f'<div class="value">{html.escape(card.value)}</div>'
        f'<div class="delta">{html.escape(card.delta or "")}</div></div>' for card in cards)
    return (f'<div class="meeting-summary">{html.escape(summary)}</div>'
            f'<div class="meeting-cards">{tiles}</div>')


def follow_publish() -> None:
    """This person's publish, running in the background: its progress (after a reload too),
    then its outcome once."""
    task = current_task(workspace, user.email, PUBLISH_TASK)
    if task is None:
        return
    if task.running:
        bar = st.progress(task.share, text=task.text or "Publishing…")
        while task.running:
            bar.progress(task.share, text=task.text or "Publishing…")
            time.sleep(0.25)
        bar.empty()
    if task.error is not None:
        show_failure(task.error, "publish the version")
    else:
        result = task.result
        st.success(f"Published: {result.new_items:,} new change(s) in batch "
                   f"{result.batch_id}; {result.already_queued:,} were already queued."
                   if result.batch_id else "Nothing new to send: every change of this "
                   "version is already in the outbox.")
    forget_task(workspace, user.email, PUBLISH_TASK, task.task_id)


def show_publish(version_id: str, status: str) -> None:
    """Dry-run preview, publish, the outbox and its delivery."""
    st.markdown("#### Publish to the CRM")
    changes = named_preview(workspace, version_id)
    queued = int(changes["queued"].sum())
    st.caption(f"Dry run: the version changes {len(changes):,} CRM field(s); {queued:,} of "
               "them are already in the outbox and would not be sent again.")
    st.dataframe(changes.rename(columns=CHANGE_HEADERS), hide_index=True, width="stretch")
    may_publish = allowed(user, Action.PUBLISH_VERSION) and status in ("approved", "published")
    if st.button("Publish", type="primary", icon=":material/publish:", key="version_publish",
                 disabled=not may_publish,
                 help="Only an approved version can be published; RevOps and compensation "
                 "publish."):
        publish_in_background(workspace, version_id, user)
    follow_publish()
    items = outbox(workspace)
    if items.empty:
        return
    st.markdown("#### Outbox")
    st.dataframe(items[["sequence", "batch_id", "object", "record_id", "field", "old_value",
                        "new_value", "status", "attempts", "last_error", "delivered_at"]]
                 .rename(columns=CHANGE_HEADERS), hide_index=True, width="stretch")
    latest = items["batch_id"].iloc[-1]
    exportable = (sorted(items.loc[items["batch_id"] == latest, "object"].unique())
                  if allowed(user, Action.EXPORT_WRITEBACK) else [])
    for object_name in exportable:
        st.download_button(f"Data Loader file: {object_name} ({latest})",
                           data_loader_csv(workspace, latest, object_name, user),
                           file_name=f"{latest}-{object_name}.csv", mime="text/csv",
                           key=f"csv_{object_name}")
    url, secret = os.environ.get(WEBHOOK_URL), os.environ.get(WEBHOOK_SECRET, "")
    if url and allowed(user, Action.EXPORT_WRITEBACK) and st.button(
            "Deliver pending items to the webhook", icon=":material/send:"):
        try:
            with st.spinner("Delivering…"):
                report = deliver_webhook(workspace, url, secret, user=user)
            st.info(report.to_text())
        except Exception as exc:  # noqa: BLE001 - shown in words
            show_failure(exc, "deliver the outbox")


if meeting and params.get("a") and params.get("b"):
    st.markdown(MEETING_CSS, unsafe_allow_html=True)
    try:
        show_comparison(params["a"], params["b"], read_only=True)
    except Exception as exc:  # noqa: BLE001 - shown in words
        show_failure(exc, "show the comparison")
    st.stop()

st.title("Plan versions")
st.caption("Every saved territory and quota plan is an immutable version with a content hash. "
           "Compare any two, present them in meeting mode, submit one for approval, and "
           "publish an approved one to the CRM.")
kind = st.segmented_control("Kind", list(KIND_NAMES), format_func=KIND_NAMES.get,
                            default=params.get("kind", "quota"), key="versions_kind") or "quota"
versions = list_versions(workspace, kind)
if versions.empty:
    st.info("No version of this kind yet: save a scenario on the Territory design or Quota "
            "design page.")
    st.stop()
labels = version_labels(versions)
st.dataframe(pd.DataFrame({
    "Version": versions["name"], "Status": versions["status"],
    "Tags": versions["tags"].map(lambda t: ", ".join(t)),
    "Revises": versions["parent_id"].map(
        dict(zip(versions["version_id"], versions["name"], strict=True))),
    "Author": versions["author"],
    "Saved (UTC)": versions["created_at"], "Hash": versions["content_hash"].str[:12],
    "Id": versions["version_id"]}), hide_index=True, width="stretch")

compare_tab, detail_tab = st.tabs(["Compare", "Version detail"])
with compare_tab:
    ids = list(labels)
    left, right = st.columns(2)
    a_id = left.selectbox("A", ids, index=ids.index(params["a"]) if params.get("a") in ids
                          else min(1, len(ids) - 1), format_func=labels.get, key="compare_a")
    b_id = right.selectbox("B", ids, index=ids.index(params["b"]) if params.get("b") in ids
                           else 0, format_func=labels.get, key="compare_b")
    if a_id == b_id:
        st.info("Pick two different versions to compare.")
    else:
        try:
            show_comparison(a_id, b_id, read_only=False)
        except Exception as exc:  # noqa: BLE001 - shown in words
            show_failure(exc, "compare the versions")
with detail_tab:
    version_id = st.selectbox("Version", list(labels), format_func=labels.get,
                              key="detail_version")
    row = versions.set_index("version_id").loc[version_id]
    st.caption("Lineage (newest first): " + " ← ".join(lineage(workspace, version_id)))
    st.caption(f"Content hash {row['content_hash']}")
    if allowed(user, Action.SUBMIT_VERSION):
        left, right = st.columns(2)
        if left.button("Submit for approval", icon=":material/send:", key="version_submit",
                       disabled=row["status"] not in ("draft", "changes_requested")):
            try:
                request_id = submit_version(workspace, version_id, user)
                st.success(f"{submitted_message(workspace, request_id)} Request {request_id} "
                           "is on the Approvals page.")
            except Exception as exc:  # noqa: BLE001 - shown in words
                show_failure(exc, "submit the version")
        with right.form("version_tag"):
            tag = st.text_input("Tag", placeholder="FY27 plan of record")
            if st.form_submit_button("Add tag"):
                try:
                    tag_version(workspace, version_id, tag, user=user)
                    st.rerun()
                except Exception as exc:  # noqa: BLE001 - shown in words
                    show_failure(exc, "tag the version")
    try:
        show_publish(version_id, str(row["status"]))
    except Exception as exc:  # noqa: BLE001 - shown in words
        show_failure(exc, "prepare the publish")
