"""`revplan territory solve`: files in, a checked plan and report out, clear exit codes."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from planning.cli import main
from planning.territory.instances import us_territory_problem

EARTH_RADIUS_KM = 6371.0088
REPORT_KEYS = {"status", "objective", "bound", "gap", "seconds", "method",
               "max_balance_deviation", "moved_units", "weighted_distance_km"}


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlam = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def us_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """40 real ZIP units and 4 reps, written the way a user would hand them over."""
    problem = us_territory_problem(40, 4, seed=3)
    folder = tmp_path_factory.mktemp("us")
    units_path, reps_path = folder / "units.csv", folder / "reps.csv"
    problem.units[["unit_id", "lat", "lon", "workload", "current_rep_id"]].to_csv(
        units_path, index=False)
    problem.reps[["rep_id", "lat", "lon", "capacity"]].to_csv(reps_path, index=False)
    return units_path, reps_path


def run_solve(units: Path, reps: Path, out_dir: Path, *extra: str) -> tuple[int, Path, Path]:
    out, report = out_dir / "assignment.csv", out_dir / "report.json"
    code = main(["territory", "solve", "--units", str(units), "--reps", str(reps),
                 "--time-limit", "20", "--out", str(out), "--report", str(report), *extra])
    return code, out, report


def test_the_solve_writes_a_plan_and_a_report_that_agree_with_the_inputs(
    us_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    units_path, reps_path = us_inputs
    code, out, report_path = run_solve(units_path, reps_path, tmp_path, "--tolerance", "0.1",
                                       "--disruption-weight", "0")
    assert code == 0

    _, units = read_rows(units_path)
    _, reps = read_rows(reps_path)
    assert len(units) == 40 and len(reps) == 4
    header, plan = read_rows(out)
    assert header == ["unit_id", "rep_id"]
    assert out.read_text(encoding="utf-8").splitlines()[0] == "unit_id,rep_id"
    assert [row["unit_id"] for row in plan] == [row["unit_id"] for row in units]
    rep_by_id = {row["rep_id"]: row for row in reps}
    assert {row["rep_id"] for row in plan} <= set(rep_by_id)

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert not REPORT_KEYS - set(report)
    assert report["status"] in ("optimal", "within_gap", "time_limit", "feasible")
    assert report["scenario"]["tolerance"] == 0.1
    assert report["objective"] == pytest.approx(report["weighted_distance_km"], rel=1e-6)
    if report["bound"] is not None:
        assert report["bound"] <= report["objective"] * (1 + 1e-9)

    owner = {row["unit_id"]: row["rep_id"] for row in plan}
    weighted_km = 0.0
    load = dict.fromkeys(rep_by_id, 0.0)
    moved = 0
    for unit in units:
        rep = rep_by_id[owner[unit["unit_id"]]]
        workload = float(unit["workload"])
        weighted_km += workload * haversine(float(unit["lat"]), float(unit["lon"]),
                                            float(rep["lat"]), float(rep["lon"]))
        load[rep["rep_id"]] += workload
        moved += unit["current_rep_id"] != rep["rep_id"]
    assert weighted_km > 0
    assert report["weighted_distance_km"] == pytest.approx(weighted_km, rel=1e-6)
    assert report["moved_units"] == moved

    total = sum(float(unit["workload"]) for unit in units)
    capacity = {rep_id: float(rep["capacity"]) for rep_id, rep in rep_by_id.items()}
    deviations = []
    for rep_id, rep_load in load.items():
        target = total * capacity[rep_id] / sum(capacity.values())
        assert target * 0.9 - 1e-6 <= rep_load <= target * 1.1 + 1e-6, (rep_id, rep_load)
        deviations.append(abs(rep_load / target - 1))
    assert report["max_balance_deviation"] == pytest.approx(max(deviations), abs=1e-9)


def test_a_disruption_weight_is_charged_for_every_moved_unit(
    us_inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    units_path, reps_path = us_inputs
    code, out, report_path = run_solve(units_path, reps_path, tmp_path, "--tolerance", "0.1",
                                       "--disruption-weight", "100")
    assert code == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    _, units = read_rows(units_path)
    _, plan = read_rows(out)
    owner = {row["unit_id"]: row["rep_id"] for row in plan}
    moved_value = sum(float(u["workload"]) for u in units
                      if owner[u["unit_id"]] != u["current_rep_id"])
    assert report["moved_value"] == pytest.approx(moved_value, rel=1e-9, abs=1e-9)
    assert report["objective"] == pytest.approx(
        report["weighted_distance_km"] + 100 * moved_value, rel=1e-6)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


REPS = "rep_id,lat,lon\nR1,40,-100\nR2,40,-95\n"


def test_bad_input_exits_2_with_one_line_naming_the_file_and_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = write(tmp_path / "units.csv", "unit_id,lat,lon,workload\n"
                                          "U1,40,-100,1\n"
                                          "U2,41,-99,1\n"
                                          "U3,95,-98,1\n"
                                          "U4,42,-97,1\n")
    reps = write(tmp_path / "reps.csv", REPS)
    capsys.readouterr()
    code, out, report = run_solve(units, reps, tmp_path)
    assert code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(units) in lines[0]
    assert "row 4" in lines[0]
    assert "latitude 95" in lines[0]
    assert not out.exists() and not report.exists()


def test_a_bad_setting_exits_2_without_a_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    units = write(tmp_path / "units.csv", "unit_id,lat,lon,workload\nU1,40,-100,1\n")
    reps = write(tmp_path / "reps.csv", REPS)
    capsys.readouterr()
    code, _, report = run_solve(units, reps, tmp_path, "--tolerance", "1.5")
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "tolerance" in lines[0]
    assert not report.exists()


GIANT = ("unit_id,lat,lon,workload\n"
         "G,40,-100,50\n" + "".join(f"S{i},40,{-99 + i},1\n" for i in range(10)))
INDIVISIBLE = "unit_id,lat,lon,workload\nA,40,-100,1\nB,40,-99,1\nC,40,-98,1\n"


@pytest.mark.parametrize(("units_text", "tolerance"), [
    pytest.param(GIANT, "0.1", id="giant-unit"),
    pytest.param(INDIVISIBLE, "0.0", id="indivisible-at-zero-tolerance"),
])
def test_no_plan_exits_3_with_an_infeasible_report(
    tmp_path: Path, units_text: str, tolerance: str
) -> None:
    units = write(tmp_path / "units.csv", units_text)
    reps = write(tmp_path / "reps.csv", REPS)
    code, out, report_path = run_solve(units, reps, tmp_path, "--tolerance", tolerance)
    assert code == 3
    assert not out.exists()
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["status"] == "infeasible"
    assert report["objective"] is None
    assert report["weighted_distance_km"] is None


def test_a_giant_unit_is_named_in_the_report(tmp_path: Path) -> None:
    units = write(tmp_path / "units.csv", GIANT)
    reps = write(tmp_path / "reps.csv", REPS)
    code, _, report_path = run_solve(units, reps, tmp_path, "--tolerance", "0.1")
    assert code == 3
    report = json.loads(report_path.read_text(encoding="utf-8"))
    found = report["infeasibility"]
    assert found["constraint"] == "unit_too_heavy"
    assert found["units"] == ["G"]
    # Total 60 over two reps: a target of 30, so G (50) needs +2/3.
    assert found["tolerance_needed"] == pytest.approx(50 / 30 - 1, rel=1e-9)
    assert found["suggested_tolerance"] >= found["tolerance_needed"]
    assert report["message"].startswith(found["message"])

    code, out, report_path = run_solve(units, reps, tmp_path, "--tolerance",
                                       str(found["suggested_tolerance"]))
    assert code == 0
    _, plan = read_rows(out)
    assert len(plan) == 11
    assert json.loads(report_path.read_text(encoding="utf-8"))["status"] != "infeasible"


def test_an_indivisible_balance_is_named_in_the_report(tmp_path: Path) -> None:
    units = write(tmp_path / "units.csv", INDIVISIBLE)
    reps = write(tmp_path / "reps.csv", REPS)
    code, _, report_path = run_solve(units, reps, tmp_path, "--tolerance", "0.0")
    assert code == 3
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["infeasibility"]["suggested_tolerance"] is not None
