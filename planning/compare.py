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
from planning.overview import format_money, format_percent, format_quantity
from planning.store import Workspace
from planning.store import plan_versions as version_queries
from planning.territory.problem import TerritoryScenario
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
    """Territory: rep, name, workload_a, workload_b, capacity (FTE), segment. Quota: team,
    quota_a, quota_b, change."""
    kpis: pd.DataFrame
    """figure, a, b, delta, unit (usd, share, index, accounts, FTE, km)."""


DEFAULT_BAND = TerritoryScenario().tolerance
"""The balance band of a territory version whose scenario tolerance is unknown: the default
scenario's tolerance."""
MEAN_DISTANCE_LABEL = "Average distance to the rep (km, weighted by potential)"


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
        reps, places = version_queries.compare_places(cur, a.kind == "territory")
        return a, b, read_items(cur, a_id), read_items(cur, b_id), reps, places

    a, b, items_a, items_b, reps, places = workspace.read_snapshot(read)
    names = dict(zip(reps["rep_id"], reps["name"], strict=True))
    if a.kind == "territory":
        regions = dict(zip(reps["rep_id"], reps["region"], strict=True))
        capacity = reps.set_index("rep_id")[["capacity", "segment"]]
        return _compare_territory(a, b, items_a, items_b, names, places, regions, capacity)
    teams = dict(zip(reps["rep_id"], reps["team"], strict=True))
    return _compare_quota(a, b, items_a, items_b, names, teams)


def _number(value: object) -> float | None:
    """A finite number, or None for anything missing, NaN or not numeric."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if value != value or value in (float("inf"), float("-inf")) else value


def _kpi_rows(a: PlanVersion, b: PlanVersion,
              keys: dict[str, tuple[str, str]]) -> pd.DataFrame:
    rows = []
    for key, (label, unit) in keys.items():
        first, second = _number(a.metrics.get(key)), _number(b.metrics.get(key))
        delta = second - first if first is not None and second is not None else None
        rows.append({"figure": label, "a": first, "b": second, "delta": delta, "unit": unit})
    return pd.DataFrame(rows)


def _compare_territory(a, b, items_a, items_b, names, places, regions,
                       capacity) -> Comparison:
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
    items["region_a"] = items["rep_a"].map(regions)
    items["region_b"] = items["rep_b"].map(regions)
    load_a = items.groupby("rep_a")["workload"].sum()
    load_b = items.groupby("rep_b")["workload"].sum()
    reps = sorted(set(load_a.index) | set(load_b.index))
    by_rep = pd.DataFrame({"rep": reps, "name": [names.get(r, r) for r in reps],
                           "workload_a": [float(load_a.get(r, 0.0)) for r in reps],
                           "workload_b": [float(load_b.get(r, 0.0)) for r in reps],
                           "capacity": [float(capacity["capacity"].get(r) or 1.0)
                                        for r in reps],
                           "segment": [capacity["segment"].get(r) or "" for r in reps]})
    kpis = _kpi_rows(a, b, {
        "max_balance_deviation": ("Max balance deviation", "share"),
        "moved_units": ("Accounts moved vs the CRM", "accounts")})
    first = _mean_distance(a, float(items.loc[items["rep_a"].notna(), "workload"].sum()))
    second = _mean_distance(b, float(items.loc[items["rep_b"].notna(), "workload"].sum()))
    kpis = pd.concat([kpis, pd.DataFrame([{
        "figure": MEAN_DISTANCE_LABEL, "a": first, "b": second,
        "delta": second - first if first is not None and second is not None else None,
        "unit": "km"}, {
        "figure": "Accounts with a different rep (A→B)", "a": None, "b": None,
        "delta": int(items["changed"].sum()), "unit": "accounts"}])], ignore_index=True)
    return Comparison(a=a, b=b, items=items, by_rep=by_rep, kpis=kpis)


def _mean_distance(version: PlanVersion, total_workload: float) -> float | None:
    """The version's value-weighted mean km; for a version saved before that figure, its
    Σ workload × km over the total workload when the workload was the revenue potential
    (the same weights), else unknown."""
    saved = _number(version.metrics.get("mean_distance_km"))
    if saved is not None:
        return saved
    weighted = _number(version.metrics.get("weighted_distance_km"))
    if (weighted is None or total_workload <= 0
            or version.parameters.get("balance_measure") != "revenue"):
        return None
    return weighted / total_workload


def format_distance(km: float | None) -> str:
    """A distance for people: "412 km", "8.4 km", "1,240 km"; "—" when unknown."""
    number = _number(km)
    if number is None:
        return "—"
    return f"{number:,.1f} km" if abs(number) < 9.95 else f"{number:,.0f} km"


def mean_distance_text(km: float | None) -> str:
    """The mean distance KPI in words: "412 km avg, weighted by potential"."""
    return f"{format_distance(km)} avg, weighted by potential"


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
    kpis = _kpi_rows(a, b, {
        "gini_quota_to_potential": ("Gini of quota ÷ potential", "index"),
        "share_expected_to_reach_100": ("Reps expected to reach 100%", "share"),
        "capacity_gap": ("Capacity gap (USD)", "usd"),
        "hires_needed": ("Hires needed", "FTE")})
    first, second = _number(a.solver.get("objective")), _number(b.solver.get("objective"))
    totals = pd.DataFrame([{"figure": "Total quota (USD)", "a": float(quota_a.sum()),
                            "b": float(quota_b.sum()),
                            "delta": float(quota_b.sum() - quota_a.sum()), "unit": "usd"},
                           {"figure": "Largest deviation from fair share",
                            "a": first, "b": second,
                            "delta": second - first if first is not None and second is not None
                            else None, "unit": "share"}])
    return Comparison(a=a, b=b, items=items, by_rep=by_team,
                      kpis=pd.concat([totals, kpis], ignore_index=True))


@dataclass(frozen=True)
class KpiCard:
    """One KPI ready to show: label with its unit, B's value, the change from A, and A."""

    label: str
    value: str
    delta: str | None
    """"+$1.2M vs A", "new" (only B has it), or None (no A to compare with)."""
    help: str | None


def format_value(value: float | None, unit: str) -> str:
    """A KPI value with its unit: "$1.23M", "41.7%", "0.57", "214 accounts", "2.5 FTE"."""
    number = _number(value)
    if number is None:
        return "—"
    if unit == "usd":
        return format_money(round(number * 100))
    if unit == "share":
        return format_percent(number)
    if unit == "index":
        return f"{number:.2f}"
    if unit == "FTE":
        return f"{number:,.1f} FTE"
    if unit == "accounts":
        return f"{round(number):,} accounts"
    if unit == "km":
        return format_distance(number)
    return f"{format_quantity(number)} {unit}"


def format_delta(delta: float | None, unit: str) -> str:
    """A signed change: "+$4.1M", "−3.2 pts", "+0.05", "+12 accounts"; "—" when unknown."""
    number = _number(delta)
    if number is None:
        return "—"
    size = abs(number)
    shown_as_zero = {"share": size < 0.0005, "index": size < 0.005, "FTE": size < 0.05}
    sign = "+" if number >= 0 or shown_as_zero.get(unit, False) else "−"
    if unit == "usd":
        return sign + format_money(round(size * 100))
    if unit == "share":
        return f"{sign}{size * 100:,.1f} pts"
    if unit == "index":
        return f"{sign}{size:.2f}"
    return sign + format_value(size, unit)


def kpi_cards(comparison: Comparison) -> list[KpiCard]:
    """The comparison's KPIs formatted for cards: never a raw float, never "nan"."""
    cards = []
    for row in comparison.kpis.to_dict("records"):
        first, second, unit = _number(row["a"]), _number(row["b"]), row["unit"]
        if second is None:
            cards.append(KpiCard(row["figure"], format_value(row["delta"], unit), None,
                                 "Counted between A and B"))
            continue
        delta = "new" if first is None else f"{format_delta(row['delta'], unit)} vs A"
        cards.append(KpiCard(row["figure"], format_value(second, unit), delta,
                             None if first is None else f"A: {format_value(first, unit)}"))
    return cards


def _signed_share(change: float) -> str:
    return f"{'+' if change >= 0 else '−'}{abs(change) * 100:.0f}%"


@dataclass(frozen=True)
class BandChanges:
    """Reps of both versions whose workload crosses B's ±tolerance band between A and B."""

    tolerance: float
    left: tuple[str, ...]
    """Reps within the band in A and outside it in B (rep ids)."""
    joined: tuple[str, ...]
    """Reps outside the band in A and within it in B (rep ids)."""

    def words(self) -> str:
        """"6 reps leave the ±10% band, 2 come into it"; "no rep leaves or enters …"."""
        band = f"±{self.tolerance * 100:g}% band"
        left, joined = len(self.left), len(self.joined)
        if not left and not joined:
            return f"no rep leaves or enters the {band}"
        come = "comes" if joined == 1 else "come"
        if not left:
            return f"{_count(joined, 'rep')} {come} into the {band}"
        text = f"{_count(left, 'rep')} {'leaves' if left == 1 else 'leave'} the {band}"
        return text + (f", {joined} {come} into it" if joined else "")


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _deviations(version: PlanVersion) -> dict[str, float] | None:
    saved = version.metrics.get("rep_deviation")
    if not isinstance(saved, dict):
        return None
    return {str(rep): float(value) for rep, value in saved.items()
            if _number(value) is not None}


def band_changes(comparison: Comparison) -> BandChanges | None:
    """Which reps leave or come into B's balance band (the tolerance of B's scenario, else
    A's, else the default scenario's), from each version's saved per-rep deviation from its
    share; None when either version was saved without them."""
    first, second = _deviations(comparison.a), _deviations(comparison.b)
    if first is None or second is None:
        return None
    tolerance = next((value for value in (comparison.b.parameters.get("tolerance"),
                                          comparison.a.parameters.get("tolerance"))
                      if _number(value) is not None), DEFAULT_BAND)
    inside_a = {rep for rep, value in first.items() if abs(value) <= tolerance + 1e-9}
    inside_b = {rep for rep, value in second.items() if abs(value) <= tolerance + 1e-9}
    both = set(first) & set(second)
    return BandChanges(tolerance=float(tolerance),
                       left=tuple(sorted((inside_a - inside_b) & both)),
                       joined=tuple(sorted((inside_b - inside_a) & both)))


def _territory_summary(comparison: Comparison) -> str:
    items, b_name = comparison.items, comparison.b.name
    moved = items[items["changed"]]
    if moved.empty:
        parts = [f"{b_name} gives every account the same rep as A"]
    else:
        count = len(moved)
        text = (f"{b_name} moves {count:,} account{'s' if count != 1 else ''} "
                f"({format_money(round(float(moved['value'].sum()) * 100))} annual revenue)")
        same_region = moved["region_a"].isna() | moved["region_a"].eq(moved["region_b"])
        regions = moved.assign(
            start=moved["region_a"].where(~same_region, moved["rep_a_name"]).fillna("no rep"),
            end=moved["region_b"].where(~same_region, moved["rep_b_name"]).fillna("no rep"))
        regions = regions[regions["start"] != regions["end"]]
        if not regions.empty:
            flows = regions.groupby(["start", "end"])["value"].agg(["size", "sum"])
            start, end = flows.sort_values(["sum", "size"], ascending=False).index[0]
            text += f", mostly from {start} to {end}"
        parts = [text]
    band = band_changes(comparison)
    if band is not None:
        parts.append(band.words())
    first = _number(comparison.a.metrics.get("max_balance_deviation"))
    second = _number(comparison.b.metrics.get("max_balance_deviation"))
    if second is not None:
        band = f"largest workload deviation from a rep's share {format_percent(second)}"
        parts.append(band + ("" if first is None else f" (A: {format_percent(first)})"))
    return "; ".join(parts) + "."


def _quota_summary(comparison: Comparison) -> str:
    items = comparison.items
    total = float(items["change"].sum())
    if total == 0 and not items["change"].any():
        return f"{comparison.b.name} keeps every quota as in A."
    parts = [f"quota total {format_delta(total, 'usd')}"]
    shares = items.dropna(subset=["change_share"])
    if not shares.empty:
        rise = shares.loc[shares["change_share"].idxmax()]
        fall = shares.loc[shares["change_share"].idxmin()]
        if rise["change_share"] > 0:
            parts.append(f"largest rise {rise['name']} {_signed_share(rise['change_share'])}")
        if fall["change_share"] < 0:
            parts.append(f"largest cut {fall['name']} {_signed_share(fall['change_share'])}")
    new = items[(items["quota_a"] == 0) & (items["quota_b"] > 0)]
    if not new.empty:
        parts.append(f"{len(new)} new rep{'s' if len(new) != 1 else ''} with a quota")
    changed = int((items["change"] != 0).sum())
    return (f"{comparison.b.name} changes {changed:,} of {len(items):,} quotas: "
            + ", ".join(parts) + ".")


def describe_changes(comparison: Comparison) -> str:
    """A plan-change summary in words, derived from the diff of A and B."""
    if comparison.a.kind == "territory":
        return _territory_summary(comparison)
    return _quota_summary(comparison)


def change_summary(workspace: Workspace, a_id: str, b_id: str) -> str:
    """What version `b_id` changes against `a_id`, in one or two sentences (for the compare,
    meeting mode, the HTML report and the approver's card)."""
    return describe_changes(compare_versions(workspace, a_id, b_id))


def waterfall_range(start: float, changes: list[float], end: float) -> list[float]:
    """The y-axis range of the A→B waterfall: the span the running total covers, padded, so
    small changes against a large total are visible (0 stays only when the span reaches it)."""
    running = [start]
    for change in changes:
        running.append(running[-1] + change)
    running.append(end)
    low, high = min(running), max(running)
    pad = max((high - low) * 0.25, abs(high) * 0.002, 1.0)
    low = low - pad if low - pad > 0 or low < 0 else 0.0
    return [low, high + pad]


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
    changes = [float(c) for c in teams["change"]]
    texts = [format_money(round(start * 100)),
             *[format_delta(c, "usd") for c in changes], format_money(round(end * 100))]
    waterfall = go.Figure(go.Waterfall(
        x=["A total", *teams["team"], "B total"],
        measure=["absolute", *["relative"] * len(teams), "total"],
        y=[start, *changes, end], text=texts, textposition="outside",
        connector={"line": {"color": "#999"}}))
    waterfall.update_layout(
        title=f"Quota total from A ({a}) to B ({b}) by team (axis zoomed to the changes)",
        height=420, yaxis={"title": {"text": "USD"}, "tickprefix": "$", "tickformat": "~s",
                           "range": waterfall_range(start, changes, end)})
    return [waterfall]


MAINLAND = {"lon": (-125.0, -66.5), "lat": (24.3, 49.5)}
ALASKA = {"lon": (-170.0, -129.0), "lat": (51.0, 71.5)}
HAWAII = {"lon": (-160.5, -154.5), "lat": (18.8, 22.4)}


def _within(items: pd.DataFrame, box: dict[str, tuple[float, float]]) -> pd.Series:
    return (items["lon"].between(*box["lon"]) & items["lat"].between(*box["lat"]))


def change_map(items: pd.DataFrame) -> go.Figure:
    """Accounts on lon/lat axes (no map tiles, works offline): the contiguous states fitted to
    the frame, Alaska and Hawaii in small insets when they have accounts; unchanged accounts
    grey, those whose rep differs between A and B in colour, with both reps on hover."""
    figure = go.Figure()
    places = items.dropna(subset=["lat", "lon"])
    alaska, hawaii = _within(places, ALASKA), _within(places, HAWAII)
    panels = [("", places[~alaska & ~hawaii], None)]
    if alaska.any():
        panels.append(("2", places[alaska], {"x": [0.0, 0.2], "y": [0.0, 0.25]}))
    if hawaii.any():
        panels.append(("3", places[hawaii], {"x": [0.21, 0.33], "y": [0.0, 0.15]}))
    for suffix, panel, _ in panels:
        same, moved = panel[~panel["changed"]], panel[panel["changed"]]
        axes = {"xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        figure.add_scattergl(x=same["lon"], y=same["lat"], mode="markers", name="Same rep",
                             marker={"size": 4, "color": "#c7c7c7"}, hoverinfo="skip",
                             showlegend=not suffix, **axes)
        figure.add_scatter(
            x=moved["lon"], y=moved["lat"], mode="markers", name="Different rep (A → B)",
            marker={"size": 9, "color": "#d62728", "line": {"width": 1, "color": "black"}},
            text=[f"{acc}: {ra} → {rb}" for acc, ra, rb in zip(
                moved["account"], moved["rep_a_name"], moved["rep_b_name"], strict=True)],
            hovertemplate="%{text}<extra></extra>", showlegend=not suffix, **axes)
    mainland = panels[0][1]
    lon_range, lat_range = list(MAINLAND["lon"]), list(MAINLAND["lat"])
    if len(mainland):
        lon_range = [float(mainland["lon"].min()) - 1, float(mainland["lon"].max()) + 1]
        lat_range = [float(mainland["lat"].min()) - 1, float(mainland["lat"].max()) + 1]
    moved_count = int(places["changed"].sum())
    figure.update_layout(
        title=f"Accounts whose rep differs between A and B ({moved_count:,})", height=560,
        xaxis={"title": {"text": "Longitude (°)"}, "range": lon_range},
        yaxis={"title": {"text": "Latitude (°)"}, "range": lat_range, "scaleanchor": "x",
               "scaleratio": 1.3},
        legend={"orientation": "h", "y": 1.05}, margin={"l": 60, "r": 20, "t": 80, "b": 60})
    for suffix, _panel, domain in panels[1:]:
        box = ALASKA if suffix == "2" else HAWAII
        name = "Alaska" if suffix == "2" else "Hawaii"
        inset = {"domain": domain["x"], "range": list(box["lon"]), "showticklabels": False,
                 "showgrid": False, "zeroline": False, "mirror": True, "showline": True,
                 "linecolor": "#888", "title": {"text": name, "standoff": 2,
                                                "font": {"size": 11}}}
        figure.update_layout({
            f"xaxis{suffix}": {**inset, "anchor": f"y{suffix}"},
            f"yaxis{suffix}": {"domain": domain["y"], "range": list(box["lat"]),
                               "anchor": f"x{suffix}", "showticklabels": False,
                               "showgrid": False, "zeroline": False, "mirror": True,
                               "showline": True, "linecolor": "#888"}})
    return figure


def changed_accounts_table(comparison: Comparison) -> pd.DataFrame:
    """Accounts whose rep differs, by name with the CRM id beside them, for people."""
    moved = comparison.items[comparison.items["changed"]]
    moved = moved.sort_values("value", ascending=False)
    return pd.DataFrame({
        "Account": moved["account"].fillna(moved["subject"]),
        "From (A)": moved["rep_a_name"].fillna(moved["rep_a"]).fillna("no rep"),
        "To (B)": moved["rep_b_name"].fillna(moved["rep_b"]).fillna("no rep"),
        "Annual revenue": [format_money(round(v * 100)) for v in moved["value"]],
        "Workload": [format_quantity(w) if w >= 1000 else f"{w:,.2f}"
                     for w in moved["workload"]],
        "Account id": moved["subject"]})


def changed_quotas_table(comparison: Comparison, moved_over: float) -> pd.DataFrame:
    """Reps whose quota moved more than `moved_over` (or who are new), formatted, by name."""
    items = comparison.items
    shares = items["change_share"]
    chosen = items[(shares.abs() > moved_over) | (shares.isna() & (items["change"] != 0))]
    chosen = chosen.reindex(chosen["change"].abs().sort_values(ascending=False).index)
    return pd.DataFrame({
        "Rep": chosen["name"].fillna(chosen["rep_id"]), "Team": chosen["team"],
        "Quota A": [format_money(round(v * 100)) for v in chosen["quota_a"]],
        "Quota B": [format_money(round(v * 100)) for v in chosen["quota_b"]],
        "Change": [format_delta(v, "usd") for v in chosen["change"]],
        "Change %": ["new" if s != s else _signed_share(s) for s in chosen["change_share"]],
        "Rep id": chosen["rep_id"]})


def report_html(comparison: Comparison, moved_over: float = 0.10) -> str:
    """A self-contained HTML report (Plotly's JavaScript inlined: opens offline) opening with
    the change summary; every figure formatted, people and accounts by name."""
    a, b = comparison.a, comparison.b
    figures = comparison_figures(comparison)
    charts = "".join(figure.to_html(full_html=False, include_plotlyjs=(i == 0))
                     for i, figure in enumerate(figures))
    if a.kind == "territory":
        detail = changed_accounts_table(comparison)
        detail_title = "Accounts with a different rep"
    else:
        detail = changed_quotas_table(comparison, moved_over)
        detail_title = f"Reps whose quota moved more than {moved_over:.0%}"
    kpis = pd.DataFrame([{"Figure": card.label, "B": card.value,
                          "Change vs A": card.delta or "—",
                          "A": (card.help or "").removeprefix("A: ") or "—"}
                         for card in kpi_cards(comparison)])
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(a.name)} vs {html.escape(b.name)}</title>
<style>body{{font-family:sans-serif;margin:2rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
.summary{{font-size:1.2rem;background:#f3f6fa;padding:0.8rem 1rem;border-left:4px solid #1f4e79}}
</style></head><body>
<h1>{html.escape(a.kind.title())} plan: {html.escape(a.name)} (A) vs {html.escape(b.name)} (B)</h1>
<p class="summary">{html.escape(describe_changes(comparison))}</p>
<p>A: {html.escape(a.version_id)} · {a.status} · hash {a.content_hash[:12]}<br>
B: {html.escape(b.version_id)} · {b.status} · hash {b.content_hash[:12]}</p>
<h2>Key figures</h2>{kpis.to_html(index=False, na_rep="—")}
{charts}
<h2>{html.escape(detail_title)} ({len(detail)})</h2>{detail.to_html(index=False, na_rep="—")}
</body></html>"""
