"""Output files of the command line: the folder is checked before any work, and a write that
fails or is killed half-way never leaves a partial file where the output belongs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from planning.cli import main
from planning.output_files import (
    OutputPathError,
    check_output_path,
    write_atomically,
    write_text_atomically,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def territory_files(tmp_path: Path) -> tuple[Path, Path]:
    units = pd.DataFrame({"unit_id": ["u1", "u2", "u3", "u4"], "lat": [40.7, 40.8, 34.0, 34.1],
                          "lon": [-74.0, -73.9, -118.2, -118.3], "workload": [1.0] * 4})
    reps = pd.DataFrame({"rep_id": ["r1", "r2"], "lat": [40.75, 34.05], "lon": [-74.0, -118.25]})
    units_path, reps_path = tmp_path / "units.csv", tmp_path / "reps.csv"
    units.to_csv(units_path, index=False)
    reps.to_csv(reps_path, index=False)
    return units_path, reps_path


# ----------------------------------------------------------------------------- checked first


def test_a_missing_out_folder_fails_at_once_without_solving(
        territory_files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    units, reps = territory_files
    started = time.perf_counter()

    code = main(["territory", "solve", "--units", str(units), "--reps", str(reps),
                 "--out", "/nonexistent/dir/a.csv"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""  # no solve message, no plan summary
    assert captured.err == ("error: --out /nonexistent/dir/a.csv: the folder /nonexistent/dir "
                            "does not exist; create it or choose another path.\n")
    assert time.perf_counter() - started < 5


def test_a_missing_report_folder_is_named_before_the_workspace_is_opened(
        data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "missing" / "report.json"

    code = main(["quota", "solve", "--workspace", "nowhere", "--target", "1000",
                 "--report", str(report)])

    assert code == 2
    assert capsys.readouterr().err == (
        f"error: --report {report}: the folder {report.parent} does not exist; create it or "
        "choose another path.\n")


def test_a_folder_given_as_the_html_file_is_refused(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["versions", "compare", "v1", "v2", "--as", "a@example.com",
                 "--html", str(tmp_path)])

    assert code == 2
    assert capsys.readouterr().err == (f"error: --html {tmp_path}: that is a folder; give a "
                                       "file name.\n")


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "plain.txt"
    blocker.write_text("x", encoding="utf-8")

    with pytest.raises(OutputPathError, match=r"^--out .*plain.txt/a.csv: .*plain.txt is not a "
                       r"folder\.$"):
        check_output_path(blocker / "a.csv", "--out")


def test_a_good_path_passes_and_the_solve_writes_there(
        territory_files: tuple[Path, Path], tmp_path: Path) -> None:
    units, reps = territory_files
    out = tmp_path / "assignment.csv"
    check_output_path(out, "--out")

    assert main(["territory", "solve", "--units", str(units), "--reps", str(reps),
                 "--tolerance", "0.5", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").splitlines()[0] == "unit_id,rep_id"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["assignment.csv", "reps.csv",
                                                          "units.csv"]


# ----------------------------------------------------------------------------- atomic


def chunks_then_failure() -> Iterator[str]:
    yield "unit_id,rep_id\n"
    yield "u1,r1\n"
    raise RuntimeError("the solver process died")


def test_a_write_failing_half_way_keeps_the_old_file_and_leaves_no_temporary(
        tmp_path: Path) -> None:
    target = tmp_path / "assignment.csv"
    target.write_text("old,content\n", encoding="utf-8")

    with pytest.raises(RuntimeError, match="the solver process died"):
        write_atomically(target, chunks_then_failure())
    with pytest.raises(UnicodeEncodeError):
        write_text_atomically(target, "unit_id,rep_id\nu1,\ud800\n")

    assert target.read_text(encoding="utf-8") == "old,content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["assignment.csv"]


def test_a_write_killed_half_way_never_touches_the_target(tmp_path: Path) -> None:
    target = tmp_path / "assignment.csv"
    target.write_text("old,content\n", encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys, time
        from planning.output_files import write_atomically

        def chunks():
            yield "unit_id,rep_id\\n" + "u1,r1\\n" * 10000
            print("half written", flush=True)
            time.sleep(60)
            yield "u2,r2\\n"

        write_atomically({str(target)!r}, chunks())
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "half written\n"
        temporaries = [p for p in tmp_path.iterdir() if p.name != "assignment.csv"]
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)

    assert writer.returncode == -signal.SIGKILL
    assert target.read_text(encoding="utf-8") == "old,content\n"
    assert len(temporaries) == 1 and temporaries[0].name.startswith(".assignment.csv.")


def test_the_written_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    fresh, kept = tmp_path / "fresh.csv", tmp_path / "kept.csv"
    kept.write_text("x\n", encoding="utf-8")
    kept.chmod(0o640)
    umask = os.umask(0o022)
    try:
        write_text_atomically(fresh, "a\n")
        write_text_atomically(kept, "b\n")
    finally:
        os.umask(umask)

    assert fresh.stat().st_mode & 0o777 == 0o644
    assert kept.stat().st_mode & 0o777 == 0o640
    assert kept.read_text(encoding="utf-8") == "b\n"


def test_a_write_into_a_vanished_folder_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match=r"^Cannot write .*a\.csv: No such file or "
                       r"directory; check the folder exists and is writable\.$"):
        write_text_atomically(tmp_path / "gone" / "a.csv", "x\n")
