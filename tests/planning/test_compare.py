"""Comparing hand-made versions: territory changes and workloads, quota deltas and the team
waterfall, and the offline HTML report."""

from __future__ import annotations

import html
import json
import re

import pandas as pd
import pytest

from planning.compare import (
    DEFAULT_BAND,
    MEAN_DISTANCE_LABEL,
    BandChanges,
    band_changes,
    change_map,
    change_summary,
    changed_quotas_table,
    compare_versions,
    comparison_figures,
    format_distance,
    kpi_cards,
    mean_distance_text,
    report_html,
    waterfall_range,
)
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


def rep_rows(demo_copy: Workspace, count: int) -> pd.DataFrame:
    return demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id, name, region FROM reps WHERE role = 'rep' ORDER BY rep_id LIMIT ?",
        [count]).df())


def test_quota_change_summary_names_the_largest_rise_and_cut(demo_copy: Workspace) -> None:
    reps = rep_rows(demo_copy, 3)
    ids, names = list(reps["rep_id"]), list(reps["name"])
    a = save(demo_copy, "quota", "A", pd.DataFrame({
        "subject": ids, "amount_cents": [1_000_000_00, 2_000_000_00, 3_000_000_00]}))
    b = save(demo_copy, "quota", "B", pd.DataFrame({
        "subject": ids, "amount_cents": [1_180_000_00, 2_000_000_00, 2_850_000_00]}))
    assert change_summary(demo_copy, a, b) == (
        f"B changes 2 of 3 quotas: quota total +$30K, largest rise {names[0]} +18%, "
        f"largest cut {names[2]} −5%.")


def test_territory_change_summary_counts_moves_revenue_and_balance(demo_copy: Workspace) -> None:
    accounts, _ = accounts_and_reps(demo_copy)
    reps = rep_rows(demo_copy, 2)
    (r1, r2), (n1, n2) = list(reps["rep_id"]), list(reps["name"])
    values = [json.dumps({"workload": 1.0, "value": v})
              for v in (10.0, 1_250_000.0, 10.0, 10.0)]
    a = save(demo_copy, "territory", "A",
             territory_items(accounts, [r1, r1, r2, r2], [1.0] * 4).assign(detail=values),
             {"max_balance_deviation": 0.0})
    b = save(demo_copy, "territory", "B",
             territory_items(accounts, [r1, r2, r2, r2], [1.0] * 4).assign(detail=values),
             {"max_balance_deviation": 0.5})
    regions = dict(zip(reps["rep_id"], reps["region"], strict=True))
    start, end = (regions[r1], regions[r2]) if regions[r1] != regions[r2] else (n1, n2)
    assert change_summary(demo_copy, a, b) == (
        f"B moves 1 account ($1.25M annual revenue), mostly from {start} to {end}; "
        "largest workload deviation from a rep's share 50.0% (A: 0.0%).")


def test_kpi_cards_are_formatted_and_never_nan(demo_copy: Workspace) -> None:
    reps = rep_rows(demo_copy, 2)
    ids = list(reps["rep_id"])
    a = save(demo_copy, "quota", "A", pd.DataFrame({"subject": ids[:1],
                                                    "amount_cents": [55_000_000_00]}),
             {"gini_quota_to_potential": float("nan"), "share_expected_to_reach_100": 0.57})
    b = save(demo_copy, "quota", "B", pd.DataFrame({"subject": ids,
                                                    "amount_cents": [55_000_000_00, 4_100_00]}),
             {"gini_quota_to_potential": 0.31, "share_expected_to_reach_100": 0.6,
              "capacity_gap": 450_542_285.8})
    cards = {card.label: card for card in kpi_cards(compare_versions(demo_copy, a, b))}
    total = cards["Total quota (USD)"]
    assert (total.value, total.delta, total.help) == ("$55M", "+$4.1K vs A", "A: $55M")
    reach = cards["Reps expected to reach 100%"]
    assert (reach.value, reach.delta) == ("60.0%", "+3.0 pts vs A")
    assert cards["Gini of quota ÷ potential"].delta == "new"
    assert cards["Capacity gap (USD)"].value == "$451M"
    text = " ".join(f"{c.label} {c.value} {c.delta} {c.help}" for c in cards.values())
    assert "nan" not in text.lower() and "55,000,000" not in text
    table = changed_quotas_table(compare_versions(demo_copy, a, b), 0.10)
    assert list(table.columns) == ["Rep", "Team", "Quota A", "Quota B", "Change", "Change %",
                                   "Rep id"]
    assert table.iloc[0].to_dict() | {"Team": None} == {
        "Rep": reps["name"][1], "Team": None, "Quota A": "$0", "Quota B": "$4.1K",
        "Change": "+$4.1K", "Change %": "new", "Rep id": ids[1]}


def test_waterfall_zooms_to_small_changes() -> None:
    low, high = waterfall_range(370_000_000.0, [1_000_000.0, -500_000.0], 370_500_000.0)
    assert 360_000_000 < low < 370_000_000 < 371_000_000 < high < 372_000_000
    assert waterfall_range(100.0, [-100.0], 0.0)[0] == 0.0


def test_quota_waterfall_axis_excludes_zero(demo_copy: Workspace) -> None:
    ids = list(rep_rows(demo_copy, 2)["rep_id"])
    a = save(demo_copy, "quota", "A", pd.DataFrame({"subject": ids,
                                                    "amount_cents": [50_000_000_00] * 2}))
    b = save(demo_copy, "quota", "B", pd.DataFrame({
        "subject": ids, "amount_cents": [50_100_000_00, 50_000_000_00]}))
    figure = comparison_figures(compare_versions(demo_copy, a, b))[0]
    assert figure.layout.yaxis.range[0] > 99_000_000


def test_the_report_opens_with_the_change_summary(demo_copy: Workspace) -> None:
    accounts, (r1, r2) = accounts_and_reps(demo_copy)
    a = save(demo_copy, "territory", "A", territory_items(accounts, [r1] * 4, [1.0] * 4))
    b = save(demo_copy, "territory", "B", territory_items(accounts, [r2] * 4, [1.0] * 4))
    text = report_html(compare_versions(demo_copy, a, b))
    summary = change_summary(demo_copy, a, b)
    assert summary.startswith("B moves 4 accounts ($40 annual revenue)")
    assert html.escape(summary) in text
    shown = re.sub(r"<script.*?</script>", "", text, flags=re.S)
    assert "rep_a_name" not in shown and not re.search(r"\bnan\b", shown.lower())
    assert "Account id" in shown and accounts[0] in shown


def test_the_map_insets_alaska_and_hawaii() -> None:
    items = pd.DataFrame({
        "lat": [40.7, 34.0, 61.2, 21.3], "lon": [-74.0, -118.2, -149.9, -157.9],
        "changed": [True, False, True, False], "account": list("ABCD"),
        "rep_a_name": ["x"] * 4, "rep_b_name": ["y"] * 4})
    figure = change_map(items)
    assert figure.layout.xaxis.range[0] > -125 and figure.layout.yaxis.range[1] < 50
    assert figure.layout.xaxis2.title.text == "Alaska"
    assert figure.layout.xaxis3.title.text == "Hawaii"
    assert sorted(len(trace.x) for trace in figure.data) == [0, 0, 1, 1, 1, 1]


def test_territory_summary_counts_reps_leaving_and_entering_the_band(
        demo_copy: Workspace) -> None:
    accounts, _ = accounts_and_reps(demo_copy)
    reps = list(rep_rows(demo_copy, 4)["rep_id"])
    items = territory_items(accounts, reps, [1.0] * 4)
    a = save(demo_copy, "territory", "A", items,
             {"rep_deviation": dict(zip(reps, [0.02, -0.08, 0.3, 0.15], strict=True))})
    b = save(demo_copy, "territory", "B", items.assign(detail=items["detail"].map(
        lambda d: d.replace("10.0", "10.5"))),
        {"rep_deviation": dict(zip(reps, [0.12, -0.2, 0.05, 0.25], strict=True))})
    demo_copy.write(lambda cur: cur.execute(
        "UPDATE plan_versions SET parameters = ? WHERE version_id = ?",
        [json.dumps({"tolerance": 0.1}), b]))
    comparison = compare_versions(demo_copy, a, b)
    band = band_changes(comparison)
    assert band is not None and band.tolerance == 0.1
    assert band.left == tuple(sorted(reps[:2])) and band.joined == (reps[2],)
    assert "; 2 reps leave the ±10% band, 1 comes into it" in change_summary(demo_copy, a, b)


def test_band_words_and_the_default_band(demo_copy: Workspace) -> None:
    assert BandChanges(0.1, ("r1",), ()).words() == "1 rep leaves the ±10% band"
    assert BandChanges(0.05, (), ("r1", "r2")).words() == "2 reps come into the ±5% band"
    assert BandChanges(0.1, (), ()).words() == "no rep leaves or enters the ±10% band"
    accounts, _ = accounts_and_reps(demo_copy)
    reps = list(rep_rows(demo_copy, 4)["rep_id"])
    items = territory_items(accounts, reps, [1.0] * 4)
    a = save(demo_copy, "territory", "A", items,
             {"rep_deviation": dict.fromkeys(reps, 0.0)})
    b = save(demo_copy, "territory", "B", items.assign(subject=accounts[::-1]),
             {"rep_deviation": dict.fromkeys(reps, DEFAULT_BAND * 2)})
    band = band_changes(compare_versions(demo_copy, a, b))
    assert band is not None and band.tolerance == DEFAULT_BAND and len(band.left) == 4
    unsaved = save(demo_copy, "territory", "C", items.assign(previous=None))
    assert band_changes(compare_versions(demo_copy, a, unsaved)) is None
    assert "band" not in change_summary(demo_copy, a, unsaved)


def test_distance_is_a_mean_in_km_on_cards_and_in_the_report(demo_copy: Workspace) -> None:
    accounts, (r1, r2) = accounts_and_reps(demo_copy)
    a = save(demo_copy, "territory", "A", territory_items(accounts, [r1] * 4, [1.0] * 4),
             {"weighted_distance_km": 5.4e14, "mean_distance_km": 412.3})
    b = save(demo_copy, "territory", "B", territory_items(accounts, [r2] * 4, [1.0] * 4),
             {"weighted_distance_km": 6.9e13, "mean_distance_km": 398.0})
    comparison = compare_versions(demo_copy, a, b)
    card = {c.label: c for c in kpi_cards(comparison)}[MEAN_DISTANCE_LABEL]
    assert (card.value, card.delta, card.help) == ("398 km", "−14 km vs A", "A: 412 km")
    shown = re.sub(r"<script.*?</script>", "", report_html(comparison), flags=re.S)
    assert "398 km" in shown and "69T" not in shown and "workload·km" not in shown
    assert mean_distance_text(412.3) == "412 km avg, weighted by potential"
    assert format_distance(8.44) == "8.4 km" and format_distance(None) == "—"


def test_an_older_version_s_distance_is_derived_for_revenue_balanced_plans(
        demo_copy: Workspace) -> None:
    accounts, (r1, r2) = accounts_and_reps(demo_copy)
    a = save(demo_copy, "territory", "A", territory_items(accounts, [r1] * 4, [250.0] * 4),
             {"weighted_distance_km": 300_000.0})
    b = save(demo_copy, "territory", "B", territory_items(accounts, [r2] * 4, [250.0] * 4),
             {"weighted_distance_km": 200_000.0})
    demo_copy.write(lambda cur: cur.execute(
        "UPDATE plan_versions SET parameters = ? WHERE version_id = ?",
        [json.dumps({"balance_measure": "revenue"}), a]))
    kpis = compare_versions(demo_copy, a, b).kpis.set_index("figure")
    assert kpis.loc[MEAN_DISTANCE_LABEL, "a"] == 300.0
    assert kpis.loc[MEAN_DISTANCE_LABEL, "b"] is None


def test_band_changes_of_two_solved_plans_follow_their_reps_deviations(
        demo_copy: Workspace) -> None:
    from planning.access.roles import Role
    from planning.territory.problem import TerritoryScenario
    from planning.territory.solve import solve_territories
    from planning.territory.workspace import save_scenario, workspace_territory
    from tests.conftest import DEMO_AS_OF
    from tests.views.test_pages import demo_user

    territory = workspace_territory(demo_copy, today=DEMO_AS_OF)
    results, ids = [], []
    for name, tolerance in (("Loose", 0.3), ("Tight", 0.1)):
        result = solve_territories(territory.problem, TerritoryScenario(
            tolerance=tolerance, method="heuristic", time_limit=20))
        results.append(result)
        ids.append(save_scenario(demo_copy, territory, result, name,
                                 user=demo_user(demo_copy, Role.REVOPS)))
    within = [set(r.reps.loc[r.reps["deviation"].abs() <= 0.1 + 1e-9, "rep_id"])
              for r in results]
    band = band_changes(compare_versions(demo_copy, *ids))
    assert band is not None and band.tolerance == 0.1
    assert set(band.left) == within[0] - within[1]
    assert set(band.joined) == within[1] - within[0]
    assert band.words() in change_summary(demo_copy, *ids)
    assert "±10% band" in change_summary(demo_copy, *ids)
