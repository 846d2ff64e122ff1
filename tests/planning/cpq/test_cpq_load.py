"""`revplan cpq load` makes a catalog folder the workspace's current catalog with its price
books (the demo gets the sample this way), audited; a second load changes nothing; a person
without the catalog right is refused."""

from __future__ import annotations

import pytest

from planning.access.policy import system_principal
from planning.access.roles import Role
from planning.audit import audit_events
from planning.cpq.catalog_versions import current_catalog
from planning.cpq.quotes import stored_price_books
from planning.store import Workspace, open_workspace
from tests.planning.test_cli_plans import run
from tests.views.test_pages import demo_user


def test_loading_the_sample_catalog_and_price_books(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    revops = demo_user(demo_copy, Role.REVOPS)
    assert current_catalog(demo_copy, revops) is None

    code, out, err = run(capsys, "cpq", "load", "--workspace", demo_copy.name)
    assert code == 0, err
    assert "(new); 4 new price book version(s)." in out
    loaded = open_workspace(demo_copy.name)  # the command closes the workspaces it opened
    catalog = current_catalog(loaded, revops)
    assert catalog is not None and len(catalog.options) == 31 and len(catalog.rules) == 41
    assert len(stored_price_books(loaded, revops)) == 4
    actions = audit_events(loaded, system_principal(loaded.name), limit=None)["action"]
    assert (actions == "cpq.catalog.import").sum() == 1

    code, out, _ = run(capsys, "cpq", "load", "--workspace", demo_copy.name)
    assert code == 0 and "unchanged, already current); 0 new price book" in out


def test_a_rep_may_not_load_a_catalog(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    rep = demo_user(demo_copy, Role.REP)
    code, _, err = run(capsys, "cpq", "load", "--workspace", demo_copy.name, "--as", rep.email)
    assert code == 2 and err.startswith("error:")
    loaded = open_workspace(demo_copy.name)
    assert current_catalog(loaded, demo_user(loaded, Role.REVOPS)) is None
