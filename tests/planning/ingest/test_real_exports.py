"""Real CRM exports end to end: open deals without dates or accounts, managers known only by
name, warnings on kept rows, and runs where a whole file fails (nothing applied)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from planning.cli import main
from planning.ingest import (
    ImportFileError,
    MappingError,
    import_files,
    run_rejects,
    run_summary,
)
from planning.overview import workspace_kpis
from planning.pipeline.csv_training import read_opportunity_csv
from planning.store import Workspace, open_workspace

TABLES = ("reps", "accounts", "opportunities", "opportunity_history", "activities",
          "import_runs", "import_rejects", "audit_events")

MAPPING = """
[[mapping]]
entity = "reps"
files = ["sales_teams*.csv"]
[mapping.columns]
rep_id = "sales_agent"
name = "sales_agent"
manager_id = "manager"
region = "regional_office"

[[mapping]]
entity = "accounts"
files = ["accounts*.csv"]
[mapping.columns]
account_id = "account"
name = "account"
industry = "sector"
employees = "employees"

[[mapping]]
entity = "opportunities"
files = ["sales_pipeline*.csv"]
{extra}
[mapping.columns]
opportunity_id = "opportunity_id"
owner_id = "sales_agent"
account_id = "account"
product_id = "product"
stage = "deal_stage"
created_at = "engage_date"
close_date = "close_date"
amount = "close_value"
"""

TEAMS = [
    ("Anna Snelling", "Dustin Brinkmann", "Central"),
    ("Cecily Lampkin", "Dustin Brinkmann", "Central"),
    ("Versie Hillebrand", "Melvin Marxen", "Central"),
    ("Moses Frase", "Melvin Marxen", "East"),
    ("Zane Levy", "0055e000009QzZyAAK", "West"),
]
ACCOUNTS = [("Acme Corporation", "technolgy", "2822"), ("Betatech", "medical", "4540"),
            ("Cancity", "retail", "88")]
DEALS = [
    ("D1", "Anna Snelling", "GTX Pro", "Acme Corporation", "Won", "2017-01-01", "2017-01-21",
     "4500"),
    ("D2", "Cecily Lampkin", "MG Special", "Betatech", "Won", "2017-02-01", "2017-03-03",
     "55"),
    ("D3", "Versie Hillebrand", "GTX Basic", "Cancity", "Won", "2017-03-01", "2017-03-11",
     "550"),
    ("D4", "Moses Frase", "GTX Pro", "Betatech", "Lost", "2017-04-01", "2017-05-01", "0"),
    ("D5", "Anna Snelling", "GTX Pro", "Cancity", "Engaging", "2017-06-01", "", ""),
    ("D6", "Zane Levy", "MG Advanced", "", "Engaging", "2017-06-10", "", ""),
    ("D7", "Cecily Lampkin", "GTX Basic", "Acme Corporation", "Prospecting", "", "", ""),
    ("D8", "Moses Frase", "GTX Basic", "", "Prospecting", "", "", ""),
    ("D9", "Versie Hillebrand", "MG Special", "Betatech", "Won", "2017-05-01", "2017-06-20",
     "60"),
]
"""Won cycles 20, 30, 10 and 50 days: median 25. The newest date of any deal is 2017-06-20."""


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def export(folder: Path, deals: list[tuple] = DEALS, teams: list[tuple] = TEAMS,
           extra: str = "") -> tuple[list[Path], Path]:
    """The data set's three files and its mapping, written to `folder`."""
    files = [
        write_csv(folder / "sales_teams.csv", ["sales_agent", "manager", "regional_office"],
                  teams),
        write_csv(folder / "accounts.csv", ["account", "sector", "employees"], ACCOUNTS),
        write_csv(folder / "sales_pipeline.csv",
                  ["opportunity_id", "sales_agent", "product", "account", "deal_stage",
                   "engage_date", "close_date", "close_value"], deals),
    ]
    mapping = folder / "crm.toml"
    mapping.write_text(MAPPING.format(extra=extra), encoding="utf-8")
    return files, mapping


def rows(workspace: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    return workspace.read(lambda cur: cur.execute(sql, params or []).fetchall())


def counts(workspace: Workspace) -> dict[str, int]:
    return {t: rows(workspace, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def test_every_open_deal_is_kept_with_estimated_dates(workspace: Workspace,
                                                      tmp_path: Path) -> None:
    files, mapping = export(tmp_path)
    summary = import_files(workspace, files, mapping)

    deals = {r[0]: r[1:] for r in rows(
        workspace, "SELECT opportunity_id, status, account_id, created_at, close_date, "
        "created_estimated, close_date_estimated FROM opportunities")}
    assert len(deals) == len(DEALS)
    assert deals["D1"] == ("won", "Acme Corporation", dt.datetime(2017, 1, 1),
                           dt.date(2017, 1, 21), False, False)
    assert deals["D4"][0] == "lost"
    assert deals["D5"] == ("open", "Cancity", dt.datetime(2017, 6, 1), dt.date(2017, 6, 26),
                           False, True)
    assert deals["D6"][1] == "unknown-account"
    assert deals["D7"] == ("open", "Acme Corporation", dt.datetime(2017, 6, 20),
                           dt.date(2017, 7, 15), True, True)
    assert rows(workspace, "SELECT name, source, owner_id FROM accounts WHERE account_id = "
                "'unknown-account'") == [("Unknown account", "import:created", None)]
    assert summary.fallbacks == {"close_date_estimated": 4, "created_estimated": 2,
                                 "unknown_account": 2, "managers_created": 2}
    assert summary.totals.rejected == 0
    kpis = workspace_kpis(workspace)
    assert (kpis.open_pipeline_deals, kpis.open_deals_without_amount) == (4, 4)
    stored = run_summary(workspace, summary.run_id)
    assert stored is not None and stored.fallbacks == summary.fallbacks
    text = summary.to_text()
    assert "4  open deals given an estimated close date" in text
    assert "2  managers created from a name" in text


def test_managers_known_by_name_become_people(workspace: Workspace, tmp_path: Path) -> None:
    files, mapping = export(tmp_path)
    summary = import_files(workspace, files, mapping)

    people = {r[0]: r[1:] for r in rows(
        workspace, "SELECT rep_id, role, manager_id, region, source FROM reps")}
    assert people["manager:Dustin Brinkmann"] == ("manager", None, "Central", "import:created")
    assert people["manager:Melvin Marxen"][:3] == ("manager", None, None)
    assert people["Anna Snelling"][:2] == ("rep", "manager:Dustin Brinkmann")
    assert people["Moses Frase"][1] == "manager:Melvin Marxen"
    assert people["Zane Levy"][:2] == ("rep", None)
    teams = summary.files[0]
    assert teams.counts.inserted == len(TEAMS) and teams.counts.rejected == 0
    assert teams.warnings_by_reason == {"unknown manager, kept without one": 1}
    assert run_summary(workspace, summary.run_id).warnings_by_reason == {
        "unknown manager, kept without one": 1}
    assert "1  unknown manager, kept without one" in summary.to_text()
    warned = run_rejects(workspace, summary.run_id)
    assert warned[["line", "column_name", "value", "severity"]].values.tolist() == [
        [6, "manager", "0055e000009QzZyAAK", "warning"]]


def test_reimport_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    files, mapping = export(tmp_path)
    import_files(workspace, files, mapping)
    before = rows(workspace, "SELECT * EXCLUDE (loaded_at) FROM opportunities ORDER BY 1")

    again = import_files(workspace, files, mapping)

    assert again.totals.inserted == 0 and again.totals.updated == 0
    assert again.totals.unchanged == len(TEAMS) + len(ACCOUNTS) + len(DEALS)
    assert "managers_created" not in again.fallbacks
    assert rows(workspace, "SELECT * EXCLUDE (loaded_at) FROM opportunities ORDER BY 1") == before
    assert rows(workspace, "SELECT count(*) FROM reps")[0][0] == len(TEAMS) + 2


def test_managers_imported_later_replace_their_stand_ins(workspace: Workspace,
                                                         tmp_path: Path) -> None:
    files, mapping = export(tmp_path)
    import_files(workspace, files, mapping)
    managers = write_csv(tmp_path / "sales_teams_managers.csv",
                         ["sales_agent", "manager", "regional_office"],
                         [("Dustin Brinkmann", "", "Central"), ("Melvin Marxen", "", "East")])

    import_files(workspace, [managers], mapping)

    people = dict(rows(workspace, "SELECT rep_id, role FROM reps"))
    assert people["Dustin Brinkmann"] == "manager" and people["Melvin Marxen"] == "manager"
    assert not [p for p in people if p.startswith("manager:")]
    assert rows(workspace, "SELECT manager_id FROM reps WHERE rep_id = 'Anna Snelling'") == [
        ("Dustin Brinkmann",)]


def test_later_reports_make_an_imported_rep_a_manager(workspace: Workspace,
                                                      tmp_path: Path) -> None:
    boss = write_csv(tmp_path / "sales_teams_boss.csv",
                     ["sales_agent", "manager", "regional_office"], [("Rosa Diaz", "", "")])
    files, mapping = export(tmp_path, teams=[("Jake Peralta", "Rosa Diaz", "East")])
    import_files(workspace, [boss], mapping)
    assert rows(workspace, "SELECT role FROM reps") == [("rep",)]

    import_files(workspace, files[:1], mapping)

    assert dict(rows(workspace, "SELECT rep_id, role FROM reps")) == {
        "Rosa Diaz": "manager", "Jake Peralta": "rep"}


def test_accounts_resolve_by_name_when_the_file_has_ids(workspace: Workspace,
                                                        tmp_path: Path) -> None:
    files, mapping = export(tmp_path, teams=[("Anna Snelling", "", "")])
    accounts = write_csv(tmp_path / "accounts.csv", ["Id", "Name"],
                         [("A-1", "Acme Corporation"), ("A-2", "Betatech")])
    deals = write_csv(tmp_path / "sales_pipeline.csv",
                      ["opportunity_id", "sales_agent", "product", "account", "deal_stage",
                       "engage_date", "close_date", "close_value"],
                      [("D1", "Anna Snelling", "", "  acme   CORPORATION", "Closed - Won",
                        "2017-01-01", "2017-01-21", "10"),
                       ("D2", "Anna Snelling", "", "A-2", "Closed/Lost", "2017-01-01",
                        "2017-01-21", "0"),
                       ("D3", "Anna Snelling", "", "Nobody Inc", "Engaging", "2017-01-01", "",
                        "")])
    mapping.write_text(MAPPING.format(extra="").replace(
        'account_id = "account"\nname = "account"', 'account_id = "Id"\nname = "Name"'
    ).replace('industry = "sector"\nemployees = "employees"\n', ""), encoding="utf-8")

    summary = import_files(workspace, [files[0], accounts, deals], mapping)

    assert rows(workspace, "SELECT opportunity_id, account_id, status FROM opportunities "
                "ORDER BY 1") == [("D1", "A-1", "won"), ("D2", "A-2", "lost")]
    assert summary.rejected_by_reason == {"unknown account": 1}


def test_mapped_open_deal_close_date(workspace: Workspace, tmp_path: Path) -> None:
    files, mapping = export(tmp_path, extra='open_deal_close_date = "2017-06-05"')

    import_files(workspace, files, mapping)

    closes = dict(rows(workspace, "SELECT opportunity_id, close_date FROM opportunities "
                       "WHERE close_date_estimated"))
    assert closes["D5"] == dt.date(2017, 6, 5)
    assert closes["D6"] == dt.date(2017, 7, 5), "before created: created + the won cycle"


def test_mapped_open_deal_close_date_must_be_a_date(workspace: Workspace,
                                                    tmp_path: Path) -> None:
    files, mapping = export(tmp_path, extra='open_deal_close_date = "end of quarter"')
    with pytest.raises(MappingError, match="open_deal_close_date must be a date"):
        import_files(workspace, files, mapping)


def test_without_won_deals_the_cycle_is_90_days(workspace: Workspace, tmp_path: Path) -> None:
    files, mapping = export(tmp_path, deals=[d for d in DEALS if d[4] != "Won"])
    import_files(workspace, files, mapping)
    assert rows(workspace, "SELECT close_date FROM opportunities WHERE opportunity_id = 'D5'"
                ) == [(dt.date(2017, 8, 30),)]


def test_a_file_whose_rows_all_fail_changes_nothing(workspace: Workspace, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    files, mapping = export(tmp_path)
    import_files(workspace, files[:2], mapping)
    before = counts(workspace)
    orphans = [(f"X{i}", "Nobody Here", "", "Cancity", "Won", "2017-01-01", "2017-01-05", "1")
               for i in range(5)]
    bad_files, _ = export(tmp_path, deals=orphans)

    with pytest.raises(ImportFileError, match=r"^sales_pipeline\.csv: all 5 rows rejected "
                       r"\(5 unknown owner at column sales_agent\)\. Nothing was imported\.$"):
        import_files(workspace, bad_files, mapping)
    assert counts(workspace) == before

    code = main(["import", "--workspace", "test", "--mapping", str(mapping),
                 *map(str, bad_files)])
    assert code != 0
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "sales_pipeline.csv: all 5 rows rejected" in errors[0]
    assert counts(open_workspace("test")) == before


def test_the_csv_trainer_counts_open_deals_without_dates_as_open(tmp_path: Path) -> None:
    files, mapping = export(tmp_path)

    deals = read_opportunity_csv(files[2], mapping)

    assert deals.rows_rejected == 0
    assert int((deals.frame["status"] == "open").sum()) == 4
