"""Import CRM data: upload CSV exports (and optionally a mapping file), import, review the run."""

from __future__ import annotations

import streamlit as st

from auth.policy import AccessDeniedError
from planning.ingest import ImportSummary, import_uploads, recent_runs, run_rejects, run_summary
from planning.store import Workspace
from planning.telemetry import timed
from views.common import current_workspace, require_page, show_failure

RUN_KEY = "import_run_id"
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
    if not totals.rejected:
        return
    st.markdown("**Rejected rows by reason** (a row can fail for more than one reason)")
    st.dataframe(summary.reasons_frame(), hide_index=True)
    rejects = run_rejects(workspace, summary.run_id)
    shown = rejects.drop(columns=["raw_json"]).head(REJECTS_SHOWN)
    if len(rejects) > REJECTS_SHOWN:
        st.caption(f"Showing the first {REJECTS_SHOWN:,} of {len(rejects):,} rejected cells; "
                   "the download has all of them.")
    st.dataframe(shown, hide_index=True)
    st.download_button("Download rejected rows (CSV)", data=rejects.to_csv(index=False),
                       file_name=f"import-run-{summary.run_id}-rejects.csv", mime="text/csv")


user = require_page("import")
st.title("Import CRM data")
st.caption("Salesforce exports (User, Account, Opportunity, OpportunityFieldHistory) and HubSpot "
           "exports (deals, companies) are recognised from their header row. For any other "
           "CRM, add a column-mapping file (TOML; see docs/IMPORT.md). Valid rows are added or "
           "updated by CRM id in one transaction; rejected rows are kept with file, line, "
           "column and reason.")
workspace = current_workspace()

uploads = st.file_uploader("CRM export files (CSV)", type=["csv"], accept_multiple_files=True,
                           key="import_files")
mapping = st.file_uploader("Column mapping (TOML, optional)", type=["toml"],
                           key="import_mapping")
if st.button("Import", type="primary", disabled=not uploads):
    bar = st.progress(0.0, text="Starting the import")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    with timed(workspace, "import", "import_uploads", user.email) as event:
        try:
            result = import_uploads(
                workspace, [(item.name, item.getvalue()) for item in uploads or []],
                mapping=(mapping.name, mapping.getvalue()) if mapping is not None else None,
                actor=user, progress=report,
            )
        except Exception as exc:  # noqa: BLE001 - shown in words; import_uploads logs details
            event.outcome = "refused" if isinstance(exc, AccessDeniedError) else "error"
            bar.empty()
            show_failure(exc, "import the files")
        else:
            event.detail = {"rows": result.totals.read, "rejected": result.totals.rejected,
                            "files": len(result.files)}
            st.session_state[RUN_KEY] = result.run_id

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
