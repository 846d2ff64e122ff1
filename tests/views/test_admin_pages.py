"""The Admin pages (Access, Audit trail, Telemetry, Import) driven through their widgets."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from planning.access.membership import grant_roles, members
from planning.access.policy import system_principal
from planning.access.roles import Role
from planning.audit import audit_events
from planning.store import Workspace
from planning.telemetry import record_event, usage_report
from tests.views.test_pages import (
    chart_specs,
    demo_user,
    member_emails,
    metric_values,
    page_app,
    workspace_admin,
)
from views.registry import page_by_path

NEWCOMER = "nina.new@example.com"
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def open_page(path: str, workspace: Workspace, role: Role) -> AppTest:
    """Run a page as the demo member holding `role`."""
    return page_app(page_by_path(path), demo_user(workspace, role)).run()


def table(app: AppTest, first_column: str) -> pd.DataFrame:
    """The one dataframe on the page whose first column is `first_column`."""
    frames = [d.value for d in app.dataframe if d.value.columns[0] == first_column]
    assert len(frames) == 1, [list(d.value.columns) for d in app.dataframe]
    return frames[0]


def user_table(app: AppTest) -> pd.DataFrame:
    """The Telemetry page's usage-per-user table."""
    return next(d.value for d in app.dataframe if "page_views" in d.value.columns)


def page_table(app: AppTest) -> pd.DataFrame:
    """The Telemetry page's page-views-per-user-and-page table."""
    return next(d.value for d in app.dataframe if "page" in d.value.columns)


def test_access_lists_every_member_with_their_crm_person(demo_copy: Workspace) -> None:
    app = open_page("views/access.py", demo_copy, Role.ADMIN)

    assert not app.exception and not app.error
    shown = table(app, "email")
    by_role = member_emails(demo_copy)
    assert sorted(shown["email"]) == sorted(by_role.values())
    manager = shown.set_index("email").loc[by_role[Role.MANAGER]]
    assert manager["roles"] == "manager"
    assert manager["rep_id"] == demo_user(demo_copy, Role.MANAGER).rep_id
    assert "[revplan.group_roles]" in app.caption[0].value


def test_access_grants_roles_through_the_form(demo_copy: Workspace) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    app = open_page("views/access.py", demo_copy, Role.ADMIN)

    app.text_input(key="grant_email_new").input(NEWCOMER.upper())
    app.text_input(key="grant_name_new").input("Nina New")
    app.multiselect(key="grant_roles_new").set_value([Role.FINANCE, Role.VIEWER])
    app.text_input(key="grant_reason_new").input("Joins the FP&A team")
    app.button(key="grant_new_go").click().run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    assert [s.value for s in app.success] == [f"{NEWCOMER} now holds: finance, viewer."]
    row = table(app, "email").set_index("email").loc[NEWCOMER]
    assert row["roles"] == "finance, viewer"
    assert row["display_name"] == "Nina New"
    assert row["granted_by"] == admin.email
    events = audit_events(demo_copy, system_principal(demo_copy.name), action="access.grant")
    assert events["entity_id"].tolist() == [NEWCOMER]
    event = events.iloc[0]
    assert (event["actor"], event["actor_role"]) == (admin.email, "admin")
    assert event["reason"] == "Joins the FP&A team"
    assert json.loads(event["after_json"]) == {"roles": ["finance", "viewer"]}
    assert app.text_input(key="grant_email_new").value == ""
    assert app.multiselect(key="grant_roles_new").value == []


def test_access_changes_an_existing_members_roles(demo_copy: Workspace) -> None:
    viewer = member_emails(demo_copy)[Role.VIEWER]
    app = open_page("views/access.py", demo_copy, Role.ADMIN)

    app.selectbox(key="grant_whom").set_value(viewer).run()
    assert app.text_input(key=f"grant_email_{viewer}").value == viewer
    assert app.multiselect(key=f"grant_roles_{viewer}").value == [Role.VIEWER]
    app.multiselect(key=f"grant_roles_{viewer}").set_value([Role.CS])
    app.button(key=f"grant_{viewer}_go").click().run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    assert table(app, "email").set_index("email").loc[viewer, "roles"] == "cs"
    events = audit_events(demo_copy, system_principal(demo_copy.name), action="access.change_roles")
    assert json.loads(events.iloc[0]["before_json"]) == {"roles": ["viewer"]}
    assert json.loads(events.iloc[0]["after_json"]) == {"roles": ["cs"]}


def test_access_refuses_a_grant_without_roles(demo_copy: Workspace) -> None:
    app = open_page("views/access.py", demo_copy, Role.ADMIN)

    app.text_input(key="grant_email_new").input(NEWCOMER)
    app.button(key="grant_new_go").click().run()

    assert [e.value for e in app.error] == [
        "Could not grant access: Pick at least one role, or revoke access instead."]
    assert NEWCOMER not in table(app, "email")["email"].tolist()
    assert audit_events(demo_copy, system_principal(demo_copy.name), action="access.grant").empty


def test_access_refuses_to_revoke_the_last_admin(demo_copy: Workspace) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    before_members = members(demo_copy, admin)
    before_events = audit_events(demo_copy, system_principal(demo_copy.name))
    app = open_page("views/access.py", demo_copy, Role.ADMIN)

    app.selectbox(key="revoke_email").set_value(admin.email)
    app.text_input(key="revoke_reason").input("Leaving")
    app.checkbox(key="revoke_confirm").check()
    app.button(key="revoke_go").click().run()

    assert not app.exception
    assert len(app.error) == 1
    assert app.error[0].value == (
        f"Could not revoke access: {admin.email} is the workspace's last admin; make someone "
        "else admin first."
    )
    assert not app.success
    pd.testing.assert_frame_equal(members(demo_copy, admin), before_members)
    pd.testing.assert_frame_equal(audit_events(demo_copy, system_principal(demo_copy.name)),
                                  before_events)


def test_access_revokes_only_after_confirmation(demo_copy: Workspace) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    viewer = member_emails(demo_copy)[Role.VIEWER]
    app = open_page("views/access.py", demo_copy, Role.ADMIN)

    app.selectbox(key="revoke_email").set_value(viewer)
    app.button(key="revoke_go").click().run()
    assert [w.value for w in app.warning] == [
        "Tick the confirmation box to revoke access; nothing was changed."]
    assert viewer in members(demo_copy, admin)["email"].tolist()

    app.checkbox(key="revoke_confirm").check()
    app.button(key="revoke_go").click().run()

    assert not app.exception and not app.error
    assert [s.value for s in app.success] == [f"{viewer} no longer has access to this workspace."]
    assert viewer not in table(app, "email")["email"].tolist()
    assert audit_events(demo_copy, system_principal(demo_copy.name),
                        action="access.revoke")["entity_id"].tolist() == [viewer]


def test_audit_filters_by_action_and_exports_what_it_shows(demo_copy: Workspace) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    for email in ("a@example.com", "b@example.com"):
        grant_roles(demo_copy, admin, email, [Role.VIEWER], reason="pilot")
    revops = demo_user(demo_copy, Role.REVOPS)
    app = open_page("views/audit.py", demo_copy, Role.REVOPS)

    assert not app.exception and not app.error
    everything = table(app, "seq")
    assert everything["seq"].tolist() == [3, 2, 1]
    assert everything["action"].tolist() == ["access.grant", "access.grant",
                                             "workspace.create_demo"]
    assert app.selectbox(key="audit_action").options == ["access.grant", "workspace.create_demo"]

    app.selectbox(key="audit_action").set_value("access.grant").run()

    shown = table(app, "seq")
    assert shown["entity_id"].tolist() == ["b@example.com", "a@example.com"]
    assert set(shown["reason"]) == {"pilot"}
    assert "2 matching events" in app.caption[1].value
    csv = app.download_button(key="audit_download")
    csv.click().run()
    exports = usage_report(demo_copy, system_principal(demo_copy.name)).by_user.set_index("user")
    assert exports.loc[revops.email, "exports"] == 1
    recorded = demo_copy.read(lambda cur: cur.execute(
        "SELECT name, user_email, detail_json FROM telemetry_events WHERE kind = 'export'"
    ).fetchall())
    assert recorded == [("audit_csv", revops.email, '{"rows": 2}')]


def test_audit_verifies_the_chain_and_finds_a_changed_row(demo_copy: Workspace) -> None:
    grant_roles(demo_copy, None, NEWCOMER, [Role.VIEWER])
    app = open_page("views/audit.py", demo_copy, Role.ADMIN)

    app.button(key="audit_verify").click().run()

    assert not app.error
    assert [s.value for s in app.success] == [
        "Audit chain intact: 2 events verified, anchored through event #2."]

    demo_copy.write(
        lambda cur: cur.execute("UPDATE audit_events SET reason = 'x' WHERE seq = 1")
    )
    app.button(key="audit_verify").click().run()

    assert not app.success
    assert len(app.error) == 1
    assert app.error[0].value.startswith(
        "Audit chain BROKEN at event #1: its content does not match its hash (the row was "
        "changed).")


def test_audit_search_text_finds_the_reason(demo_copy: Workspace) -> None:
    grant_roles(demo_copy, None, NEWCOMER, [Role.VIEWER], reason="Quarterly review")
    app = open_page("views/audit.py", demo_copy, Role.ADMIN)

    app.text_input(key="audit_text").input("quarterly").run()

    assert table(app, "seq")["entity_id"].tolist() == [NEWCOMER]
    app.text_input(key="audit_text").input("no such words").run()
    assert not app.dataframe
    assert [i.value for i in app.info] == [
        "No audit events match these filters. Widen the dates or clear a filter."]


def test_telemetry_shows_recorded_page_views(demo_copy: Workspace) -> None:
    viewer = member_emails(demo_copy)[Role.VIEWER]
    record_event(demo_copy, "page_view", "home", user_email=viewer, duration_ms=120.0)
    record_event(demo_copy, "page_view", "home", user_email=viewer, duration_ms=80.0)
    record_event(demo_copy, "page_view", "audit", user_email=viewer, duration_ms=2_500.0)

    app = open_page("views/telemetry.py", demo_copy, Role.REVOPS)

    assert not app.exception and not app.error
    users = user_table(app).set_index("user")
    assert users.loc[viewer, "page_views"] == 3
    pages = page_table(app)
    assert pages[["user", "page", "views", "median_ms"]].values.tolist() == [
        [viewer, "Home", 2, 100], [viewer, "Audit trail", 1, 2_500]]
    slowest = table(app, "occurred_at")
    assert slowest["duration_ms"].tolist() == [2_500.0, 120.0, 80.0]
    views, daily = chart_specs(app)
    assert views["data"][0]["y"] == ["Home", "Audit trail"]
    assert views["data"][0]["x"] == [2, 1]
    assert views["layout"]["xaxis"]["title"]["text"] == "Page views"
    assert views["layout"]["yaxis"]["title"]["text"] == "Page"
    assert [bar["name"] for bar in daily["data"]] == ["page view"]
    assert sum(daily["data"][0]["y"]) == 3
    assert daily["layout"]["yaxis"]["title"]["text"] == "Events"


def test_telemetry_explains_an_empty_period(demo_copy: Workspace) -> None:
    app = open_page("views/telemetry.py", demo_copy, Role.ADMIN)

    assert not app.exception and not app.error
    assert not app.dataframe and not app.get("plotly_chart")
    assert len(app.info) == 4
    assert app.info[0].value.startswith("Nobody used this workspace in the last 30 days")

    app.button_group[0].set_value(7).run()
    assert app.info[0].value.startswith("Nobody used this workspace in the last 7 days")


def telemetry_rows(workspace: Workspace, kind: str) -> list[tuple]:
    """(name, user, outcome, detail JSON) of every telemetry event of one kind."""
    return workspace.read(lambda cur: cur.execute(
        "SELECT name, user_email, outcome, detail_json FROM telemetry_events WHERE kind = ? "
        "ORDER BY event_id", [kind],
    ).fetchall())


def test_import_runs_as_the_user_and_is_timed(workspace: Workspace) -> None:
    """The run, its audit event and its telemetry name the signed-in user."""
    admin = workspace_admin(workspace)
    app = page_app(page_by_path("views/import_data.py"), admin).run()

    app.file_uploader(key="import_files").upload(
        "User.csv", (SAMPLES / "salesforce" / "User.csv").read_bytes(), "text/csv")
    app.run()
    app.button(key="import_go").click().run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    read = int(metric_values(app)["Read"])
    assert read > 0
    run = audit_events(workspace, system_principal(workspace.name), action="import.run").iloc[0]
    assert (run["actor"], run["actor_role"]) == (admin.email, "admin")
    assert any(f"by {admin.email}" in caption.value for caption in app.caption)
    assert telemetry_rows(workspace, "import") == [
        ("import_uploads", admin.email, "ok", json.dumps({"files": 1, "rejected": 0, "rows": read}))
    ]


def test_a_failed_import_is_shown_and_recorded_as_an_error(workspace: Workspace) -> None:
    admin = workspace_admin(workspace)
    app = page_app(page_by_path("views/import_data.py"), admin).run()

    app.file_uploader(key="import_files").upload("notes.csv", b"", "text/csv")
    app.run()
    app.button(key="import_go").click().run()

    assert not app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith("Could not import the files: ")
    assert audit_events(workspace, system_principal(workspace.name), action="import.run").empty
    assert telemetry_rows(workspace, "import") == [
        ("import_uploads", admin.email, "error", None)]
