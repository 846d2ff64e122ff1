"""Versions people can tell apart, through AppTest: the save field suggests an unused name,
a repeated plan or name is refused in one line naming the existing version, every picker
shows name, author, saved time, status and short hash, and submit acts on the id picked."""

from __future__ import annotations

from planning.access.roles import Role
from planning.access.users import User
from planning.quota.model import QuotaScenario, solve_quotas
from planning.quota.workspace import quota_inputs, save_quota_scenario
from planning.store import Workspace
from planning.versions import list_versions
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import demo_user, page_app, run_page
from views.registry import page_by_path

QUOTA = page_by_path("views/quota.py")
VERSIONS = page_by_path("views/versions.py")
TARGET_CENTS = 4_000_000_000


def same_target_versions(workspace: Workspace, author: User) -> tuple[str, str]:
    """Two quota versions of one target: the plain allocation, then one with an override."""
    inputs = quota_inputs(workspace, today=DEMO_AS_OF)
    plain = solve_quotas(inputs.reps, QuotaScenario(target_cents=TARGET_CENTS,
                                                    seasonality=inputs.seasonality))
    first = save_quota_scenario(workspace, inputs, plain, "FY27 quotas $40M", user=author)
    overridden = solve_quotas(inputs.reps, QuotaScenario(
        target_cents=TARGET_CENTS, seasonality=inputs.seasonality,
        overrides={inputs.reps["rep_id"].iloc[0]: 100_000_000}))
    second = save_quota_scenario(workspace, inputs, overridden, "FY27 quotas $40M with override",
                                 user=author)
    return first, second


def expected_label(workspace: Workspace, version_id: str) -> str:
    row = list_versions(workspace, "quota").set_index("version_id").loc[version_id]
    return (f"{row['name']} · {row['author']} · {row['created_at']:%d %b %Y %H:%M} UTC · "
            f"{row['status']} · #{row['content_hash'][:8]}")


def test_pickers_label_versions_and_submit_acts_on_the_id_picked(demo_copy: Workspace) -> None:
    comp = demo_user(demo_copy, Role.COMP)
    first, second = same_target_versions(demo_copy, comp)
    labels = {expected_label(demo_copy, v) for v in (first, second)}

    app = run_page(VERSIONS, comp)
    assert not app.exception, [e.value for e in app.exception]
    for key in ("compare_a", "compare_b", "detail_version"):
        picker = app.selectbox(key=key)
        assert set(picker.options) == labels, key
        assert all(comp.email in o and " UTC · draft · #" in o for o in picker.options)

    listing = app.dataframe[0].value
    assert list(listing["Version"]) == ["FY27 quotas $40M with override", "FY27 quotas $40M"]
    assert listing["Revises"].isna().all() and (listing["Author"] == comp.email).all()

    app.selectbox(key="detail_version").set_value(second)
    app = app.run()
    app = app.button(key="version_submit").click().run(timeout=60)
    assert not app.exception and not app.error, [e.value for e in app.error]
    second_hash = list_versions(demo_copy, "quota").set_index("version_id").loc[
        second, "content_hash"][:8]
    assert any(s.value.startswith(f"Submitted FY27 quotas $40M with override (#{second_hash})")
               for s in app.success), [s.value for s in app.success]
    submitted = demo_copy.read(lambda cur: cur.execute(
        "SELECT version_id FROM approval_requests").fetchall())
    assert submitted == [(second,)]
    statuses = dict(list_versions(demo_copy, "quota")[["version_id", "status"]].itertuples(
        index=False, name=None))
    assert statuses == {first: "draft", second: "submitted"}


def test_the_save_field_suggests_a_free_name_and_repeats_are_refused(
    demo_copy: Workspace,
) -> None:
    finance = demo_user(demo_copy, Role.FINANCE)
    app = page_app(QUOTA, finance).run()
    app.number_input[0].set_value(TARGET_CENTS / 100)
    app.text_input[0].set_value("FY27 growth")
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    name_field = [t for t in app.text_input if t.label == "Version name"][0]
    assert name_field.value == "FY27 growth"
    app = app.button(key="quota_save").click().run(timeout=60)
    assert not app.exception and not app.error, [e.value for e in app.error]
    (first,) = list_versions(demo_copy, "quota")["version_id"]
    assert any("FY27 growth" in s.value and first in s.value for s in app.success)

    app = app.run()
    name_field = [t for t in app.text_input if t.label == "Version name"][0]
    assert name_field.value == "FY27 growth (2)"
    parent = [s for s in app.selectbox if s.label == "Revises version (optional)"][0]
    assert expected_label(demo_copy, first) in parent.options
    app = app.button(key="quota_save").click().run(timeout=60)
    assert len(app.error) == 1
    refusal = app.error[0].value
    assert "already saved as version" in refusal and '"FY27 growth"' in refusal
    assert finance.email in refusal and first in refusal and "\n" not in refusal

    [n for n in app.number_input if n.label == "New annual quota (USD)"][0].set_value(50_000.0)
    [t for t in app.text_input if t.label.startswith("Reason")][0].set_value(
        "New rep still ramping")
    app = [b for b in app.button if b.label == "Apply override"][0].click().run(timeout=60)
    assert not app.error, [e.value for e in app.error]
    [t for t in app.text_input if t.label == "Version name"][0].set_value("  fy27   GROWTH ")
    app = app.button(key="quota_save").click().run(timeout=60)
    assert len(app.error) == 1
    refusal = app.error[0].value
    assert "already named" in refusal and '"FY27 growth"' in refusal and first in refusal
    assert list(list_versions(demo_copy, "quota")["version_id"]) == [first]
