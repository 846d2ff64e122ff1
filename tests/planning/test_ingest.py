"""CRM import end to end on real workspaces: samples, re-imports, bad rows, junk files, mappings."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from planning.ingest import (
    ImportFileError,
    MappingError,
    import_files,
    import_uploads,
    recent_runs,
    run_rejects,
    run_summary,
)
from planning.store import Workspace
from planning.store import imports as repo

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SALESFORCE = [SAMPLES / "salesforce" / name for name in
              ("Opportunity.csv", "OpportunityFieldHistory.csv", "Account.csv", "User.csv")]
USERS = SAMPLES / "salesforce" / "User.csv"
ACCOUNTS = SAMPLES / "salesforce" / "Account.csv"
BAD_ROWS = SAMPLES / "bad" / "Opportunity_bad_rows.csv"
MIRROR_TABLES = ("reps", "accounts", "opportunities", "opportunity_history", "activities",
                 "import_runs", "import_rejects")

OPPORTUNITY_HEADER = ("Id,AccountId,OwnerId,Name,StageName,Amount,CloseDate,CreatedDate,"
                      "ForecastCategoryName,IsClosed,IsWon,NextStep,LastActivityDate,Type")
FIRST_OPPORTUNITY = "0065e00000003E8AAI"


def scalar(workspace: Workspace, sql: str, params: list | None = None):
    """The single value a query returns."""
    return workspace.read(lambda cur: cur.execute(sql, params or []).fetchall()[0][0])


def rows(workspace: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    """All rows a query returns."""
    return workspace.read(lambda cur: cur.execute(sql, params or []).fetchall())


def table_counts(workspace: Workspace) -> dict[str, int]:
    return {t: scalar(workspace, f"SELECT count(*) FROM {t}") for t in MIRROR_TABLES}


def sf_account(index: int) -> str:
    """The id of the index-th account row of the Salesforce sample."""
    return (ACCOUNTS.read_text(encoding="utf-8").splitlines()[index + 1]).split(",")[0]


def sf_user(index: int) -> str:
    return (USERS.read_text(encoding="utf-8").splitlines()[index + 1]).split(",")[0]


def valid_opportunity() -> str:
    """One valid Opportunity.csv line, so that a file whose other rows fail is a partial
    success rather than a whole file failing (which rolls the run back)."""
    return (f"0065e0000009998AAA,{sf_account(0)},{sf_user(4)},Fine,Proposal,10,2024-03-01,"
            "2024-01-01,Pipeline,false,false,,,\n")


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


# Salesforce sample --------------------------------------------------------------------------

def test_salesforce_sample_imports_in_dependency_order(workspace: Workspace) -> None:
    summary = import_files(workspace, SALESFORCE, actor="tester")

    by_file = {f.file: f for f in summary.files}
    assert [f.entity for f in summary.files] == [
        "reps", "accounts", "opportunities", "opportunity_history"]
    assert by_file["User.csv"].counts.as_dict() == {
        "read": 24, "inserted": 24, "updated": 0, "unchanged": 0, "rejected": 0, "skipped": 0}
    assert by_file["Account.csv"].counts.inserted == 120
    assert by_file["Opportunity.csv"].counts.inserted == 200
    history = by_file["OpportunityFieldHistory.csv"].counts
    assert (history.read, history.inserted, history.skipped, history.rejected) == (217, 210, 7, 0)
    assert summary.status == "applied"
    assert by_file["Opportunity.csv"].format == "Salesforce Opportunity export"

    counts = table_counts(workspace)
    assert counts["reps"] == 24 and counts["accounts"] == 120
    assert counts["opportunities"] == 200 and counts["opportunity_history"] == 210
    assert counts["import_rejects"] == 0
    run = rows(workspace, "SELECT run_id, actor, files, status, rows_read, rows_inserted, "
                          "rows_rejected, finished_at >= started_at FROM import_runs")
    assert run == [(summary.run_id, "tester", [p.name for p in SALESFORCE], "applied", 561, 554,
                    0, True)]


def test_salesforce_values_are_stored_in_revplan_form(workspace: Workspace) -> None:
    summary = import_files(workspace, SALESFORCE)

    first = rows(workspace, "SELECT account_id, owner_id, stage, status, amount_cents, close_date, "
                            "created_at, closed_at, forecast_category, type, source, loaded_at "
                            "FROM opportunities WHERE opportunity_id = ?", [FIRST_OPPORTUNITY])
    assert first == [(sf_account(0), sf_user(4), "Closed Won", "won", 4_800_050,
                      dt.date(2024, 2, 1), dt.datetime(2024, 1, 2, 8, 0),
                      dt.datetime(2024, 2, 1), "Closed", "New Business", "salesforce",
                      summary.started_at)]
    statuses = dict(rows(workspace, "SELECT status, count(*) FROM opportunities GROUP BY 1"))
    assert statuses == {"won": 60, "lost": 40, "open": 100}
    assert scalar(workspace, "SELECT count(*) FROM opportunities WHERE status = 'open' "
                             "AND closed_at IS NOT NULL") == 0
    multi_line = scalar(workspace, "SELECT count(*) FROM opportunities "
                                   "WHERE next_step = 'Follow up\nafter board meeting'")
    assert multi_line == 20

    cambridge = rows(workspace, "SELECT zip, state, employees, segment, annual_revenue_cents, lat "
                                "FROM accounts WHERE city = 'Cambridge' ORDER BY account_id "
                                "LIMIT 1")
    assert cambridge[0][0] == "02139" and cambridge[0][1] == "MA"
    employees, segment = cambridge[0][2], cambridge[0][3]
    assert segment == ("SMB" if employees < 100 else "Mid-Market" if employees < 1000
                       else "Enterprise")
    assert cambridge[0][5] == pytest.approx(42.3647)

    roles = dict(rows(workspace, "SELECT role, count(*) FROM reps GROUP BY 1"))
    assert roles == {"executive": 1, "manager": 3, "rep": 20}
    assert rows(workspace, "SELECT name, is_active FROM reps WHERE NOT is_active") == [
        ("Jonas Berg", False)]
    ava = rows(workspace, "SELECT role, manager_id FROM reps WHERE name = 'Ava Patel'")
    assert ava == [("executive", None)]

    amounts = rows(workspace, "SELECT old_value, new_value FROM opportunity_history "
                              "WHERE field = 'amount' ORDER BY history_id LIMIT 1")
    assert amounts and all(v.isdigit() for v in amounts[0])
    fields = dict(rows(workspace, "SELECT field, count(*) FROM opportunity_history GROUP BY 1"))
    assert set(fields) == {"created", "stage", "amount", "close_date", "forecast_category"}
    assert fields["created"] == 40


def test_reimporting_the_same_files_changes_nothing(workspace: Workspace) -> None:
    first = import_files(workspace, SALESFORCE)
    before = rows(workspace, "SELECT opportunity_id, loaded_at FROM opportunities ORDER BY 1")

    again = import_files(workspace, SALESFORCE)

    totals = again.totals
    assert (totals.inserted, totals.updated, totals.rejected) == (0, 0, 0)
    assert totals.unchanged == 24 + 120 + 200 + 210 and totals.skipped == 7
    after = rows(workspace, "SELECT opportunity_id, loaded_at FROM opportunities ORDER BY 1")
    assert after == before
    assert scalar(workspace, "SELECT count(*) FROM opportunities WHERE loaded_at <> ?",
                  [first.started_at]) == 0
    assert table_counts(workspace)["import_runs"] == 2


def test_one_changed_field_counts_as_one_update(workspace: Workspace, tmp_path: Path) -> None:
    import_files(workspace, SALESFORCE)
    text = SALESFORCE[0].read_text(encoding="utf-8")
    assert f"{FIRST_OPPORTUNITY}," in text and ",48000.50," in text
    changed = write(tmp_path / "Opportunity.csv", text.replace(",48000.50,", ",51000,", 1))

    summary = import_files(workspace, [changed])

    counts = summary.files[0].counts
    assert (counts.updated, counts.unchanged, counts.inserted) == (1, 199, 0)
    assert scalar(workspace, "SELECT amount_cents FROM opportunities WHERE opportunity_id = ?",
                  [FIRST_OPPORTUNITY]) == 5_100_000
    assert rows(workspace, "SELECT opportunity_id FROM opportunities WHERE loaded_at = ?",
                [summary.started_at]) == [(FIRST_OPPORTUNITY,)]


def test_files_without_a_column_leave_its_stored_values_alone(workspace: Workspace,
                                                              tmp_path: Path) -> None:
    import_files(workspace, SALESFORCE)
    slim = write(tmp_path / "Opportunity.csv",
                 "Id,AccountId,OwnerId,StageName,CloseDate,CreatedDate\n"
                 f"{FIRST_OPPORTUNITY},{sf_account(0)},{sf_user(4)},Closed Won,2024-02-01,"
                 "2024-01-02T08:00:00.000+0000\n")

    summary = import_files(workspace, [slim])

    assert summary.files[0].counts.unchanged == 1
    assert scalar(workspace, "SELECT amount_cents FROM opportunities WHERE opportunity_id = ?",
                  [FIRST_OPPORTUNITY]) == 4_800_050


def test_history_rows_are_insert_only(workspace: Workspace, tmp_path: Path) -> None:
    import_files(workspace, SALESFORCE)
    lines = SALESFORCE[1].read_text(encoding="utf-8").splitlines()
    history_id = lines[2].split(",")[0]
    edited = lines[2].replace("Prospecting,Qualification", "Prospecting,Negotiation")
    assert edited != lines[2]
    file = write(tmp_path / "OpportunityFieldHistory.csv", "\n".join([lines[0], edited]) + "\n")

    summary = import_files(workspace, [file])

    assert summary.files[0].counts.unchanged == 1 and summary.files[0].counts.updated == 0
    assert scalar(workspace, "SELECT new_value FROM opportunity_history WHERE history_id = ?",
                  [history_id]) == "Qualification"


# HubSpot and mapping samples ---------------------------------------------------------------

def test_hubspot_sample_resolves_owners_and_stages(workspace: Workspace) -> None:
    summary = import_files(workspace, [SAMPLES / "hubspot" / "deals.csv",
                                       SAMPLES / "hubspot" / "companies.csv", USERS])

    by_file = {f.file: f for f in summary.files}
    assert by_file["companies.csv"].format == "HubSpot companies export"
    assert by_file["companies.csv"].counts.inserted == 40
    assert by_file["deals.csv"].counts.inserted == 80
    assert summary.totals.rejected == 0

    deal = rows(workspace, "SELECT o.stage, o.status, o.amount_cents, o.close_date, o.created_at, "
                           "r.name, o.account_id, o.type, o.source FROM opportunities o "
                           "JOIN reps r ON r.rep_id = o.owner_id "
                           "WHERE o.opportunity_id = '18800000001'")
    assert deal == [("Prospecting", "open", 7_500_000, dt.date(2024, 2, 21),
                     dt.datetime(2024, 2, 1, 9, 15), "Zoe Kim", "9400000001", "Expansion",
                     "hubspot")]
    by_email = rows(workspace, "SELECT r.email FROM opportunities o JOIN reps r "
                               "ON r.rep_id = o.owner_id WHERE o.opportunity_id = '18800000102'")
    assert by_email == [("lucas.martin@example.com",)]
    statuses = dict(rows(workspace, "SELECT status, count(*) FROM opportunities GROUP BY 1"))
    assert statuses == {"won": 16, "lost": 8, "open": 56}
    stages = {s for (s,) in rows(workspace, "SELECT DISTINCT stage FROM opportunities")}
    assert stages == {"Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation",
                      "Closed Won", "Closed Lost"}
    # The company file gives this account no owner: it gets the owner of most of its deals.
    unowned = rows(workspace, "SELECT account_id, owner_id, owner_derived FROM accounts "
                              "WHERE account_id = '9400000001'")
    majority = rows(workspace, "SELECT owner_id FROM opportunities WHERE account_id = "
                               "'9400000001' GROUP BY 1 ORDER BY count(*) DESC, "
                               "max(created_at) DESC LIMIT 1")
    assert unowned == [("9400000001", majority[0][0], True)]


def test_generic_export_imports_through_the_mapping_file(workspace: Workspace) -> None:
    generic = SAMPLES / "generic"
    summary = import_files(workspace, [generic / "deals.csv", generic / "organizations.csv", USERS],
                           mapping_path=generic / "mapping.toml")

    by_file = {f.file: f for f in summary.files}
    assert by_file["organizations.csv"].format == "mapping mapping.toml (accounts)"
    assert by_file["organizations.csv"].counts.inserted == 25
    assert by_file["deals.csv"].counts.inserted == 40
    assert by_file["User.csv"].format == "Salesforce User export"
    assert summary.totals.rejected == 0

    first = rows(workspace, "SELECT o.name, o.stage, o.status, o.amount_cents, o.close_date, "
                            "o.created_at, r.email, o.source FROM opportunities o "
                            "JOIN reps r ON r.rep_id = o.owner_id "
                            "WHERE o.opportunity_id = 'D-20000'")
    assert first == [("Northwind Holdings expansion 1", "Prospecting", "open", 1_200_050,
                      dt.date(2024, 3, 26), dt.datetime(2024, 3, 1, 8, 30),
                      "hannah.fischer@example.com", "mapped:mapping.toml")]
    won = rows(workspace, "SELECT stage, status, closed_at FROM opportunities "
                          "WHERE opportunity_id = 'D-20005'")
    assert won == [("Closed Won", "won", dt.datetime(2024, 5, 30))]
    statuses = dict(rows(workspace, "SELECT status, count(*) FROM opportunities GROUP BY 1"))
    assert statuses == {"open": 30, "won": 5, "lost": 5}
    org = rows(workspace, "SELECT employees, annual_revenue_cents, segment, created_at "
                          "FROM accounts WHERE account_id = 'ORG-0001'")
    assert org == [(400, 3_800_000_000, "Mid-Market", dt.datetime(2021, 12, 31, 23, 0))]


# Bad rows ------------------------------------------------------------------------------------

EXPECTED_BAD_ROWS = {
    7: ("Id", "missing required value"),
    8: ("Id", "duplicate id in file"),
    9: ("Id", "invalid Salesforce id"),
    10: ("AccountId", "unknown account"),
    11: ("OwnerId", "unknown owner"),
    12: ("CloseDate", "invalid date"),
    13: ("CloseDate", "date out of range"),
    14: ("Amount", "invalid amount"),
    15: ("Amount", "negative amount"),
    16: ("Amount", "amount out of range"),
    17: ("Amount", "ambiguous number format"),
    18: ("CurrencyIsoCode", "currency differs from workspace currency"),
    19: ("CloseDate", "close date before created date"),
    20: ("CreatedDate", "created date in the future"),
    21: ("IsClosed", "invalid true/false value"),
    22: ("IsWon", "won but not closed"),
    23: ("StageName", "stage contradicts closed/won flags"),
    24: ("ForecastCategoryName", "unknown forecast category"),
    25: (None, "wrong number of fields"),
    26: ("NextStep", "value too long"),
}


def test_twenty_kinds_of_bad_rows_are_each_reported_once(workspace: Workspace) -> None:
    import_files(workspace, [USERS, ACCOUNTS])

    summary = import_files(workspace, [BAD_ROWS])

    counts = summary.files[0].counts
    assert (counts.read, counts.inserted, counts.rejected) == (26, 6, 20)
    assert summary.status == "applied_with_rejects"
    assert summary.rejected_by_reason == {reason: 1 for _, reason in EXPECTED_BAD_ROWS.values()}
    rejects = run_rejects(workspace, summary.run_id)
    found = {int(r.line): (None if r.column_name is None or r.column_name != r.column_name
                           else r.column_name, r.reason) for r in rejects.itertuples()}
    assert len(rejects) == 20
    assert found == EXPECTED_BAD_ROWS
    assert set(rejects["file"]) == {"Opportunity_bad_rows.csv"}

    values = dict(zip(rejects["line"], rejects["value"], strict=True))
    assert values[9] == "006-NOT-AN-ID" and values[15] == "-500" and values[17] == "1,500"
    raw = json.loads(rejects.loc[rejects["line"] == 14, "raw_json"].iloc[0])
    assert raw["Amount"] == "12abc" and raw["Name"] == "not a number"
    ragged = json.loads(rejects.loc[rejects["line"] == 25, "raw_json"].iloc[0])
    assert len(ragged["fields"]) == 9

    kept = {name for (name,) in rows(workspace, "SELECT name FROM opportunities")}
    assert kept == {"Bad-file good row 1", "Bad-file good row 2", "Bad-file good row 3",
                    "Bad-file good row 4", "US formats", "text month"}
    amounts = dict(rows(workspace, "SELECT name, amount_cents FROM opportunities"))
    assert amounts["Bad-file good row 2"] == 1_250_050
    assert amounts["Bad-file good row 3"] == 125_075
    assert amounts["US formats"] == 1_800_000
    assert rows(workspace, "SELECT close_date FROM opportunities WHERE name = 'US formats'") == [
        (dt.date(2025, 3, 28),)]
    assert rows(workspace, "SELECT close_date FROM opportunities WHERE name = 'text month'") == [
        (dt.date(2025, 3, 5),)]
    assert scalar(workspace, "SELECT rows_rejected FROM import_runs WHERE run_id = ?",
                  [summary.run_id]) == 20


def test_a_row_with_several_problems_reports_each_problem_once(workspace: Workspace,
                                                               tmp_path: Path) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    file = write(tmp_path / "Opportunity.csv", OPPORTUNITY_HEADER + "\n"
                 f"0065e0000009999AAA,0015e0000099999AAA,{sf_user(4)},Broken,Proposal,-5,"
                 "2024-13-01,yesterday,Pipeline,false,false,,,\n" + valid_opportunity())

    summary = import_files(workspace, [file])

    rejects = run_rejects(workspace, summary.run_id)
    assert sorted(zip(rejects["column_name"], rejects["reason"], strict=True)) == [
        ("AccountId", "unknown account"),
        ("Amount", "negative amount"),
        ("CloseDate", "invalid date"),
        ("CreatedDate", "invalid date"),
    ]
    assert set(rejects["line"]) == {2}
    assert summary.files[0].counts.rejected == 1
    assert summary.rejected_by_reason == {"invalid date": 1, "negative amount": 1,
                                          "unknown account": 1}


def test_reject_lines_are_physical_lines(workspace: Workspace, tmp_path: Path) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    ok = f"{sf_account(0)},{sf_user(4)}"
    file = write(tmp_path / "Opportunity.csv", "\r\n".join([
        OPPORTUNITY_HEADER,
        f'0065e0000009001AAA,{ok},"Two\r\nlines",Proposal,100,2024-03-01,2024-01-01,'
        "Pipeline,false,false,,,",
        "",
        f"0065e0000009002AAA,{ok},Bad date,Proposal,100,2024-02-30,2024-01-01,Pipeline,"
        "false,false,,,",
        f'0065e0000009003AAA,{ok},"Quote ""x""",Proposal,100,2024-03-01,2024-01-01,Pipeline,'
        'false,false,"Say\r\n""hi""\r\nto all",,',
        f"0065e0000009004AAA,{ok},Bad flag,Proposal,100,2024-03-01,2024-01-01,Pipeline,nope,"
        "false,,,",
    ]) + "\r\n")

    summary = import_files(workspace, [file])

    rejects = run_rejects(workspace, summary.run_id)
    assert list(zip(rejects["line"], rejects["reason"], strict=True)) == [
        (5, "invalid date"), (9, "invalid true/false value")]
    assert summary.files[0].counts.inserted == 2
    assert scalar(workspace, "SELECT next_step FROM opportunities WHERE opportunity_id = ?",
                  ["0065e0000009003AAA"]) == 'Say\r\n"hi"\r\nto all'


def test_manager_problems_are_warnings_on_kept_reps(workspace: Workspace,
                                                    tmp_path: Path) -> None:
    file = write(tmp_path / "User.csv",
                 "Id,Name,Email,ManagerId,IsActive\n"
                 "0055e0000000901AAA,Boss,boss@example.com,,true\n"
                 "0055e0000000902AAA,Broken,broken@example.com,,perhaps\n"
                 "0055e0000000903AAA,Under Broken,ub@example.com,0055e0000000902AAA,true\n"
                 "0055e0000000904AAA,Under Boss,uboss@example.com,0055e0000000901AAA,true\n"
                 "0055e0000000905AAA,Self,self@example.com,0055e0000000905AAA,true\n")

    summary = import_files(workspace, [file])

    rejects = run_rejects(workspace, summary.run_id)
    assert list(zip(rejects["line"], rejects["reason"], rejects["severity"], strict=True)) == [
        (3, "invalid true/false value", "rejected"),
        (4, "unknown manager, kept without one", "warning"),
        (6, "rep is their own manager, kept without one", "warning")]
    assert summary.files[0].counts.inserted == 4 and summary.files[0].counts.rejected == 1
    assert rows(workspace, "SELECT name, role, manager_id FROM reps ORDER BY name") == [
        ("Boss", "manager", None), ("Self", "rep", None), ("Under Boss", "rep",
                                                           "0055e0000000901AAA"),
        ("Under Broken", "rep", None)]


def test_fifteen_character_salesforce_ids_match_eighteen_character_ones(
        workspace: Workspace, tmp_path: Path) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    account15, owner15 = sf_account(0)[:15], sf_user(4)[:15]
    file = write(tmp_path / "Opportunity.csv", OPPORTUNITY_HEADER + "\n"
                 f"0065e0000009101,{account15},{owner15},Short ids,Proposal,100,2024-03-01,"
                 "2024-01-01,Pipeline,false,false,,,\n")

    summary = import_files(workspace, [file])

    assert summary.files[0].counts.inserted == 1
    assert rows(workspace, "SELECT opportunity_id, account_id, owner_id FROM opportunities") == [
        ("0065e0000009101AAA", sf_account(0), sf_user(4))]


def test_day_month_order_is_decided_per_file(workspace: Workspace, tmp_path: Path) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    ok = f"{sf_account(0)},{sf_user(4)}"
    day_first = write(tmp_path / "Opportunity.csv", OPPORTUNITY_HEADER + "\n"
                      f"0065e0000009201AAA,{ok},A,Proposal,1,03/05/2024,25/01/2024,Pipeline,,,,,\n"
                      f"0065e0000009202AAA,{ok},B,Proposal,1,04/06/2024,02/01/2024,Pipeline,,,,,\n")
    import_files(workspace, [day_first])
    assert rows(workspace, "SELECT close_date, created_at FROM opportunities ORDER BY 1") == [
        (dt.date(2024, 5, 3), dt.datetime(2024, 1, 25)),
        (dt.date(2024, 6, 4), dt.datetime(2024, 1, 2))]

    conflicting = write(tmp_path / "Opp2.csv", OPPORTUNITY_HEADER + "\n"
                        f"0065e0000009203AAA,{ok},C,Proposal,1,05/13/2024,25/01/2024,Pipeline,,,,,\n"
                        f"0065e0000009204AAA,{ok},D,Proposal,1,05/14/2024,01/02/2024,Pipeline,,,,,\n")
    summary = import_files(workspace, [conflicting])
    rejects = run_rejects(workspace, summary.run_id)
    assert list(zip(rejects["column_name"], rejects["value"], rejects["reason"], strict=True)) == [
        ("CreatedDate", "25/01/2024", "invalid date (expected %m/%d/%Y, like 10/20/2016)")]


# Malformed files -----------------------------------------------------------------------------

JUNK = {
    "empty.csv": (b"", "the file is empty (0 bytes)"),
    "binary.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary data"),
    "latin1.csv": ("Id,Name,Email,ManagerId\n0055e0000000001AAA,Jos\xe9 Mart\xednez,j@x.com,\n"
                   .encode("latin-1"), "not UTF-8 text (byte 0xE9 on line 2)"),
    "utf16.csv": ("Id,Name,Email,ManagerId\n0055e0000000001AAA,Ann,a@x.com,\n".encode("utf-16"),
                  "UTF-16"),
    "utf16-no-bom.csv": ("Id,Name,Email,ManagerId\n0055e0000000001AAA,Ann,a@x.com,\n"
                         .encode("utf-16-le"), "UTF-16"),
    "header-only.csv": (b"Id,Name,Email,ManagerId\n", "header row but no data rows"),
    "blank.csv": (b"\n\n  \n", "no header row"),
    "unknown.csv": (b"Foo,Bar,Baz\n1,2,3\n", "matches no known export format"),
    "no-header.csv": (b"0065e0000009201AAA,0015e0000000064AAA,2024-03-01,12000\n"
                      b"0065e0000009202AAA,0015e0000000064AAA,2024-03-02,13000\n",
                      "no header row: its first line holds values"),
    "workbook.csv": (b"PK\x03\x04" + b"\x14\x00" * 40, "Excel workbook"),
    "lacks-owner.csv": (b"Id,AccountId,StageName,CloseDate,CreatedDate\n1,2,3,4,5\n",
                        "owner_id are missing"),
    "repeated.csv": (b"Id,Name,Email,name,ManagerId\n0055e0000000001AAA,A,a@x.com,B,\n",
                     "the column(s) Name appear more than once"),
}


@pytest.mark.parametrize("name", sorted(JUNK))
def test_malformed_files_raise_and_write_nothing(name: str, workspace: Workspace,
                                                 tmp_path: Path) -> None:
    content, problem = JUNK[name]
    junk = write(tmp_path / name, content)

    with pytest.raises(ImportFileError) as caught:
        import_files(workspace, [USERS, junk])

    message = str(caught.value)
    assert message.startswith(f"{name}: ") and problem in message
    assert "Nothing was imported" in message
    assert "\n" not in message
    assert set(table_counts(workspace).values()) == {0}


def test_a_late_latin1_byte_is_still_refused(workspace: Workspace, tmp_path: Path) -> None:
    body = "".join(f"0055e00000{i:05d}AAA,User {i},u{i}@x.com,\n" for i in range(5000))
    junk = write(tmp_path / "User.csv",
                 ("Id,Name,Email,ManagerId\n" + body + "0055e0000099999AAA,Ren\xe9,r@x.com,\n")
                 .encode("latin-1"))

    with pytest.raises(ImportFileError, match=r"byte 0xE9 on line 5002"):
        import_files(workspace, [junk])
    assert set(table_counts(workspace).values()) == {0}


def test_several_malformed_files_are_reported_together(workspace: Workspace,
                                                       tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", b"")
    second = write(tmp_path / "b.csv", b"Foo\n1\n")

    with pytest.raises(ImportFileError) as caught:
        import_files(workspace, [first, USERS, second])

    message = str(caught.value)
    assert message.startswith("2 files cannot be imported: a.csv: ")
    assert "; b.csv: " in message


def test_missing_files_and_duplicate_names_are_refused(workspace: Workspace,
                                                       tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="nowhere.csv: file not found"):
        import_files(workspace, [tmp_path / "nowhere.csv"])
    (tmp_path / "other").mkdir()
    copy = shutil.copy(USERS, tmp_path / "other" / "User.csv")
    with pytest.raises(ImportFileError, match="Several files are named User.csv"):
        import_files(workspace, [USERS, Path(copy)])
    assert set(table_counts(workspace).values()) == {0}


def test_a_failure_inside_the_transaction_leaves_nothing(workspace: Workspace,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(cur, rejects) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(repo, "insert_rejects", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        import_files(workspace, SALESFORCE)
    assert set(table_counts(workspace).values()) == {0}


# Mapping files ---------------------------------------------------------------------------------

DEALS = ("Deal;Org;Owner;Stage;Value;Close;Created\n"
         "D1;O1;ava.patel@example.com;Won;1.000,00;01.02.2024;02.01.2024\n")


def mapping_file(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "map.toml", text)


@pytest.mark.parametrize(("text", "problem"), [
    ('entity = "deals"\n[columns]\nopportunity_id = "Deal"\n',
     "entity is 'deals' is not known; use one of reps, accounts, opportunities"),
    ('[columns]\nname = "Org"\n', "entity is missing"),
    ('entity = "opportunities"\n[columns]\nopportunity_id = "Deal"\naccount_id = "Org"\n'
     'owner_id = "Owner"\nstage = "Stage"\nclose_date = "Close"\ncreated_at = "Created"\n'
     'amount_usd = "Value"\n',
     "unknown field(s) amount_usd in [columns]; fields of opportunities are"),
    ('entity = "opportunities"\n[columns]\nopportunity_id = "Deal"\naccount_id = "Org"\n'
     'owner_id = "Owner"\nstage = "Stage"\n',
     "required field(s) close_date, created_at of opportunities are not mapped"),
    ('entity = "accounts"\ndelimeter = ";"\n[columns]\naccount_id = "Org"\nname = "N"\n',
     "unknown key(s) delimeter"),
    ('entity = "accounts"\n[columns]\naccount_id = "Org"\nname = "N"\n[values.industry]\n'
     '"x" = "y"\n', "[values.industry] is given but industry has no column"),
    ('entity = "opportunities"\n[columns]\nopportunity_id = "Deal"\naccount_id = "Org"\n'
     'owner_id = "Owner"\nstage = "Stage"\nclose_date = "Close"\ncreated_at = "Created"\n'
     '[values.status]\n"Won" = "victory"\n', "targets must be open, won or lost, not victory"),
    ('entity = "accounts"\ntimezone = "Mars/Olympus"\n[columns]\naccount_id = "Org"\n'
     'name = "N"\n', "'Mars/Olympus' is not a known IANA time zone"),
    ('entity = "accounts"\n[columns\n', "not valid TOML"),
    ('delimiter = ";"\nentity = "accounts"\n[[mapping]]\nentity = "accounts"\n',
     "the top level may only hold shared options"),
])
def test_mapping_errors_are_clear(text: str, problem: str, workspace: Workspace,
                                  tmp_path: Path) -> None:
    deals = write(tmp_path / "deals.csv", DEALS)

    with pytest.raises(MappingError) as caught:
        import_files(workspace, [deals], mapping_path=mapping_file(tmp_path, text))

    assert str(caught.value).startswith("map.toml: ")
    assert problem in str(caught.value)
    assert set(table_counts(workspace).values()) == {0}


def test_a_mapping_naming_columns_the_file_lacks_is_refused(workspace: Workspace,
                                                            tmp_path: Path) -> None:
    deals = write(tmp_path / "deals.csv", DEALS)
    mapping = mapping_file(tmp_path, 'entity = "opportunities"\nfiles = ["deals*.csv"]\n'
                           '[columns]\nopportunity_id = "Deal"\naccount_id = "Organisation"\n'
                           'owner_id = "Owner"\nstage = "Stage"\nclose_date = "Close"\n'
                           'created_at = "Created"\n')

    with pytest.raises(ImportFileError,
                       match="deals.csv: the column.s. Organisation named in mapping map.toml"):
        import_files(workspace, [deals], mapping_path=mapping)


def test_a_single_mapping_with_value_translations(workspace: Workspace, tmp_path: Path) -> None:
    import_files(workspace, [USERS])
    accounts = write(tmp_path / "orgs.csv", "Org;Name;Staff\nO1;Acme;1.300\n")
    deals = write(tmp_path / "deals.csv", DEALS)
    org_mapping = mapping_file(tmp_path, 'entity = "accounts"\n[columns]\naccount_id = "Org"\n'
                               'name = "Name"\nemployees = "Staff"\n')
    import_files(workspace, [accounts], mapping_path=org_mapping)
    deal_mapping = write(tmp_path / "deals.toml",
                         'entity = "opportunities"\ndecimal_separator = ","\n[columns]\n'
                         'opportunity_id = "Deal"\naccount_id = "Org"\nowner_id = "Owner"\n'
                         'stage = "Stage"\namount = "Value"\nclose_date = "Close"\n'
                         'created_at = "Created"\n[values.stage]\n"won" = "Closed Won"\n')

    summary = import_files(workspace, [deals], mapping_path=deal_mapping)

    assert summary.files[0].counts.inserted == 1
    assert rows(workspace, "SELECT employees, segment FROM accounts") == [(1300, "Enterprise")]
    assert rows(workspace, "SELECT stage, status, amount_cents, close_date, source "
                           "FROM opportunities") == [
        ("Closed Won", "won", 100_000, dt.date(2024, 2, 1), "mapped:deals.toml")]


# Uploads, run records, command line ----------------------------------------------------------

def test_uploads_keep_their_names(workspace: Workspace) -> None:
    uploads = [("Users export.csv", USERS.read_bytes()), ("broken.csv", b"\x00\x01binary")]
    with pytest.raises(ImportFileError, match=r"^broken\.csv: .*binary data"):
        import_uploads(workspace, uploads)

    summary = import_uploads(workspace, uploads[:1], actor="ava@example.com")
    assert [f.file for f in summary.files] == ["Users export.csv"]
    assert rows(workspace, "SELECT files, actor FROM import_runs") == [
        (["Users export.csv"], "ava@example.com")]


def test_recent_runs_and_stored_summaries(workspace: Workspace) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    second = import_files(workspace, [BAD_ROWS], actor="ops")

    runs = recent_runs(workspace)
    assert list(runs["run_id"]) == [second.run_id, second.run_id - 1]
    assert runs.iloc[0]["files"] == "Opportunity_bad_rows.csv"
    assert runs.iloc[0]["rows_rejected"] == 20 and runs.iloc[0]["status"] == "applied_with_rejects"
    stored = run_summary(workspace, second.run_id)
    assert stored is not None
    assert stored.to_text() == second.to_text()
    assert stored.rejected_by_reason == second.rejected_by_reason
    assert run_summary(workspace, 999) is None
    assert run_rejects(workspace, 999).empty


def test_summary_text_and_frames(workspace: Workspace) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    summary = import_files(workspace, [BAD_ROWS])

    text = summary.to_text()
    assert f"Import run {summary.run_id} (applied_with_rejects)" in text
    assert "Opportunity_bad_rows.csv: recognised as Salesforce Opportunity export" in text
    assert "Rejected rows by reason:" in text and "unknown forecast category" in text
    frame = summary.to_frame()
    assert list(frame.columns) == ["file", "format", "entity", "read", "inserted", "updated",
                                   "unchanged", "rejected", "skipped"]
    assert frame.iloc[0][["read", "inserted", "rejected"]].tolist() == [26, 6, 20]
    reasons = summary.reasons_frame()
    assert len(reasons) == 20 and set(reasons["rows"]) == {1}


def test_cli_import_prints_the_summary(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    from planning.cli import main

    code = main(["import", "--workspace", "x", str(USERS), str(ACCOUNTS)])

    out = capsys.readouterr().out
    assert code == 0
    assert "Import run 1 (applied)" in out
    assert "User.csv" in out and "Account.csv" in out
    assert (data_dir / "x.duckdb").exists()


def test_cli_import_of_a_junk_file_prints_one_error(data_dir: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    from planning.cli import main

    junk = write(tmp_path / "junk.csv", b"\x00\xff\x00\xff")

    code = main(["import", "--workspace", "x", str(junk)])

    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2
    assert error_lines == [
        "error: junk.csv: the file contains binary data (NUL bytes); it is not a CSV text "
        "file. Nothing was imported."]


def test_reps_and_activities_through_one_mapping_file(workspace: Workspace,
                                                      tmp_path: Path) -> None:
    owners = write(tmp_path / "owners.csv",
                   "Owner ID\tFull name\tMail\tStarted\tFTE\n"
                   "u1\tDana Scully\tdana@example.com\t2023-02-01\t1\n"
                   "u2\tFox Mulder\tfox@example.com\tn/a\t0,5\n")
    calls = write(tmp_path / "calls.csv",
                  "Activity|Who|Type|When\n"
                  "a1|Dana Scully|Phone call|2024-03-05 10:00\n"
                  "a2|fox@example.com|E-mail|2024-03-05 11:30\n"
                  "a3|Walter Skinner|Meeting|2024-03-06 09:00\n"
                  "a4|u1|Lunch|2024-03-06 12:00\n")
    mapping = mapping_file(tmp_path, """
missing_values = ["n/a"]

[[mapping]]
entity = "reps"
files = ["owners*.csv"]
decimal_separator = ","
[mapping.columns]
rep_id = "Owner ID"
name = "Full name"
email = "Mail"
hire_date = "Started"
capacity = "FTE"

[[mapping]]
entity = "activities"
timezone = "America/New_York"
[mapping.columns]
activity_id = "Activity"
owner_id = "Who"
kind = "Type"
occurred_at = "When"
[mapping.values.kind]
"Phone call" = "call"
""")

    summary = import_files(workspace, [calls, owners], mapping_path=mapping)

    assert [f.entity for f in summary.files] == ["reps", "activities"]
    assert rows(workspace, "SELECT rep_id, hire_date, capacity, role FROM reps ORDER BY 1") == [
        ("u1", dt.date(2023, 2, 1), 1.0, "rep"), ("u2", None, 0.5, "rep")]
    assert rows(workspace, "SELECT activity_id, owner_id, kind, occurred_at FROM activities "
                           "ORDER BY 1") == [
        ("a1", "u1", "call", dt.datetime(2024, 3, 5, 15, 0)),
        ("a2", "u2", "email", dt.datetime(2024, 3, 5, 16, 30))]
    rejects = run_rejects(workspace, summary.run_id)
    assert list(zip(rejects["line"], rejects["column_name"], rejects["reason"], strict=True)) == [
        (4, "Who", "unknown owner"), (5, "Type", "unknown kind")]

    again = import_files(workspace, [calls, owners], mapping_path=mapping)
    assert again.totals.unchanged == 4 and again.totals.inserted == 0


def test_explicit_date_formats_and_amounts_in_cents(workspace: Workspace,
                                                    tmp_path: Path) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    deals = write(tmp_path / "deals.csv",
                  "id,acct,owner,stage,cents,close,created\n"
                  f"X1,{sf_account(1)},Zoe Kim,Proposal,123456,20240301,20240102 0930\n"
                  f"X2,{sf_account(1)},Zoe Kim,Proposal,99.5,2024-03-01,20240102 0930\n")
    mapping = mapping_file(tmp_path, 'entity = "opportunities"\nmoney_unit = "cents"\n'
                           'date_formats = ["%Y%m%d", "%Y%m%d %H%M"]\n[columns]\n'
                           'opportunity_id = "id"\naccount_id = "acct"\nowner_id = "owner"\n'
                           'stage = "stage"\namount = "cents"\nclose_date = "close"\n'
                           'created_at = "created"\n')

    summary = import_files(workspace, [deals], mapping_path=mapping)

    assert rows(workspace, "SELECT opportunity_id, amount_cents, close_date, created_at "
                           "FROM opportunities") == [
        ("X1", 123_456, dt.date(2024, 3, 1), dt.datetime(2024, 1, 2, 9, 30))]
    rejects = run_rejects(workspace, summary.run_id)
    assert sorted(zip(rejects["column_name"], rejects["reason"], strict=True)) == [
        ("cents", "not a whole number"), ("close", "invalid date")]


def test_raw_json_keeps_awkward_text_exactly(workspace: Workspace, tmp_path: Path) -> None:
    import_files(workspace, [USERS, ACCOUNTS])
    awkward = 'He said "no" \\ then\r\nleft\ttwice \u00e9\u2603'
    quoted = '"' + awkward.replace('"', '""') + '"'
    file = write(tmp_path / "Opportunity.csv", OPPORTUNITY_HEADER + "\n"
                 f"0065e0000009301AAA,{sf_account(0)},{sf_user(4)},{quoted},Proposal,oops,"
                 "2024-03-01,2024-01-01,Pipeline,false,false,,,\n" + valid_opportunity())

    summary = import_files(workspace, [file])

    rejects = run_rejects(workspace, summary.run_id)
    assert rejects["reason"].tolist() == ["invalid amount"]
    raw = json.loads(rejects["raw_json"].iloc[0])
    assert raw["Name"] == awkward and raw["Amount"] == "oops" and len(raw) == 14


def test_a_later_file_of_the_same_run_updates_an_earlier_one(workspace: Workspace,
                                                             tmp_path: Path) -> None:
    text = SALESFORCE[0].read_text(encoding="utf-8")
    first = write(tmp_path / "Opportunity.csv", text)
    (tmp_path / "later").mkdir()
    later = write(tmp_path / "later" / "Opportunity-fix.csv",
                  text.replace(",48000.50,", ",51000,", 1))

    summary = import_files(workspace, [USERS, ACCOUNTS, first, later])

    counts = {f.file: f.counts for f in summary.files}
    assert counts["Opportunity.csv"].inserted == 200
    assert (counts["Opportunity-fix.csv"].updated, counts["Opportunity-fix.csv"].unchanged) == (
        1, 199)
    assert scalar(workspace, "SELECT amount_cents FROM opportunities WHERE opportunity_id = ?",
                  [FIRST_OPPORTUNITY]) == 5_100_000
