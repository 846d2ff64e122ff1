"""Files that break the rules of docs/IMPORT.md in ways a parser hides: control characters,
a value of megabytes, a quote that never closes. Each is a row-level reject or a one-line
file error naming the file, the line, the column and what to change; nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from planning.cli import main
from planning.ingest import import_files, run_rejects
from planning.ingest.errors import ImportFileError
from planning.store import Workspace

HEADER = "Id,Name,Industry,BillingPostalCode,AnnualRevenue\n"
ROWS = ["0015e0000000064AAA,Northwind,Software,94107,100\n",
        "0015e0000000065AAA,Bluepeak,Software,94107,100\n",
        "0015e0000000066AAA,Greenway,Software,94107,100\n"]


def accounts_file(folder: Path, second_row: str, name: str = "Account.csv") -> Path:
    """A Salesforce Account export whose second data row (line 3) is `second_row`."""
    path = folder / name
    path.write_bytes((HEADER + ROWS[0] + second_row + ROWS[2]).encode("utf-8"))
    return path


def stored_accounts(workspace: Workspace) -> list[tuple[str, str]]:
    return workspace.read(lambda cur: cur.execute(
        "SELECT account_id, name FROM accounts ORDER BY account_id").fetchall())


def refused(workspace: Workspace, path: Path) -> str:
    with pytest.raises(ImportFileError) as caught:
        import_files(workspace, [path], actor="tester")
    message = str(caught.value)
    assert "\n" not in message
    assert stored_accounts(workspace) == []
    return message


@pytest.mark.parametrize("byte", ["\x07", "\x1b", "\x0b", "\x01"])
def test_a_control_byte_in_a_name_refuses_the_file_naming_line_and_column(
        workspace: Workspace, tmp_path: Path, byte: str) -> None:
    path = accounts_file(tmp_path, f"0015e0000000065AAA,Blue{byte}peak,Software,94107,100\n")
    assert refused(workspace, path) == (
        f"Account.csv: line 3, column 'Name': control character 0x{ord(byte):02X} in the "
        "text; remove it and import again (only tab and line breaks are allowed). Nothing was "
        "imported.")


def test_a_control_byte_inside_a_quoted_multiline_value_names_where_the_row_starts(
        workspace: Workspace, tmp_path: Path) -> None:
    path = accounts_file(tmp_path, '0015e0000000065AAA,"Blue\npeak",Soft\x07ware,94107,100\n')
    assert refused(workspace, path).startswith(
        "Account.csv: line 3, column 'Industry': control character 0x07")


def test_a_control_byte_in_the_header_names_the_header(workspace: Workspace,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "Account.csv"
    path.write_bytes((HEADER.replace("Name", "Na\x07me") + ROWS[0]).encode("utf-8"))
    assert refused(workspace, path).startswith(
        "Account.csv: line 1, the header row: control character 0x07")


def test_tabs_and_line_breaks_are_not_control_bytes(workspace: Workspace,
                                                     tmp_path: Path) -> None:
    path = accounts_file(tmp_path, '0015e0000000065AAA,"Blue\tpeak\r\nLabs",Software,94107,'
                                   "100\r\n")
    summary = import_files(workspace, [path], actor="tester")
    assert summary.files[0].counts.inserted == 3


def test_a_five_megabyte_value_is_a_row_level_value_too_long(workspace: Workspace,
                                                             tmp_path: Path) -> None:
    path = accounts_file(tmp_path, f"0015e0000000065AAA,{'x' * 5_000_000},Software,94107,100\n")
    summary = import_files(workspace, [path], actor="tester")
    assert summary.status == "applied_with_rejects"
    assert summary.rejected_by_reason == {"value too long": 1}
    rejects = run_rejects(workspace, summary.run_id)
    assert rejects["line"].tolist() == [3]
    assert rejects["column_name"].tolist() == ["Name"]
    assert stored_accounts(workspace) == [("0015e0000000064AAA", "Northwind"),
                                          ("0015e0000000066AAA", "Greenway")]


def test_a_five_megabyte_quoted_value_after_a_stray_quote_is_a_row_reject(
        workspace: Workspace, tmp_path: Path) -> None:
    """Stray quotes send the reader to its exact (slower) path, which takes long fields too."""
    row = f'0015e0000000065AAA,"{"y" * 5_000_000}",Soft"ware,94107,100\n'
    summary = import_files(workspace, [accounts_file(tmp_path, row)], actor="tester")
    assert summary.rejected_by_reason == {"value too long": 1}
    assert len(stored_accounts(workspace)) == 2


def test_an_unclosed_quote_refuses_the_file_naming_line_and_column(
        workspace: Workspace, tmp_path: Path) -> None:
    path = accounts_file(tmp_path, '0015e0000000065AAA,"Bluepeak,Software,94107,100\n')
    assert refused(workspace, path) == (
        "Account.csv: line 3, column 'Name': a quoted value is never closed, so every line "
        'after it would be read into it; close the quote (or double it, "", to keep it as a '
        "character) and import again. Nothing was imported.")


def test_quotes_inside_values_and_closed_multiline_values_still_import(
        workspace: Workspace, tmp_path: Path) -> None:
    path = accounts_file(tmp_path, '0015e0000000065AAA,"Blue ""peak""\nLabs",Software,94107,'
                                   "100\n")
    summary = import_files(workspace, [path], actor="tester")
    assert summary.files[0].counts.inserted == 3
    assert ("0015e0000000065AAA", 'Blue "peak"\nLabs') in stored_accounts(workspace)


def test_the_command_line_prints_the_file_error_in_one_line(
        workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = accounts_file(tmp_path, "0015e0000000065AAA,Blue\x07peak,Software,94107,100\n")
    code = main(["import", "--workspace", "test", str(path)])
    errors = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("error: ")]
    assert code == 2
    assert len(errors) == 1
    assert errors[0].startswith("error: Account.csv: line 3, column 'Name': control character "
                                "0x07")
    assert errors[0].endswith("Nothing was imported.")
