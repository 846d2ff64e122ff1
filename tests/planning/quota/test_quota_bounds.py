"""Quota settings out of their documented range are refused with one line naming the input,
the value and the range, on the command line (exit 2) and in the scenario itself; a
year-over-year cap that pushes the total onto reps without last year's quota says so."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planning.bounds import InputRangeError
from planning.cli import main
from planning.quota.model import QuotaScenario, solve_quotas
from planning.store import Workspace


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--target", "1e17", "target 1e+17 is out of range: give a number from 0.01 to "
     "1,000,000,000,000."),
    ("--target", "1e30", "target 1e+30 is out of range"),
    ("--target", "nan", "target nan is out of range"),
    ("--target", "inf", "target inf is out of range"),
    ("--target", "-5", "target -5 is out of range"),
    ("--target", "0", "target 0 is out of range"),
    ("--max-increase", "nan", "max increase nan is out of range: give a number from 0 to 100."),
    ("--max-increase", "inf", "max increase inf is out of range"),
    ("--max-increase", "-0.1", "max increase -0.1 is out of range"),
    ("--max-increase", "1e30", "max increase 1e+30 is out of range"),
    ("--max-decrease", "1.5", "max decrease 1.5 is out of range: give a number from 0 to 1."),
    ("--max-decrease", "nan", "max decrease nan is out of range"),
    ("--over-assign", "inf", "over-assignment inf is out of range"),
    ("--over-assign", "-1", "over-assignment -1 is out of range"),
    ("--blend", "potential=nan,history=0.5,pipeline=0.5",
     "blend weight potential nan is out of range: give a number from 0 to 1."),
    ("--blend", "potential=inf,history=0,pipeline=0", "blend weight potential inf is out"),
])
def test_a_bad_number_exits_2_with_one_line_naming_it(
        data_dir: Path, demo_copy: Workspace, capsys: pytest.CaptureFixture[str],
        option: str, value: str, words: str) -> None:
    arguments = {"--target": "40000000", "--max-increase": "0.5"} | {option: value}
    started = time.monotonic()
    code = main(["quota", "solve", "--workspace", "demo",
                 *[part for pair in arguments.items() for part in pair]])
    captured = capsys.readouterr()
    assert time.monotonic() - started < 60
    assert code == 2, captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {words}"), lines[0]
    assert captured.out == ""


def test_the_largest_target_allowed_solves_to_the_cent(
        data_dir: Path, demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["quota", "solve", "--workspace", "demo", "--target", "1e12"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "total 1,000,000,000,000.00 (optimal" in captured.out


@pytest.mark.parametrize(("settings", "words"), [
    ({"target_cents": 10**19}, "target 100,000,000,000,000,000.00 is out of range"),
    ({"target_cents": -1}, "target -0.01 is out of range"),
    ({"floor_cents": -100}, "floor -1.00 is out of range"),
    ({"ceiling_cents": 10**15}, "ceiling 10,000,000,000,000.00 is out of range"),
    ({"overrides": {"r1": -5}}, "override for rep r1 -0.05 is out of range"),
    ({"seasonality": (0.25, 0.25, float("nan"), 0.25)}, "seasonality share of Q3 nan is out"),
    ({"target_cents": 10**14, "over_assign": 0.5},
     "target × (1 + over-assignment) 1,500,000,000,000.00 is out of range"),
])
def test_the_scenario_refuses_what_the_page_could_send(settings: dict, words: str) -> None:
    with pytest.raises(InputRangeError) as caught:
        QuotaScenario(**{"target_cents": 100_000_00} | settings)
    assert str(caught.value).startswith(words), str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_infinite_rep_amount_is_refused_naming_the_rep() -> None:
    reps = pd.DataFrame({"rep_id": ["a", "b"], "team": ["t", "t"],
                         "potential": [1.0, np.inf], "history": [1.0, 1.0],
                         "pipeline": [1.0, 1.0], "ramp": [1.0, 1.0],
                         "last_quota": [1.0, np.nan]})
    with pytest.raises(InputRangeError, match=r"^Rep b: potential inf must be a number from 0"):
        solve_quotas(reps, QuotaScenario(target_cents=100_000))


def uneven_reps() -> pd.DataFrame:
    """Four reps with last year's quota of 100 and two new reps without one."""
    return pd.DataFrame({
        "rep_id": ["old1", "old2", "old3", "old4", "new1", "new2"], "team": ["t"] * 6,
        "potential": [100.0] * 6, "history": [100.0] * 6, "pipeline": [100.0] * 6,
        "ramp": [1.0] * 6, "last_quota": [100.0] * 4 + [np.nan] * 2})


def test_a_zero_cap_with_a_large_target_says_who_takes_the_rest() -> None:
    scenario = QuotaScenario(target_cents=60_000_00, max_increase=0.0)
    result = solve_quotas(uneven_reps(), scenario)
    quota = dict(zip(result.allocation["rep_id"], result.allocation["quota_cents"], strict=True))
    assert quota["old1"] == 100_00 and quota["new1"] + quota["new2"] == 60_000_00 - 400_00
    assert len(result.notes) == 1
    note = result.notes[0]
    assert note.startswith("2 rep(s) without last year's quota (new1, new2) are not held by "
                           "the +0% year-over-year cap and take $60K (99% of the total) "
                           "against a fair share of $20K; raise the cap or lower the target")
    assert result.report()["notes"] == [note]
    why = dict(zip(result.allocation["rep_id"], result.allocation["explanation"], strict=True))
    assert "no last year's quota, so the +0% cap does not hold this rep" in why["new1"]
    assert "capped at +0% year over year" in why["old1"]


def test_no_note_when_the_cap_does_not_push_the_total_onto_anyone() -> None:
    result = solve_quotas(uneven_reps(), QuotaScenario(target_cents=600_00, max_increase=0.5))
    assert result.notes == ()
    assert result.report()["notes"] == []
    assert not result.allocation["explanation"].str.contains("does not hold").any()


def test_the_command_line_prints_the_note(
        data_dir: Path, demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["quota", "solve", "--workspace", "demo", "--target", "4000000000",
                 "--max-increase", "0"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    notes = [line for line in captured.out.splitlines() if line.startswith("Note: ")]
    assert len(notes) == 1, captured.out
    assert "without last year's quota" in notes[0]
    assert "are not held by the +0% year-over-year cap" in notes[0]
