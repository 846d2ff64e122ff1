"""The Import CRM data page, run with AppTest against real workspaces."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from planning.ingest import import_files
from planning.store import Workspace, open_workspace
from tests.views.test_pages import workspace_admin
from views.common import USER_KEY, WORKSPACE_KEY

PAGE = Path(__file__).resolve().parents[2] / "views" / "import_data.py"
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def run_page(workspace: Workspace, run_id: int | None = None) -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=30)
    app.session_state[WORKSPACE_KEY] = workspace.name
    app.session_state[USER_KEY] = workspace_admin(workspace)
    if run_id is not None:
        app.session_state["import_run_id"] = run_id
    return app.run()


def test_empty_workspace_shows_the_uploaders_and_no_runs(workspace: Workspace) -> None:
    app = run_page(workspace)

    assert not app.exception and not app.error
    assert app.title[0].value == "Import CRM data"
    assert [b.label for b in app.button] == ["Create workspace", "Import"]
    assert app.button[1].disabled
    assert [i.value for i in app.info] == ["No imports have run in this workspace yet."]
    assert not app.metric


def test_a_run_shows_counts_rejects_and_history(workspace: Workspace) -> None:
    first = import_files(workspace, [SAMPLES / "salesforce" / "User.csv",
                                     SAMPLES / "salesforce" / "Account.csv"])
    second = import_files(workspace, [SAMPLES / "bad" / "Opportunity_bad_rows.csv"])

    app = run_page(workspace, second.run_id)

    assert not app.exception and not app.error
    assert {m.label: m.value for m in app.metric} == {
        "Read": "26", "Inserted": "6", "Updated": "0", "Unchanged": "0", "Rejected": "20"}
    assert [s.value for s in app.subheader] == [f"Import run {second.run_id}",
                                                "Recent import runs"]
    files, reasons, rejects, runs = (d.value for d in app.dataframe)
    assert files["file"].tolist() == ["Opportunity_bad_rows.csv"]
    assert len(reasons) == 20 and reasons["rows"].sum() == 20
    assert len(rejects) == 20 and "raw_json" not in rejects.columns
    assert rejects["line"].tolist() == list(range(7, 27))
    assert runs["run_id"].tolist() == [second.run_id, first.run_id]
    assert [b.label for b in app.get("download_button")] == ["Download rejected rows (CSV)"]


def test_an_admin_creates_a_workspace_and_switches_to_it(workspace: Workspace) -> None:
    app = run_page(workspace)
    app.text_input(key="new_workspace_name").input("acme")
    app.text_input(key="new_workspace_currency").input("EUR")
    app.button[0].click().run()

    assert not app.exception and not app.error
    assert app.session_state[WORKSPACE_KEY] == "acme"
    assert "created and opened" in app.success[0].value
    created = open_workspace("acme")
    assert created.read(lambda cur: cur.execute(
        "SELECT value FROM workspace_settings WHERE key = 'currency'").fetchone()[0]) == "EUR"

    app.text_input(key="new_workspace_name").input("acme")
    app.button[0].click().run()
    assert not app.exception
    assert "already exists" in app.error[0].value
