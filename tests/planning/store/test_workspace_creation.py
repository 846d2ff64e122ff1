"""A workspace records that its creation finished only in the creation's last transaction."""

from __future__ import annotations

from pathlib import Path

from planning import audit
from planning.store import Workspace, open_workspace
from planning.store.workspace_settings import CREATION_KEY, creation_complete, settings
from planning.workspaces import create_workspace
from planning.workspaces import creation_complete as workspace_complete


def test_a_freshly_opened_file_is_not_complete(workspace: Workspace) -> None:
    assert not workspace.read(creation_complete)
    assert not workspace_complete(workspace.name)


def test_workspace_create_records_complete_with_its_admin(data_dir: Path) -> None:
    created = create_workspace("acme", "Admin@Acme.example")
    assert created.read(lambda cur: settings(cur, [CREATION_KEY])) == {CREATION_KEY: "complete"}
    assert workspace_complete("acme")


def test_a_workspace_from_before_the_marker_counts_complete_once_it_holds_data(
    workspace: Workspace,
) -> None:
    workspace.write(lambda cur: audit.record(cur, actor="cli", action="import.run",
                                             entity="import_run", entity_id="1"))
    assert workspace.read(lambda cur: settings(cur, [CREATION_KEY])) == {}
    assert open_workspace(workspace.name).read(creation_complete)


def test_a_demo_workspace_is_complete(demo_copy: Workspace) -> None:
    assert demo_copy.read(lambda cur: settings(cur, [CREATION_KEY])) == {
        CREATION_KEY: "complete"}
