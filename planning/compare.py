"""Side-by-side comparison of two plan versions of one kind, and a self-contained report.

Territory: accounts whose rep differs between A and B, each rep's workload in A and in B.
Quota: per-rep and per-team quota changes (the team steps lead from A's total to B's), reps
whose quota moved more than a threshold, and the fairness figures saved with each version.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from planning.errors import RevPlanError
from planning.store import Workspace
from planning.versions import PlanVersion, read_items, read_version


@dataclass(frozen=True)
class Comparison:
    """Two versions and what differs between them."""

    a: PlanVersion
    b: PlanVersion
    items: pd.DataFrame
    """Per subject: territory subject, rep_a, rep_b, workload, value, changed; quota rep_id,
    name, team, quota_a, quota_b (dollars), change, change_share."""
    by_rep: pd.DataFrame
    """Territory: rep, name, workload_a, workload_b. Quota: team, quota_a, quota_b, change."""
    kpis: pd.DataFrame
    """figure, a, b, delta."""


def _detail(text: object, key: str) -> float:
    if not isinstance(text, str):
        return 0.0
    return float(json.loads(text).get(key, 0.0))


def compare_versions(workspace: Workspace, a_id: str, b_id: str) -> Comparison:
    """Compare versions `a_id` and `b_id` (same kind)."""

    def read(cur):
        a, b = read_version(cur, a_id), read_version(cur, b_id)
        if a.kind != b.kind:
            raise RevPlanError(f"{a_id} is a {a.kind} version and {b_id} a {b.kind} version; "
                               "compare versions of one kind.")
        reps = cur.execute("SELECT rep_id, name, team FROM reps").df()
        places = (cur.execute("SELECT account_id AS subject, name AS account, lat, lon "
                              "FROM accounts").df() if a.kind == "territory" else None)
        return a, b, read_items(cur, a_id), read_items(cur, b_id), reps, places

    a, b, items_a, items_b, reps, places = workspace.read_snapshot(read)
    names = dict(zip(reps["rep_id"], reps["name"], strict=True))
    if a.kind == "territory":
        return _compare_territory(a, b, items_a, items_b, names, places)
    teams = dict(zip(reps["rep_id"], reps["team"], strict=True))
    return _compare_quota(a, b, items_a, items_b, names, teams)


def _kpi_rows(a: PlanVersion, b: PlanVersion, keys: dict[str, str]) -> pd.DataFrame:
    rows = []
    for key, label in keys.items():
        first, second = a.metrics.get(key), b.metrics.get(key)
        delta = (second - first) if isinstance(first, int | float) and isinstance(
            second, int | float) else None
        rows.append({"figure": label, "a": first, "b": second, "delta": delta})
    return pd.DataFrame(rows)


def _compare_territory(a, b, items_a, items_b, names, places) -> Comparison:
    merged = items_a.merge(items_b, on="subject", how="outer", suffixes=("_a", "_b"))
    merged["workload"] = [_detail(x, "workload") or _detail(y, "workload")
                          for x, y in zip(merged["detail_a"], merged["detail_b"], strict=True)]
    merged["value"] = [_detail(x, "value") or _detail(y, "value")
                       for x, y in zip(merged["detail_a"], merged["detail_b"], strict=True)]
    items = pd.DataFrame({
        "subject": merged["subject"], "rep_a": merged["assignee_a"],
        "rep_b": merged["assignee_b"], "workload": merged["workload"],
        "value": merged["value"]})
    items["changed"] = items["rep_a"].ne(items["rep_b"])
    items = items.merge(places, on="subject", how="left")
    items["rep_a_name"] = items["rep_a"].map(names)
    items["rep_b_name"] = items["rep_b"].map(names)
    load_a = items.groupby("rep_a")["workload"].sum()
    load_b = items.groupby("rep_b")["workload"].sum()
    reps = sorted(set(load_a.index) | set(load_b.index))
    by_rep = pd.DataFrame({"rep": reps, "name": [names.get(r, r) for r in reps],
                           "workload_a": [float(load_a.get(r, 0.0)) for r in reps],
                           "workload_b": [float(load_b.get(r, 0.0)) for r in reps]})
    kpis = _kpi_rows(a, b, {"max_balance_deviation": "Max balance deviation",
                            "moved_units": "Accounts moved vs the CRM",
                            "weighted_distance_km": "Weighted distance (workload·km)"})
    kpis = pd.concat([kpis, pd.DataFrame([{
        "figure": "Accounts with a different rep (A→B)", "a": None, "b": None,
        "delta": int(items["changed"].sum())}])], ignore_index=True)
    return Comparison(a=a, b=b, items=items, by_rep=by_rep, kpis=kpis)


def _compare_quota(a, b, items_a, items_b, names, teams) -> Comparison:
    merged = items_a.merge(items_b, on="subject", how="outer", suffixes=("_a", "_b"))
    quota_a = merged["amount_cents_a"].astype(float).fillna(0) / 100
    quota_b = merged["amount_cents_b"].astype(float).fillna(0) / 100
    items = pd.DataFrame({
        "rep_id": merged["subject"], "name": merged["subject"].map(names),
        "team": merged["subject"].map(teams).fillna("No team"),
        "quota_a": quota_a, "quota_b": quota_b, "change": quota_b - quota_a})
    items["change_share"] = (items["change"] / items["quota_a"]).where(items["quota_a"] > 0)
    by_team = items.groupby("team")[["quota_a", "quota_b", "change"]].sum().reset_index()
    kpis = _kpi_rows(a, b, {"gini_quota_to_potential": "Gini of quota ÷ potential",
                            "share_expected_to_reach_100": "Reps expected to reach 100%",
                            "capacity_gap": "Capacity gap (USD)",
                            "hires_needed": "Hires needed"})
    totals = pd.DataFrame([{"figure": "Total quota (USD)", "a": float(quota_a.sum()),
                            "b": float(quota_b.sum()),
                            "delta": float(quota_b.sum() - quota_a.sum())},
                           {"figure": "Largest deviation from fair share",
                            "a": a.solver.get("objective"), "b": b.solver.get("objective"),
                            "delta": None}])
    return Comparison(a=a, b=b, items=items, by_rep=by_team,
                      kpis=pd.concat([totals, kpis], ignore_index=True))


def comparison_figures(comparison: Comparison) -> list[go.Figure]:
    """The comparison's charts: per-rep workload (territory) or the team waterfall (quota)."""
    a, b = comparison.a.name, comparison.b.name
    if comparison.a.kind == "territory":
        by_rep = comparison.by_rep
        figure = go.Figure()
        figure.add_bar(x=by_rep["name"], y=by_rep["workload_a"], name=f"A: {a}",
                       marker_color="#1f4e79")
        figure.add_bar(x=by_rep["name"], y=by_rep["workload_b"], name=f"B: {b}",
                       marker_color="#c8702a")
        figure.update_layout(title="Workload per rep, A and B", barmode="group", height=420,
                             yaxis={"title": {"text": "Workload"}}, xaxis={"tickangle": -45},
                             legend={"orientation": "h", "y": 1.1})
        return [figure, change_map(comparison.items)]
    teams = comparison.by_rep
    start, end = float(teams["quota_a"].sum()), float(teams["quota_b"].sum())
    waterfall = go.Figure(go.Waterfall(
        x=["A total", *teams["team"], "B total"],
        measure=["absolute", *["relative"] * len(teams), "total"],
        y=[start, *teams["change"], end], connector={"line": {"color": "#999"}}))
    waterfall.update_layout(title=f"Quota total from A ({a}) to B ({b}) by team", height=420,
                            yaxis={"title": {"text": "USD"}, "tickprefix": "$"})
    return [waterfall]


def change_map(items: pd.DataFrame) -> go.Figure:
    """Accounts on plain lon/lat axes (no map tiles): unchanged in grey, those whose rep
    differs between A and B in colour, with both reps on hover."""
    figure = go.Figure()
    same = items[~items["changed"]]
    moved = items[items["changed"]]
    figure.add_scattergl(x=same["lon"], y=same["lat"], mode="markers", name="Same rep",
                         marker={"size": 4, "color": "#c7c7c7"}, hoverinfo="skip")
    figure.add_scatter(
        x=moved["lon"], y=moved["lat"], mode="markers", name="Different rep (A → B)",
        marker={"size": 9, "color": "#d62728", "line": {"width": 1, "color": "black"}},
        text=[f"{acc}: {ra} → {rb}" for acc, ra, rb in zip(
            moved["account"], moved["rep_a_name"], moved["rep_b_name"], strict=True)],
        hovertemplate="%{text}<extra></extra>")
    figure.update_layout(title=f"Accounts whose rep differs between A and B ({len(moved):,})",
                         height=520, xaxis={"title": {"text": "Longitude (°)"}},
                         yaxis={"title": {"text": "Latitude (°)"}, "scaleanchor": "x",
                                "scaleratio": 1.3},
                         legend={"orientation": "h", "y": 1.05})
    return figure


def report_html(comparison: Comparison, moved_over: float = 0.10) -> str:
    """A self-contained HTML report (Plotly's JavaScript inlined: opens offline)."""
    a, b = comparison.a, comparison.b
    figures = comparison_figures(comparison)
    charts = "".join(figure.to_html(full_html=False, include_plotlyjs=(i == 0))
                     for i, figure in enumerate(figures))
    items = comparison.items
    if a.kind == "territory":
        detail = items[items["changed"]]
        detail_title = "Accounts with a different rep"
    else:
        detail = items[items["change_share"].abs() > moved_over]
        detail_title = f"Reps whose quota moved more than {moved_over:.0%}"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(a.name)} vs {html.escape(b.name)}</title>
<style>body{{font-family:sans-serif;margin:2rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}</style></head><body>
<h1>{html.escape(a.kind.title())} plan: {html.escape(a.name)} (A) vs {html.escape(b.name)} (B)</h1>
<p>A: {html.escape(a.version_id)} · {a.status} · hash {a.content_hash[:12]}<br>
B: {html.escape(b.version_id)} · {b.status} · hash {b.content_hash[:12]}</p>
<h2>Key figures</h2>{comparison.kpis.to_html(index=False, na_rep="—")}
{charts}
<h2>{html.escape(detail_title)} ({len(detail)})</h2>{detail.to_html(index=False, na_rep="—")}
</body></html>"""
