"""Comparing hand-made versions: territory changes and workloads, quota deltas and the team
waterfall, and the offline HTML report."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from planning.compare import compare_versions, comparison_figures, report_html
from planning.errors import RevPlanError
from planning.store import Workspace
from planning.versions import create_version


def save(workspace: Workspace, kind: str, name: str, items: pd.DataFrame,
         metrics: dict | None = None) -> str:
    return workspace.write(lambda cur: create_version(
        cur, kind=kind, name=name, items=items, parameters={"name": name}, solver={},
        metrics=metrics or {}, author="planner@example.com", actor_role=None,
        fiscal_year=2027 if kind == "quota" else None))


def accounts_and_reps(demo_copy: Workspace) -> tuple[list[str], list[str]]:
    accounts = [a for (a,) in demo_copy.read(lambda cur: cur.execute(
        "SELECT account_id FROM accounts ORDER BY account_id LIMIT 4").fetchall())]
    reps = [r for (r,) in demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id FROM reps WHERE role = 'rep' ORDER BY rep_id LIMIT 2").fetchall())]
    return accounts, reps


def territory_items(accounts: list[str], owners: list[str], workloads: list[float]):
    return pd.DataFrame({
        "subject": accounts, "assignee": owners, "previous": owners,
        "detail": [json.dumps({"workload": w, "value": 10.0}) for w in workloads]})


def test_territory_comparison_counts_changes_and_workloads(demo_copy: Workspace) -> None:
    accounts, (r1, r2) = accounts_and_reps(demo_copy)
    a = save(demo_copy, "territory", "A", territory_items(accounts, [r1, r1, r2, r2],
                                                          [1.0, 2.0, 3.0, 4.0]))
    b = save(demo_copy, "territory", "B", territory_items(accounts, [r1, r2, r2, r1],
                                                          [1.0, 2.0, 3.0, 4.0]))
    comparison = compare_versions(demo_copy, a, b)
    changed = comparison.items[comparison.items["changed"]]
    assert sorted(changed["subject"]) == sorted([accounts[1], accounts[3]])
    by_rep = comparison.by_rep.set_index("rep")
    assert by_rep.loc[r1, "workload_a"] == 3.0 and by_rep.loc[r1, "workload_b"] == 5.0
    assert by_rep.loc[r2, "workload_a"] == 7.0 and by_rep.loc[r2, "workload_b"] == 5.0
    kpis = comparison.kpis.set_index("figure")
    assert kpis.loc["Accounts with a different rep (A→B)", "delta"] == 2
    figures = comparison_figures(comparison)
    assert len(figures) == 2
    moved_trace = figures[1].data[1]
    assert len(moved_trace.x) == 2 and moved_trace.x[0] is not None


def test_quota_comparison_deltas_and_waterfall(demo_copy: Workspace) -> None:
    reps = demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id, team FROM reps WHERE role = 'rep' ORDER BY rep_id LIMIT 3").df())
    ids = list(reps["rep_id"])
    a = save(demo_copy, "quota", "A", pd.DataFrame({"subject": ids,
                                                    "amount_cents": [100_00, 200_00, 300_00]}),
             {"gini_quota_to_potential": 0.2})
    b = save(demo_copy, "quota", "B", pd.DataFrame({"subject": ids,
                                                    "amount_cents": [120_00, 200_00, 270_00]}),
             {"gini_quota_to_potential": 0.15})
    comparison = compare_versions(demo_copy, a, b)
    items = comparison.items.set_index("rep_id")
    assert list(items.loc[ids, "change"]) == [20.0, 0.0, -30.0]
    assert items.loc[ids[0], "change_share"] == pytest.approx(0.2)
    assert items.loc[ids[2], "change_share"] == pytest.approx(-0.1)
    kpis = comparison.kpis.set_index("figure")
    assert kpis.loc["Total quota (USD)", "a"] == 600.0
    assert kpis.loc["Total quota (USD)", "delta"] == -10.0
    assert kpis.loc["Gini of quota ÷ potential", "delta"] == pytest.approx(-0.05)
    expected = reps.assign(change=[20.0, 0.0, -30.0]).groupby("team")["change"].sum()
    waterfall = comparison_figures(comparison)[0].data[0]
    assert list(waterfall.x[1:-1]) == list(expected.index)
    assert list(waterfall.y[1:-1]) == list(expected)
    assert waterfall.y[0] + sum(waterfall.y[1:-1]) == waterfall.y[-1] == 590.0


def test_the_report_is_self_contained(demo_copy: Workspace) -> None:
    accounts, (r1, r2) = accounts_and_reps(demo_copy)
    a = save(demo_copy, "territory", "A", territory_items(accounts, [r1] * 4, [1.0] * 4))
    b = save(demo_copy, "territory", "B", territory_items(accounts, [r2] * 4, [1.0] * 4))
    text = report_html(compare_versions(demo_copy, a, b))
    assert not re.findall(r"<script[^>]*\bsrc=", text)
    assert "Plotly.newPlot" in text and text.count('class="plotly-graph-div"') == 2
    assert "Accounts with a different rep (4)" in text


def test_versions_of_different_kinds_are_not_compared(demo_copy: Workspace) -> None:
    accounts, (r1, _) = accounts_and_reps(demo_copy)
    a = save(demo_copy, "territory", "T", territory_items(accounts, [r1] * 4, [1.0] * 4))
    b = save(demo_copy, "quota", "Q", pd.DataFrame({"subject": [r1], "amount_cents": [1]}))
    with pytest.raises(RevPlanError, match="compare versions of one kind"):
        compare_versions(demo_copy, a, b)
