"""Importing catalog folders into a workspace: numbered versions, the newest current, every
version readable later, audited once per import, refused without the right."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planning.access.membership import grant_roles
from planning.access.policy import AccessDeniedError, system_principal
from planning.access.roles import Role
from planning.audit import audit_events
from planning.cpq.catalog import CatalogError, load_catalog
from planning.cpq.catalog_versions import (
    catalog_imports,
    current_catalog,
    import_catalog,
    stored_catalog,
)
from planning.store import Workspace
from tests.views.test_pages import signed_in, workspace_admin

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq"


def imports_audited(workspace: Workspace) -> list[dict]:
    events = audit_events(workspace, system_principal(workspace.name), limit=None)
    return events[events["action"] == "cpq.catalog.import"].to_dict("records")


def test_imports_are_numbered_versions_and_the_newest_is_current(
        workspace: Workspace, tmp_path: Path) -> None:
    admin = workspace_admin(workspace)
    assert current_catalog(workspace, admin) is None
    first = import_catalog(workspace, admin, SAMPLE)
    assert (first.import_no, first.new, first.options, first.rules) == (1, True, 31, 41)
    assert first.catalog_version == load_catalog(SAMPLE).catalog_version
    assert current_catalog(workspace, admin) == load_catalog(SAMPLE)

    again = import_catalog(workspace, admin, SAMPLE)
    assert again.new is False and again.import_no == 1
    assert len(imports_audited(workspace)) == 1

    changed = tmp_path / "catalog"
    shutil.copytree(SAMPLE, changed)
    with (changed / "rules.csv").open("a") as rules:
        rules.write("audit_needs_sso,requires,selection,audit_log,sso,,,,,,,1\n")
    second = import_catalog(workspace, admin, changed)
    assert second.import_no == 2 and second.rules == 42
    current = current_catalog(workspace, admin)
    assert current is not None and current.catalog_version == second.catalog_version
    assert current.rule("audit_needs_sso").when == "audit_log"
    old = stored_catalog(workspace, admin, first.catalog_version)
    assert len(old.rules) == 41
    assert [i.import_no for i in catalog_imports(workspace, admin)] == [2, 1]
    events = imports_audited(workspace)
    assert len(events) == 2
    assert {e["actor"] for e in events} == {admin.email}


def test_a_version_kept_with_other_content_is_refused(workspace: Workspace,
                                                      tmp_path: Path) -> None:
    admin = workspace_admin(workspace)
    import_catalog(workspace, admin, SAMPLE, "2026.1")
    changed = tmp_path / "catalog"
    shutil.copytree(SAMPLE, changed)
    (changed / "bundles.csv").unlink()
    with pytest.raises(CatalogError, match="2026.1 is already kept with other content"):
        import_catalog(workspace, admin, changed, "2026.1")
    assert [i.catalog_version for i in catalog_imports(workspace, admin)] == ["2026.1"]
    with pytest.raises(CatalogError, match="No catalog version 'nope'"):
        stored_catalog(workspace, admin, "nope")


def test_deal_desk_may_import_a_rep_may_not(workspace: Workspace, tmp_path: Path) -> None:
    admin = workspace_admin(workspace)
    grant_roles(workspace, admin, "desk@example.com", [Role.DEAL_DESK])
    grant_roles(workspace, admin, "rep@example.com", [Role.REP])
    desk = signed_in(workspace, "desk@example.com")
    rep = signed_in(workspace, "rep@example.com")
    with pytest.raises(AccessDeniedError, match="catalog.manage"):
        import_catalog(workspace, rep, SAMPLE)
    assert imports_audited(workspace) == []
    assert import_catalog(workspace, desk, SAMPLE).import_no == 1
    assert current_catalog(workspace, rep) is not None


def test_a_bad_catalog_file_is_refused_before_anything_is_written(
        workspace: Workspace, tmp_path: Path) -> None:
    admin = workspace_admin(workspace)
    broken = tmp_path / "catalog"
    shutil.copytree(SAMPLE, broken)
    text = (broken / "options.csv").read_text().replace(",1,5000,1800,", ",1,5000,cheap,")
    (broken / "options.csv").write_text(text)
    with pytest.raises(CatalogError, match="options.csv: row 6, column 'cost_cents'"):
        import_catalog(workspace, admin, broken)
    assert catalog_imports(workspace, admin) == []
