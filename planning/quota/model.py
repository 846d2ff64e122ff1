"""Quota allocation: split a company bookings target across reps as a Pyomo LP solved by HiGHS.

Each rep's fair share blends their shares of potential, trailing bookings and open pipeline
(each scaled by the rep's ramp for the year). Quotas must add up to the target × (1 + over-
assignment), respect year-over-year caps against last year's quota, floors and ceilings, team
totals when fixed, and manual overrides. Lexicographic objective: first the largest relative
deviation from fair share is minimised, then (with that held) the total relative deviation.
Amounts are solved in dollars and delivered in whole cents adding up exactly to the total.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
import pyomo.environ as pyo

from planning.bounds import (
    MAX_AMOUNT,
    MAX_AMOUNT_CENTS,
    MAX_INCREASE,
    InputRangeError,
    check_cents,
    check_number,
)
from planning.errors import RevPlanError
from planning.overview import format_money

MEASURES = ("potential", "history", "pipeline")
MEASURE_WORDS = {"potential": "potential", "history": "history", "pipeline": "pipeline"}
INPUT_COLUMNS = ("rep_id", "team", "potential", "history", "pipeline", "ramp", "last_quota")
"""Per rep, in dollars: potential, trailing bookings, open pipeline; ramp (0-1] is the share
of the year the rep is expected to be fully productive; last_quota may be NaN (no record).
An optional `name` column is kept to name reps in messages."""
TIE = 1e-7
"""Relative slack on the first-stage optimum when the second stage holds it."""


class QuotaInfeasibleError(RevPlanError):
    """The caps, floors, ceilings, team totals or overrides cannot add up to the total."""

    def __init__(self, message: str, binding: list[str], shortfall_cents: int,
                 suggestion: str | None = None) -> None:
        super().__init__(message + (f" {suggestion}" if suggestion else ""))
        self.binding = binding
        self.shortfall_cents = shortfall_cents
        self.suggestion = suggestion


@dataclass(frozen=True)
class QuotaScenario:
    """Settings of one quota allocation."""

    target_cents: int
    blend: dict[str, float] = field(
        default_factory=lambda: {"potential": 0.5, "history": 0.3, "pipeline": 0.2})
    over_assign: float = 0.0
    max_increase: float | None = None
    """Largest rise over last year's quota (0.25 = +25 %); reps without one are not capped."""
    max_decrease: float | None = None
    floor_cents: int | None = None
    ceiling_cents: int | None = None
    team_totals: str = "free"
    """'free', or 'fixed': each team's total stays at its reps' summed fair shares."""
    overrides: dict[str, int] = field(default_factory=dict)
    """Rep id -> quota in cents set by hand; the others rebalance to keep the total."""
    seasonality: tuple[float, float, float, float] = (0.25, 0.25, 0.25, 0.25)

    def __post_init__(self) -> None:
        check_cents("target", self.target_cents)
        unknown = set(self.blend) - set(MEASURES)
        if unknown:
            raise RevPlanError(f"Unknown blend measure(s) {sorted(unknown)}; use "
                               f"{', '.join(MEASURES)}.")
        for measure, weight in self.blend.items():
            check_number(f"blend weight {measure}", weight, 0.0, 1.0)
        if not math.isclose(sum(self.blend.values()), 1.0, abs_tol=1e-6):
            raise RevPlanError("Blend weights must be zero or more and add up to 1, e.g. "
                               "potential=0.5,history=0.3,pipeline=0.2.")
        check_number("over-assignment", self.over_assign, 0.0, 1.0)
        if self.max_increase is not None:
            check_number("max increase", self.max_increase, 0.0, MAX_INCREASE)
        if self.max_decrease is not None:
            check_number("max decrease", self.max_decrease, 0.0, 1.0)
        for name in ("floor_cents", "ceiling_cents"):
            if getattr(self, name) is not None:
                check_cents(name.removesuffix("_cents"), getattr(self, name), allow_zero=True)
        for rep, cents in self.overrides.items():
            check_cents(f"override for rep {rep}", cents, allow_zero=True)
        if self.team_totals not in ("free", "fixed"):
            raise RevPlanError("team totals must be 'free' or 'fixed'.")
        if (self.floor_cents is not None and self.ceiling_cents is not None
                and self.floor_cents > self.ceiling_cents):
            raise RevPlanError("The floor is above the ceiling.")
        if len(self.seasonality) != 4:
            raise RevPlanError("Seasonality needs four non-negative shares adding up to 1.")
        for quarter, share in enumerate(self.seasonality, start=1):
            check_number(f"seasonality share of Q{quarter}", share, 0.0, 1.0)
        if self.total_cents > MAX_AMOUNT_CENTS:
            raise InputRangeError(
                f"target × (1 + over-assignment) {self.total_cents / 100:,.2f} is out of "
                f"range: the total may be at most {MAX_AMOUNT:,.0f}.")
        if not math.isclose(sum(self.seasonality), 1.0, abs_tol=1e-6):
            raise RevPlanError("Seasonality needs four non-negative shares adding up to 1.")

    @property
    def total_cents(self) -> int:
        """The quota total: target × (1 + over-assignment), in whole cents."""
        return int(round(self.target_cents * (1 + self.over_assign)))


@dataclass(frozen=True)
class QuotaResult:
    """An allocation with the solver's statistics."""

    status: str
    objective: float
    """The largest relative deviation from fair share (first stage)."""
    total_deviation: float
    """Σ |quota − fair| / fair (second stage, with the first held)."""
    bound: float
    seconds: float
    allocation: pd.DataFrame
    """rep_id, team, fair_cents, quota_cents, q1..q4_cents, low_cents, high_cents,
    last_quota_cents, binding, explanation."""
    scenario: QuotaScenario
    notes: tuple[str, ...] = ()
    """Sentences about the allocation a planner must not miss (e.g. the reps a year-over-year
    cap does not hold taking what the capped reps cannot)."""

    @property
    def total_cents(self) -> int:
        return int(self.allocation["quota_cents"].sum())

    def report(self) -> dict[str, object]:
        """The JSON report: status, objective, bound, seconds, total and the settings."""
        s = self.scenario
        return {
            "status": self.status, "objective": self.objective, "bound": self.bound,
            "total_deviation": self.total_deviation, "seconds": round(self.seconds, 4),
            "total": self.total_cents / 100, "total_cents": self.total_cents,
            "reps": len(self.allocation), "notes": list(self.notes),
            "scenario": {
                "target": s.target_cents / 100, "blend": s.blend, "over_assign": s.over_assign,
                "max_increase": s.max_increase, "max_decrease": s.max_decrease,
                "floor": None if s.floor_cents is None else s.floor_cents / 100,
                "ceiling": None if s.ceiling_cents is None else s.ceiling_cents / 100,
                "team_totals": s.team_totals,
                "overrides": {k: v / 100 for k, v in sorted(s.overrides.items())},
                "seasonality": list(s.seasonality),
            },
        }


def check_inputs(reps: pd.DataFrame) -> pd.DataFrame:
    """The rep table with its columns checked and typed; RevPlanError naming the problem."""
    missing = [c for c in INPUT_COLUMNS if c not in reps.columns]
    if missing:
        raise RevPlanError(f"Quota inputs miss column(s): {', '.join(missing)}.")
    if reps.empty:
        raise RevPlanError("There are no reps to give quotas to.")
    frame = reps.loc[:, list(INPUT_COLUMNS)].copy()
    frame["rep_id"] = frame["rep_id"].astype(str)
    names = reps["name"] if "name" in reps.columns else pd.Series(index=reps.index, dtype=object)
    frame["name"] = names.where(names.notna(), None)
    if frame["rep_id"].duplicated().any():
        raise RevPlanError(f"Rep {frame.loc[frame['rep_id'].duplicated(), 'rep_id'].iat[0]} "
                           "appears twice.")
    frame["team"] = frame["team"].where(frame["team"].notna(), "No team").astype(str)
    for column in ("potential", "history", "pipeline", "ramp", "last_quota"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column, top in (("potential", MAX_AMOUNT), ("history", MAX_AMOUNT),
                        ("pipeline", MAX_AMOUNT), ("ramp", 1.0)):
        bad = frame[column].isna() | (frame[column] < 0) | (frame[column] > top)
        if bad.any():
            meaning = " (the productive share of the year)" if column == "ramp" else ""
            raise InputRangeError(f"Rep {frame.loc[bad, 'rep_id'].iat[0]}: {column} "
                                  f"{frame.loc[bad, column].iat[0]:g} must be a number from 0 "
                                  f"to {top:,.0f}{meaning}.")
    bad = frame["last_quota"].notna() & ~frame["last_quota"].between(0, MAX_AMOUNT)
    if bad.any():
        raise InputRangeError(f"Rep {frame.loc[bad, 'rep_id'].iat[0]}: last year's quota "
                              f"{frame.loc[bad, 'last_quota'].iat[0]:g} must be from 0 to "
                              f"{MAX_AMOUNT:,.0f}.")
    return frame.reset_index(drop=True)


def fair_shares(reps: pd.DataFrame, scenario: QuotaScenario) -> np.ndarray:
    """Each rep's blended share of the quota total, in dollars (adds up to the total)."""
    total = scenario.total_cents / 100
    ramp = reps["ramp"].to_numpy(dtype=float)
    share = np.zeros(len(reps))
    for measure, weight in scenario.blend.items():
        if weight == 0:
            continue
        basis = reps[measure].to_numpy(dtype=float) * ramp
        if basis.sum() <= 0:
            raise RevPlanError(f"No rep has any {measure}; give it no weight in the blend.")
        share += weight * basis / basis.sum()
    return total * share


def bounds(reps: pd.DataFrame, scenario: QuotaScenario) -> tuple[np.ndarray, np.ndarray,
                                                                  list[list[str]]]:
    """Lower and upper quota of each rep in dollars, and what sets each (for words)."""
    n = len(reps)
    low, high = np.zeros(n), np.full(n, np.inf)
    why: list[list[str]] = [[] for _ in range(n)]
    last = reps["last_quota"].to_numpy(dtype=float)
    known = ~np.isnan(last)
    if scenario.max_increase is not None:
        cap = np.where(known, last * (1 + scenario.max_increase), np.inf)
        high = np.minimum(high, cap)
    if scenario.max_decrease is not None:
        low = np.maximum(low, np.where(known, last * (1 - scenario.max_decrease), 0.0))
    if scenario.floor_cents is not None:
        low = np.maximum(low, scenario.floor_cents / 100)
    if scenario.ceiling_cents is not None:
        high = np.minimum(high, scenario.ceiling_cents / 100)
    ids = reps["rep_id"].tolist()
    unknown = sorted(set(scenario.overrides) - set(ids))
    if unknown:
        raise RevPlanError(f"Override for unknown rep(s): {', '.join(unknown)}.")
    names = reps["name"].tolist() if "name" in reps.columns else [None] * n
    for rep, cents in scenario.overrides.items():
        i = ids.index(rep)
        value = cents / 100
        if value < low[i] - 1e-6 or value > high[i] + 1e-6:
            limits = (f"{format_money(round(low[i] * 100))}–{format_money(round(high[i] * 100))}"
                      if np.isfinite(high[i]) else f"at least {format_money(round(low[i] * 100))}")
            raise RevPlanError(
                f"Override of {format_money(cents)} for {rep_words(rep, names[i])} is outside "
                f"their limits ({limits}); widen the caps or choose another amount.")
        low[i] = high[i] = value
        why[i].append("override")
    return low, high, why


def rep_words(rep_id: str, name: object) -> str:
    """A rep in a message: "Harper Garcia (005…3)", or "rep 005…3" when the name is unknown."""
    if isinstance(name, str) and name.strip() and name.strip() != rep_id:
        return f"{name.strip()} ({rep_id})"
    return f"rep {rep_id}"


def _cents_up(amount: np.ndarray) -> np.ndarray:
    return np.ceil(np.asarray(amount, dtype=float) * 100 - 1e-6)


def _cents_down(amount: np.ndarray) -> np.ndarray:
    values = np.asarray(amount, dtype=float)
    return np.where(np.isfinite(values), np.floor(values * 100 + 1e-6), np.inf)


def _check_feasible(reps: pd.DataFrame, scenario: QuotaScenario, fair: np.ndarray,
                    low: np.ndarray, high: np.ndarray) -> None:
    """Refuse, naming the binding limits, when they cannot add up to the total (in whole
    cents, as the allocation will be)."""
    ids_all = reps["rep_id"].tolist()
    crossed = np.flatnonzero(_cents_up(low) > _cents_down(high))
    if len(crossed):
        names = [ids_all[k] for k in crossed]
        first = int(crossed[0])
        raise QuotaInfeasibleError(
            f"The lower limit of {len(names)} rep(s) is above their upper limit "
            f"({', '.join(names[:5])}{' …' if len(names) > 5 else ''}; rep {names[0]}: at "
            f"least {low[first]:,.2f}, at most {high[first]:,.2f}).",
            binding=names, shortfall_cents=0)
    groups = [("the company", np.ones(len(reps), dtype=bool), scenario.total_cents)]
    if scenario.team_totals == "fixed":
        teams = reps["team"].to_numpy()
        groups += [(f"team {t}", teams == t, int(round(fair[teams == t].sum() * 100)))
                   for t in sorted(set(teams))]
    for name, members, amount_cents in groups:
        top = float(_cents_down(high[members]).sum())
        bottom = float(_cents_up(low[members]).sum())
        ids = reps.loc[members, "rep_id"].tolist()
        if top < amount_cents:
            capped = [ids[k] for k in np.flatnonzero(np.isfinite(high[members]))]
            suggestion = _increase_needed(reps[members], scenario, amount_cents)
            raise QuotaInfeasibleError(
                f"The caps cannot add up to {name}'s total: at most {top / 100:,.2f} against "
                f"{amount_cents / 100:,.2f}, {(amount_cents - top) / 100:,.2f} short. "
                f"Binding: the upper limits of {len(capped)} rep(s) ({', '.join(capped[:5])}"
                f"{' …' if len(capped) > 5 else ''}).",
                binding=capped, shortfall_cents=int(amount_cents - top),
                suggestion=suggestion)
        if bottom > amount_cents:
            floored = [ids[k] for k in np.flatnonzero(low[members] > 0)]
            raise QuotaInfeasibleError(
                f"The floors are above {name}'s total: at least {bottom / 100:,.2f} against "
                f"{amount_cents / 100:,.2f}, {(bottom - amount_cents) / 100:,.2f} over. "
                f"Binding: the lower limits of {len(floored)} rep(s) "
                f"({', '.join(floored[:5])}{' …' if len(floored) > 5 else ''}).",
                binding=floored, shortfall_cents=-int(bottom - amount_cents))


MAX_SUGGESTED_PER_MILLE = 100_000
"""Suggested year-over-year caps go up to +10,000 %."""


def _increase_needed(reps: pd.DataFrame, scenario: QuotaScenario,
                     amount_cents: int) -> str | None:
    """The smallest year-over-year cap, in 0.1 % steps, whose limits reach `amount_cents`."""
    if scenario.max_increase is None or (reps["rep_id"].isin(scenario.overrides)).any():
        return None
    last = reps["last_quota"].to_numpy(dtype=float)
    if np.isnan(last).any():
        return None
    ceiling = np.inf if scenario.ceiling_cents is None else scenario.ceiling_cents / 100

    def reaches(per_mille: int) -> bool:
        top = _cents_down(np.minimum(last * (1 + per_mille / 1000), ceiling)).sum()
        return bool(top >= amount_cents)

    low = math.ceil(scenario.max_increase * 1000 - 1e-9)
    high = MAX_SUGGESTED_PER_MILLE
    if not reaches(high):
        where = " under the ceiling" if scenario.ceiling_cents is not None else ""
        return f"No year-over-year cap up to +10,000% reaches it{where}."
    while low < high:
        middle = (low + high) // 2
        if reaches(middle):
            high = middle
        else:
            low = middle + 1
    return f"A year-over-year cap of +{high / 10:.1f}% would reach it."


def solve_quotas(reps: pd.DataFrame, scenario: QuotaScenario) -> QuotaResult:
    """Allocate the scenario's total to `reps` (see the module docstring)."""
    started = time.perf_counter()
    reps = check_inputs(reps)
    fair = fair_shares(reps, scenario)
    low, high, why = bounds(reps, scenario)
    if scenario.overrides:
        fixed = reps["rep_id"].isin(scenario.overrides).to_numpy()
        rest = scenario.total_cents / 100 - low[fixed].sum()
        if (~fixed).any() and fair[~fixed].sum() > 0:
            fair = np.where(fixed, low, fair * rest / fair[~fixed].sum())
    _check_feasible(reps, scenario, fair, low, high)
    n = len(reps)
    total = scenario.total_cents / 100
    scale = max(total / n, 1.0)
    weight = scale / np.maximum(fair, 0.01 * total / n)
    solved = _solve_lexicographic(reps, scenario, total / scale, fair / scale, low / scale,
                                  high / scale, weight)
    dollars = solved.quota * scale
    cents = whole_cents(dollars, scenario.total_cents, low, high)
    allocation = _allocation(reps, scenario, fair, cents, low, high, why)
    note = uncapped_note(reps, scenario, fair, cents)
    return QuotaResult(status=solved.status, objective=solved.max_deviation,
                       total_deviation=solved.total_deviation, bound=solved.bound,
                       seconds=time.perf_counter() - started, allocation=allocation,
                       scenario=scenario, notes=(note,) if note else ())


UNCAPPED_SURPLUS = 0.05
"""Reps outside the year-over-year cap are named once they take this much above fair share."""


def _uncapped(reps: pd.DataFrame, scenario: QuotaScenario, fair: np.ndarray,
              cents: np.ndarray) -> np.ndarray:
    """Reps without last year's quota (so outside the year-over-year cap) whose quota is
    above their fair share while the cap is set: they take what the capped reps cannot."""
    if scenario.max_increase is None:
        return np.zeros(len(reps), dtype=bool)
    free = (reps["last_quota"].isna().to_numpy()
            & ~reps["rep_id"].isin(scenario.overrides).to_numpy())
    return free & (cents > fair * 100 * (1 + UNCAPPED_SURPLUS))


def uncapped_note(reps: pd.DataFrame, scenario: QuotaScenario, fair: np.ndarray,
                  cents: np.ndarray) -> str | None:
    """One sentence when the year-over-year cap pushes the total onto the reps it does not
    hold (those without last year's quota), e.g. `--max-increase 0` with a much larger
    target; None when it does not."""
    taking = _uncapped(reps, scenario, fair, cents)
    if not taking.any():
        return None
    ids = reps.loc[taking, "rep_id"].tolist()
    share = cents[taking].sum() / max(int(cents.sum()), 1)
    return (f"{len(ids)} rep(s) without last year's quota ({', '.join(ids[:5])}"
            f"{' …' if len(ids) > 5 else ''}) are not held by the +{scenario.max_increase:.0%} "
            f"year-over-year cap and take {_money(cents[taking].sum())} ({share:.0%} of the "
            f"total) against a fair share of {_money(fair[taking].sum() * 100)}; raise the cap "
            "or lower the target to spread it.")


@dataclass(frozen=True)
class _Solved:
    status: str
    max_deviation: float
    total_deviation: float
    bound: float
    quota: np.ndarray


def quota_model(reps: pd.DataFrame, scenario: QuotaScenario, total: float, fair: np.ndarray,
                low: np.ndarray, high: np.ndarray, weight: np.ndarray) -> pyo.ConcreteModel:
    """The allocation LP in scaled units (`total` and the arrays alike): quota = fair + over
    − under.

    Quota limits become bounds on over and under, so the rows are one spread row per rep
    (weight × |quota − fair| ≤ z), the total, and one per team when team totals are fixed.
    """
    n = len(reps)
    over_low = np.maximum(low - fair, 0.0)
    over_high = np.where(np.isfinite(high), np.maximum(high - fair, 0.0), np.inf)
    under_low = np.where(np.isfinite(high), np.maximum(fair - high, 0.0), 0.0)
    under_high = np.maximum(fair - low, 0.0)
    m = pyo.ConcreteModel("quotas")
    m.over = pyo.Var(range(n), bounds=lambda _, i: (
        float(over_low[i]), float(over_high[i]) if np.isfinite(over_high[i]) else None))
    m.under = pyo.Var(range(n), bounds=lambda _, i: (float(under_low[i]),
                                                     float(under_high[i])))
    m.z = pyo.Var(domain=pyo.NonNegativeReals)
    m.spread = pyo.Constraint(range(n), rule=lambda _, i: float(weight[i]) * (
        m.over[i] + m.under[i]) <= m.z)
    m.total = pyo.Constraint(expr=pyo.quicksum(m.over[i] - m.under[i] for i in range(n))
                             == float(total - fair.sum()))
    if scenario.team_totals == "fixed":
        teams = reps["team"].to_numpy()
        names = sorted(set(teams))
        m.team = pyo.Constraint(range(len(names)), rule=lambda _, k: pyo.quicksum(
            m.over[i] - m.under[i] for i in np.flatnonzero(teams == names[k])) == 0.0)
    m.objective = pyo.Objective(expr=m.z)
    return m


def _solve_lexicographic(reps: pd.DataFrame, scenario: QuotaScenario, total: float,
                         fair: np.ndarray, low: np.ndarray, high: np.ndarray,
                         weight: np.ndarray) -> _Solved:
    """Stage 1: min z. Stage 2: z held at its optimum, min Σ weight × (over + under).

    Pyomo writes the model as an LP file and HiGHS (interior point with crossover) solves
    both stages on it: Pyomo's persistent interface spends seconds per 10,000 rows, and
    simplex stalls on the minimax's ties.
    """
    model = quota_model(reps, scenario, total, fair, low, high, weight)
    with tempfile.TemporaryDirectory(prefix="revplan-quota-") as folder:
        path = Path(folder) / "quotas.lp"
        _, symbols = model.write(str(path),
                                 io_options={"symbolic_solver_labels": False})
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("solver", "ipm")
        highs.setOptionValue("threads", 1)
        highs.readModel(str(path))
    symbol_map = model.solutions.symbol_map[symbols]
    column = {id(symbol_map.bySymbol[name]): k
              for k, name in enumerate(highs.getLp().col_names_)}
    n = len(reps)
    over = np.array([column[id(model.over[i])] for i in range(n)])
    under = np.array([column[id(model.under[i])] for i in range(n)])
    z = column[id(model.z)]
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RevPlanError(f"The quota model was not solved ({highs.modelStatusToString(status)}).")
    z_star = float(highs.getInfo().objective_function_value)
    costs = np.concatenate([weight, weight, [0.0]])
    columns = np.concatenate([over, under, [z]]).astype(np.int32)
    highs.setOptionValue("solver", "simplex")
    highs.changeColsCost(len(columns), columns, costs)
    highs.changeColBounds(z, 0.0, z_star * (1 + TIE) + TIE)
    highs.run()
    status = highs.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RevPlanError("The quota model's second stage was not solved "
                           f"({highs.modelStatusToString(status)}).")
    values = np.asarray(highs.getSolution().col_value)
    return _Solved(status="optimal", max_deviation=z_star,
                   total_deviation=float(highs.getInfo().objective_function_value),
                   bound=z_star, quota=fair + values[over] - values[under])


def whole_cents(dollars: np.ndarray, total_cents: int, low: np.ndarray, high: np.ndarray
                ) -> np.ndarray:
    """Amounts in cents adding up exactly to `total_cents`, each within its limits: floor to
    cents, then hand the leftover cents to the largest remainders that have room."""
    exact = np.asarray(dollars, dtype=float) * 100
    low_c = np.ceil(np.asarray(low) * 100 - 1e-6)
    high_c = np.where(np.isfinite(high), np.floor(np.asarray(high) * 100 + 1e-6), np.inf)
    cents = np.clip(np.floor(exact + 1e-9), low_c, high_c)
    left = int(total_cents - cents.sum())
    order = np.argsort(-(exact - cents), kind="stable")
    step = 1 if left > 0 else -1
    while left != 0:
        moved = False
        for i in order if step > 0 else order[::-1]:
            if (step > 0 and cents[i] + 1 <= high_c[i]) or (step < 0 and cents[i] - 1 >= low_c[i]):
                cents[i] += step
                left -= step
                moved = True
                if left == 0:
                    break
        if not moved:
            raise RevPlanError("The limits leave no room to reach the total to the cent.")
    return cents.astype(np.int64)


def split_by_quarter(annual_cents: np.ndarray, seasonality: tuple[float, ...]) -> np.ndarray:
    """Rep × quarter cents by the seasonality shares (renormalised to add up to 1), each row
    adding up exactly to its annual: floors, then the leftover cents to the largest
    remainders (or taken from the smallest, should rounding overshoot)."""
    shares = np.asarray(seasonality, dtype=float)
    shares = shares / shares.sum()
    annual = np.asarray(annual_cents, dtype=np.int64)
    exact = annual[:, None] * shares[None, :]
    cents = np.floor(exact).astype(np.int64)
    remainder = exact - cents
    for row in range(len(annual)):
        left = int(annual[row] - cents[row].sum())
        order = np.argsort(-remainder[row], kind="stable")
        position = 0
        while left != 0:
            quarter = order[position % len(order)] if left > 0 else order[::-1][
                position % len(order)]
            if left > 0:
                cents[row, quarter] += 1
                left -= 1
            elif cents[row, quarter] > 0:
                cents[row, quarter] -= 1
                left += 1
            position += 1
    return cents


def _money(cents: float) -> str:
    value = cents / 100
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.2f}M"
    if abs(value) >= 1e3:
        return f"${value / 1e3:,.0f}K"
    return f"${value:,.0f}"


def _allocation(reps: pd.DataFrame, scenario: QuotaScenario, fair: np.ndarray,
                cents: np.ndarray, low: np.ndarray, high: np.ndarray,
                why: list[list[str]]) -> pd.DataFrame:
    quarters = split_by_quarter(cents, scenario.seasonality)
    last = reps["last_quota"].to_numpy(dtype=float)
    blend = ", ".join(f"{weight:.0%} {MEASURE_WORDS[measure]}"
                      for measure, weight in scenario.blend.items() if weight > 0)
    binding, words = [], []
    uncapped = _uncapped(reps, scenario, fair, cents)
    for i in range(len(reps)):
        quota = cents[i]
        reason = []
        if "override" in why[i]:
            state = "override"
            reason.append("set by hand (override)")
        elif np.isfinite(high[i]) and quota >= high[i] * 100 - 1:
            state = "ceiling" if (scenario.ceiling_cents is not None and math.isclose(
                high[i] * 100, scenario.ceiling_cents)) else "cap"
            reason.append(f"capped at +{scenario.max_increase:.0%} year over year"
                          if state == "cap" else "held at the ceiling")
        elif quota <= low[i] * 100 + 1 and low[i] > 0:
            state = "floor"
            reason.append("raised to the floor" if scenario.floor_cents is not None and
                          math.isclose(low[i] * 100, scenario.floor_cents)
                          else f"held at −{scenario.max_decrease:.0%} year over year")
        else:
            state = ""
            change = quota / max(fair[i] * 100, 1) - 1
            if uncapped[i]:
                reason.append(f"{change:+.1%} against fair share: no last year's quota, so the "
                              f"+{scenario.max_increase:.0%} cap does not hold this rep, who "
                              "takes what the capped reps cannot")
            elif abs(change) >= 0.0005:
                reason.append(f"{change:+.1%} against fair share to balance the others")
        binding.append(state)
        text = (f"Quota {_money(quota)}: fair share {_money(fair[i] * 100)} from {blend}"
                + (f"; {'; '.join(reason)}" if reason else "")
                + (f"; last year {_money(last[i] * 100)} ({quota / (last[i] * 100) - 1:+.0%})"
                   if not np.isnan(last[i]) and last[i] > 0 else "") + ".")
        words.append(text)
    return pd.DataFrame({
        "rep_id": reps["rep_id"], "team": reps["team"],
        "fair_cents": np.round(fair * 100).astype(np.int64), "quota_cents": cents,
        "q1_cents": quarters[:, 0], "q2_cents": quarters[:, 1], "q3_cents": quarters[:, 2],
        "q4_cents": quarters[:, 3],
        "low_cents": np.round(low * 100), "high_cents": np.where(np.isfinite(high),
                                                                 np.round(high * 100), np.nan),
        "last_quota_cents": np.where(np.isnan(last), np.nan, np.round(last * 100)),
        "binding": binding, "explanation": words,
    })
