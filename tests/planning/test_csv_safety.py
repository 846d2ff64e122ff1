"""CSV injection: every CSV a person opens in a spreadsheet (audit export, comparison export,
import rejects, Data Loader file, territory and quota `--out`) carries formula payloads as
text and numbers as numbers."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from planning.access.membership import grant_roles
from planning.access.policy import system_principal
from planning.access.roles import Role
from planning.audit import audit_events
from planning.cli import main
from planning.compare import compare_versions
from planning.csv_safety import (
    FORMULA_STARTS,
    neutralise_cell,
    spreadsheet_csv,
    spreadsheet_rows_csv,
)
from planning.ingest import import_files, run_rejects
from planning.store import Workspace, close_all_workspaces
from planning.versions import create_version
from planning.writeback import data_loader_csv, publish
from tests.planning.test_writeback import PUBLISHER, approve, territory_version

LINK = '=HYPERLINK("http://evil","click")'
PAYLOADS = [LINK, "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)",
            "\t=1+1", "\r=1+1"]
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def live_formulas(text: str) -> list[str]:
    """Cells a spreadsheet would run: text starting with a formula character that is not a
    plain number."""
    return [cell for row in cells(text) for cell in row
            if cell.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(cell)]


# ----------------------------------------------------------------------------- the rule


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_cell_gets_a_quote(payload: str) -> None:
    assert neutralise_cell(payload) == "'" + payload


@pytest.mark.parametrize("value", [-5, -5.25, 0, 3.0, None, True, "Acme", "-5", "+1.50",
                                   "-2e3", "a=b", "mail@example.com", " =1", ""])
def test_numbers_and_harmless_text_stay_as_they_are(value: object) -> None:
    assert neutralise_cell(value) == value


def test_a_frame_keeps_its_numbers_and_quotes_its_formulas() -> None:
    frame = pd.DataFrame({
        "name": [LINK, "Acme", "-5", None],
        "amount": [-1250.5, 10.0, -3.0, 7.25],
        "count": [-2, 0, 5, 1],
        "when": pd.to_datetime(["2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05"]),
        "@col": ["@SUM(A1)", "+cmd", "ok", "-x"],
    })

    text = spreadsheet_csv(frame)

    assert live_formulas(text) == []
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert back.columns.tolist() == ["name", "amount", "count", "when", "'@col"]
    assert back["name"].tolist() == ["'" + LINK, "Acme", "-5", ""]
    assert back["amount"].tolist() == [-1250.5, 10.0, -3.0, 7.25]
    assert back["count"].tolist() == [-2, 0, 5, 1]
    assert back["'@col"].tolist() == ["'@SUM(A1)", "'+cmd", "ok", "'-x"]
    assert frame["name"].iloc[0] == LINK  # the caller's frame is not changed


def test_rows_are_neutralised_like_frames() -> None:
    text = spreadsheet_rows_csv([["Id", "Amount"], [LINK, "-12.50"], ["001", -7]])
    assert cells(text) == [["Id", "Amount"], ["'" + LINK, "-12.50"], ["001", "-7"]]


def test_no_module_writes_csv_without_the_rule() -> None:
    """Every CSV the app or the command line produces goes through `planning.csv_safety`."""
    root = Path(__file__).resolve().parents[2]
    writers = re.compile(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(|COPY\s.*\sTO\s")
    sources = [root / "app.py", *(root / "planning").rglob("*.py"), *(root / "views").rglob(
        "*.py"), *(root / "auth").rglob("*.py")]
    offenders = [str(path.relative_to(root)) for path in sources
                 if path.name != "csv_safety.py" and writers.search(path.read_text("utf-8"))]
    assert offenders == []


# ----------------------------------------------------------------------------- the exports


def test_the_audit_export_quotes_a_formula_reason_and_name(workspace: Workspace) -> None:
    for email, reason in [("eve@example.com", LINK), ("sam@example.com", "+cmd|' /C calc'!A0"),
                          ("ann@example.com", "@SUM(A1)")]:
        grant_roles(workspace, None, email, [Role.VIEWER], reason=reason)

    events = audit_events(workspace, system_principal(workspace.name))
    text = spreadsheet_csv(events)

    assert live_formulas(text) == []
    back = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert {"'" + LINK, "'+cmd|' /C calc'!A0", "'@SUM(A1)"} <= set(back["reason"])
    assert back["seq"].tolist() == events["seq"].tolist()


def test_the_comparison_export_quotes_formula_ids_and_keeps_numbers(
        demo_copy: Workspace) -> None:
    reps = [r for (r,) in demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id FROM reps WHERE role = 'rep' ORDER BY rep_id LIMIT 2").fetchall())]

    def save(name: str, amounts: list[int]) -> str:
        items = pd.DataFrame({"subject": [LINK, *reps], "amount_cents": amounts})
        return demo_copy.write(lambda cur: create_version(
            cur, kind="quota", name=name, items=items, parameters={}, solver={}, metrics={},
            author="planner@example.com", actor_role=None, fiscal_year=2027))

    comparison = compare_versions(demo_copy, save("A", [100_000, 250_000, 300_000]),
                                  save("B", [50_000, 200_000, 300_000]))
    text = spreadsheet_csv(comparison.items)

    assert live_formulas(text) == []
    back = pd.read_csv(io.StringIO(text))
    assert "'" + LINK in back["rep_id"].tolist()
    changes = back.set_index("rep_id")["change"]
    assert changes["'" + LINK] == -500.0  # a cut stays a negative number
    assert changes.tolist() == comparison.items["change"].tolist()


def test_the_import_rejects_download_quotes_formula_values(workspace: Workspace,
                                                           tmp_path: Path) -> None:
    import_files(workspace, [SAMPLES / "salesforce" / "User.csv",
                             SAMPLES / "salesforce" / "Account.csv"])
    header = ("Id,AccountId,OwnerId,Name,StageName,Amount,CloseDate,CreatedDate,"
              "ForecastCategoryName,IsClosed,IsWon")
    rest = "2025-03-31,2025-01-06T10:00:00.000+0000,Best Case,false,false"
    rows = [
        f'0065e0000009A01AAA,0015e0000000065AAA,0055e000000000DAAQ,Deal 1,Proposal,'
        f'"{LINK.replace(chr(34), chr(34) * 2)}",{rest}',
        f"0065e0000009A02AAA,0015e0000000065AAA,0055e000000000DAAQ,Deal 2,Proposal,-5,{rest}",
        f"0065e0000009A03AAA,0015e0000000065AAA,@SUM(A1),Deal 3,Proposal,100,{rest}",
        f"0065e0000009A04AAA,0015e0000000065AAA,0055e000000000DAAQ,Deal 4,Proposal,100,{rest}",
    ]
    path = tmp_path / "Opportunity.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    summary = import_files(workspace, [path])

    rejects = run_rejects(workspace, summary.run_id)
    text = spreadsheet_csv(rejects)

    assert set(rejects["value"]) >= {LINK, "@SUM(A1)"}
    assert live_formulas(text) == []
    back = pd.read_csv(io.StringIO(text), keep_default_na=False, dtype=str)
    assert {"'" + LINK, "'@SUM(A1)"} <= set(back["value"])
    assert back["line"].tolist() == rejects["line"].astype(str).tolist()
    assert "-5" in set(back["value"])  # a negative number is a number, not a formula
    assert json.loads(back["raw_json"].iloc[0])  # the raw row stays readable JSON


def test_the_data_loader_file_quotes_a_formula_account_id(demo_copy: Workspace) -> None:
    owner, = demo_copy.read(lambda cur: cur.execute(
        "SELECT owner_id FROM accounts WHERE owner_id IS NOT NULL ORDER BY account_id LIMIT 1"
    ).fetchone())
    demo_copy.write(lambda cur: cur.execute(
        "INSERT INTO accounts (account_id, name, owner_id, source, loaded_at) "
        "VALUES (?, ?, ?, 'test', now())", [LINK, "@SUM(A1)", owner]))
    version_id = territory_version(demo_copy, [LINK])
    approve(demo_copy, version_id)
    batch_id = publish(demo_copy, version_id, PUBLISHER).batch_id

    text = data_loader_csv(demo_copy, batch_id, "Account", PUBLISHER)

    assert live_formulas(text) == []
    rows = cells(text)
    assert rows[0] == ["Id", "OwnerId"]
    assert [row[0] for row in rows[1:]] == ["'" + LINK]


def test_the_territory_out_file_quotes_formula_ids(tmp_path: Path) -> None:
    units = pd.DataFrame({"unit_id": [LINK, "@SUM(A1)", "-5", "u4"],
                          "lat": [40.7, 40.8, 34.0, 34.1], "lon": [-74.0, -73.9, -118.2, -118.3],
                          "workload": [1.0, 1.0, 1.0, 1.0]})
    reps = pd.DataFrame({"rep_id": ["+cmd", "r2"], "lat": [40.75, 34.05],
                         "lon": [-74.0, -118.25]})
    units_path, reps_path, out = tmp_path / "units.csv", tmp_path / "reps.csv", tmp_path / "a.csv"
    units.to_csv(units_path, index=False)
    reps.to_csv(reps_path, index=False)

    code = main(["territory", "solve", "--units", str(units_path), "--reps", str(reps_path),
                 "--tolerance", "0.5", "--time-limit", "20", "--out", str(out)])

    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert live_formulas(text) == []
    assignment = dict(cells(text)[1:])
    assert assignment == {"'" + LINK: "'+cmd", "'@SUM(A1)": "'+cmd", "-5": "r2", "u4": "r2"}


def test_the_quota_out_file_quotes_a_formula_rep_id_and_keeps_amounts(
        data_dir: Path, demo_copy: Workspace, tmp_path: Path) -> None:
    rep, = demo_copy.read(lambda cur: cur.execute(
        "SELECT min(rep_id) FROM reps WHERE is_active AND role = 'rep'").fetchone())

    def rename(cur) -> None:
        columns = cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' AND column_name IN ('rep_id', 'owner_id', "
            "'manager_id') AND table_name IN (SELECT table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE')").fetchall()
        for table, column in columns:
            cur.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE "{column}" = ?', [LINK, rep])

    demo_copy.write(rename)
    close_all_workspaces()
    out = tmp_path / "quotas.csv"

    code = main(["quota", "solve", "--workspace", "demo", "--target", "40000000",
                 "--out", str(out)])

    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert live_formulas(text) == []
    table = pd.read_csv(out)
    assert "'" + LINK in table["rep_id"].tolist()
    assert pd.api.types.is_float_dtype(table["quota"])
    assert round(table["quota"].sum(), 2) == 40_000_000.00
