"""Creating an empty workspace with its first admin, from the planning function and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from planning import audit
from planning.access.policy import system_principal
from planning.access.roles import Role
from planning.cli import main
from planning.errors import RevPlanError, WorkspaceNameError
from planning.store import open_workspace, workspace_exists
from planning.workspaces import WorkspaceExistsError, create_workspace
from tests.views.test_pages import demo_user


def _settings(name: str) -> dict[str, str]:
    return dict(open_workspace(name).read(lambda cur: cur.execute(
        "SELECT key, value FROM workspace_settings").fetchall()))


def test_create_makes_an_empty_workspace_with_its_admin(data_dir: Path) -> None:
    workspace = create_workspace("acme", " Ana@Example.com ", "ops", currency="eur",
                                 fiscal_year_start_month=2)
    assert workspace_exists("acme")
    members = workspace.read(lambda cur: cur.execute(
        "SELECT email, roles FROM workspace_members").fetchall())
    assert [(email, list(roles)) for email, roles in members] == [("ana@example.com", ["admin"])]
    settings = _settings("acme")
    assert settings["currency"] == "EUR" and settings["fiscal_year_start_month"] == "2"
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM opportunities").fetchone()[0]) == 0
    events = audit.audit_events(workspace, system_principal(workspace.name),
                                action="workspace.create").to_dict("records")
    assert len(events) == 1 and events[0]["actor"] == "ops"
    assert audit.verify_chain(workspace).ok


@pytest.mark.parametrize(
    ("name", "email", "options", "error"),
    [
        ("../evil", "a@b.co", {}, WorkspaceNameError),
        ("has space", "a@b.co", {}, WorkspaceNameError),
        ("fine", "not-an-email", {}, RevPlanError),
        ("fine", "a@b.co", {"currency": "dollars"}, RevPlanError),
        ("fine", "a@b.co", {"fiscal_year_start_month": 13}, RevPlanError),
    ],
)
def test_create_refuses_bad_input_in_one_line(data_dir: Path, name: str, email: str,
                                              options: dict, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        create_workspace(name, email, "ops", **options)
    assert "\n" not in str(caught.value)
    assert not list(data_dir.glob("*.duckdb"))


def test_create_refuses_an_existing_name_and_leaves_it_alone(data_dir: Path) -> None:
    create_workspace("acme", "ana@example.com", "ops")
    with pytest.raises(WorkspaceExistsError, match="already exists"):
        create_workspace("acme", "bob@example.com", "ops", currency="EUR")
    assert _settings("acme")["currency"] == "USD"


def test_a_signed_in_admin_may_create_and_a_rep_may_not(demo_copy) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    create_workspace("acme", admin.email, admin)
    events = audit.audit_events(open_workspace("acme"), system_principal("acme"),
                                action="workspace.create")
    assert events.iloc[0]["actor"] == admin.email
    rep = demo_user(demo_copy, Role.REP)
    with pytest.raises(RevPlanError):
        create_workspace("other", rep.email, rep)
    assert not workspace_exists("other")


def test_cli_workspace_create(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["workspace", "create", "acme", "--admin", "ana@example.com",
                 "--currency", "GBP", "--fiscal-year-start-month", "4"]) == 0
    assert "created" in capsys.readouterr().out
    assert _settings("acme")["currency"] == "GBP"
    assert main(["workspace", "create", "acme", "--admin", "ana@example.com"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Workspace 'acme' already exists") and err.count("\n") == 1


def _readme_section(title: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_bring_your_own_data_commands_work(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's commands and mapping, run as written on a realistic export."""
    import shlex

    from tests.realistic_exports import write_crm_export

    section = _readme_section("Bring your own CRM data")
    bash, toml = section.split("```bash\n", 1)[1], section.split("```toml\n", 1)[1]
    commands = [shlex.split(line.split("#", 1)[0])[1:] for line in
                bash.split("```", 1)[0].splitlines() if line.startswith(".venv/bin/revplan ")]
    assert [command[:1] for command in commands] == [["workspace"], ["import"], ["summary"]]
    export = write_crm_export(tmp_path, deals=400, date_style="us")
    export.mapping.write_text(toml.split("```", 1)[0], encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    for command in commands:
        assert main(command) == 0, f"revplan {' '.join(command)}: {capsys.readouterr().err}"
    out = capsys.readouterr().out
    assert "FY2017 Q4" in out
    workspace = open_workspace("acme")
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM opportunities").fetchone()[0]) == export.deals
