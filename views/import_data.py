"""Import CRM data: upload CSV exports (and optionally a mapping file), import, review the run."""

from __future__ import annotations

import time

import streamlit as st

from planning.access.policy import Action, can
from planning.access.users import User, canonical_email, same_email
from planning.background import current_task, forget_task
from planning.csv_safety import spreadsheet_csv
from planning.errors import RevPlanError
from planning.ingest import (
    IMPORT_TASK,
    ImportSummary,
    import_in_background,
    recent_runs,
    run_rejects,
    run_summary,
)
from planning.store import Workspace
from planning.workspaces import create_workspace
from views.common import USER_KEY, WORKSPACE_KEY, current_workspace, require_page, show_failure

RUN_KEY = "import_run_id"
CREATED_KEY = "import_workspace_created"
NEW_NAME_KEY = "new_workspace_name"
NEW_ADMIN_KEY = "new_workspace_admin"
NEW_CURRENCY_KEY = "new_workspace_currency"
NEW_MONTH_KEY = "new_workspace_fiscal_start"
REJECTS_SHOWN = 1_000


def show_summary(workspace: Workspace, summary: ImportSummary) -> None:
    """Counts as metrics, then per-file and per-reason tables, then the rejected rows."""
    totals = summary.totals
    st.subheader(f"Import run {summary.run_id}")
    st.caption(f"{summary.started_at:%Y-%m-%d %H:%M:%S} UTC"
               + (f" by {summary.actor}" if summary.actor else "")
               + f" · {summary.status.replace('_', ' ')}")
    labels = [("Read", totals.read), ("Inserted", totals.inserted), ("Updated", totals.updated),
              ("Unchanged", totals.unchanged), ("Rejected", totals.rejected)]
    for column, (label, value) in zip(st.columns(len(labels)), labels, strict=True):
        column.metric(label, f"{value:,}")
    if totals.skipped:
        st.caption(f"{totals.skipped:,} history rows about fields RevPlan does not track were "
                   "skipped.")
    st.dataframe(summary.to_frame(), hide_index=True)
    if summary.fallbacks:
        st.markdown("**Kept through a fallback** (estimated dates are flagged on the deals; "
                    "see docs/IMPORT.md)")
        st.dataframe(summary.fallbacks_frame(), hide_index=True)
    if summary.warnings_by_reason:
        st.markdown("**Kept rows with a warning** (counted as inserted, updated or unchanged)")
        st.dataframe(summary.warnings_frame(), hide_index=True)
    if not totals.rejected and not summary.warnings_by_reason:
        return
    if totals.rejected:
        st.markdown("**Rejected rows by reason** (a row can fail for more than one reason)")
        st.dataframe(summary.reasons_frame(), hide_index=True)
    rejects = run_rejects(workspace, summary.run_id)
    shown = rejects.drop(columns=["raw_json"]).head(REJECTS_SHOWN)
    if len(rejects) > REJECTS_SHOWN:
        st.caption(f"Showing the first {REJECTS_SHOWN:,} of {len(rejects):,} rejected cells "
                   "and warnings (column severity); the download has all of them.")
    st.dataframe(shown, hide_index=True)
    st.download_button("Download rejected rows (CSV)", data=spreadsheet_csv(rejects),
                       file_name=f"import-run-{summary.run_id}-rejects.csv", mime="text/csv")


def create_workspace_from_form() -> None:
    """Create the workspace the form names and switch to it (runs before the page redraws)."""
    form_user = st.session_state[USER_KEY]
    name = st.session_state.get(NEW_NAME_KEY, "").strip()
    try:
        create_workspace(name, st.session_state.get(NEW_ADMIN_KEY, ""), form_user,
                         currency=st.session_state.get(NEW_CURRENCY_KEY, "USD"),
                         fiscal_year_start_month=st.session_state.get(NEW_MONTH_KEY, 1))
    except RevPlanError as exc:
        st.session_state[CREATED_KEY] = ("error", str(exc))
        return
    admin = canonical_email(st.session_state.get(NEW_ADMIN_KEY, ""))
    if not same_email(admin, form_user.email):
        st.session_state[CREATED_KEY] = (
            "success", f"Workspace {name!r} created with {admin} as its admin; they can open "
            "it and import the CRM files.")
        return
    st.session_state[CREATED_KEY] = (
        "success", f"Workspace {name!r} created and opened. Import your CRM files into it below.")
    st.session_state[WORKSPACE_KEY] = name
    st.session_state.pop(RUN_KEY, None)


def create_workspace_form(admin_email: str) -> None:
    """A small form that creates an empty workspace for the company's own CRM data."""
    outcome = st.session_state.pop(CREATED_KEY, None)
    if outcome is not None:
        (st.success if outcome[0] == "success" else st.error)(outcome[1])
    with st.expander("Create a workspace for your own CRM data", expanded=outcome is not None
                     and outcome[0] == "error"), st.form("create_workspace"):
        st.text_input("Workspace name", key=NEW_NAME_KEY,
                      help="Letters, digits, '-' and '_'; it names the workspace's file.")
        st.text_input("First admin (e-mail)", value=admin_email, key=NEW_ADMIN_KEY)
        left, right = st.columns(2)
        left.text_input("Currency", value="USD", max_chars=3, key=NEW_CURRENCY_KEY)
        right.number_input("Fiscal year starts in month", min_value=1, max_value=12,
                           value=1, step=1, key=NEW_MONTH_KEY)
        st.form_submit_button("Create workspace", on_click=create_workspace_from_form)


def follow_import(workspace: Workspace, user: User) -> None:
    """This person's import: its progress while it runs (after a reload too), then its run
    summary below or what went wrong, in words."""
    task = current_task(workspace, user.email, IMPORT_TASK)
    if task is None:
        return
    if task.running:
        bar = st.progress(task.share, text=task.text)
        while task.running:
            bar.progress(task.share, text=task.text)
            time.sleep(0.25)
        bar.empty()
    if task.error is not None:
        show_failure(task.error, "import the files")
    else:
        st.session_state[RUN_KEY] = task.result.run_id
    forget_task(workspace, user.email, IMPORT_TASK, task.task_id)


user = require_page("import")
st.title("Import CRM data")
st.caption("Salesforce exports (User, Account, Opportunity, OpportunityFieldHistory) and HubSpot "
           "exports (deals, companies) are recognised from their header row. For any other "
           "CRM, add a column-mapping file (TOML; see docs/IMPORT.md). Valid rows are added or "
           "updated by CRM id in one transaction; rejected rows are kept with file, line, "
           "column and reason.")
if can(user, Action.MANAGE_ACCESS):
    create_workspace_form(user.email)
workspace = current_workspace()
st.caption(f"Importing into workspace **{workspace.name}**.")

uploads = st.file_uploader("CRM export files (CSV)", type=["csv"], accept_multiple_files=True,
                           key="import_files")
mapping = st.file_uploader("Column mapping (TOML, optional)", type=["toml"],
                           key="import_mapping")
if st.button("Import", type="primary", disabled=not uploads, key="import_go"):
    import_in_background(workspace, user,
                         [(item.name, item.getvalue()) for item in uploads or []],
                         (mapping.name, mapping.getvalue()) if mapping is not None else None)
follow_import(workspace, user)

run_id = st.session_state.get(RUN_KEY)
summary = run_summary(workspace, run_id) if run_id is not None else None
if summary is not None:
    show_summary(workspace, summary)

st.subheader("Recent import runs")
runs = recent_runs(workspace)
if runs.empty:
    st.info("No imports have run in this workspace yet.")
else:
    st.dataframe(runs, hide_index=True)
