"""The recommended configuration for stated requirements (users, modules, deployment, region):
an integer model over the catalog's blocking rules.

`objective='cost'`: every requirement must be met (seats, units `seat`, for every user; an
option providing each module; the deployment and region as attributes) at the lowest total
`cost_cents`. `objective='fit'`: the configuration meeting as many requirements as any valid
one can (a missed module weighs more than every missing seat together), then the cheapest
of those; what it cannot meet is named in `unmet`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pyomo.environ as pyo

from planning.clock import today_utc
from planning.cpq.catalog import Catalog, Configuration, Requirements
from planning.cpq.model import RuleModel, SolveOutcome, build_rule_model, solve_rule_model

OBJECTIVES = ("cost", "fit")
SEAT_UNIT = "seat"


@dataclass(frozen=True)
class Recommendation:
    """A recommended configuration with its solver statistics, or why there is none; status
    is optimal, feasible, time_limit or infeasible, as in other solver results."""

    status: str
    method: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    catalog_version: str
    objective_kind: str
    configuration: Configuration | None = None
    cost_cents: int | None = None
    unmet: tuple[str, ...] = ()
    message: str = ""
    details: dict = field(default_factory=dict)

    @property
    def has_configuration(self) -> bool:
        """Whether a valid configuration was found."""
        return self.configuration is not None


def _gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return max(objective - bound, 0.0) / max(abs(objective), 1.0)


def _requirement_terms(catalog: Catalog, built: RuleModel, requirements: Requirements) -> tuple[
        object, dict[str, list[int]]]:
    """The seats expression and, per module asked for, the positions of options providing it."""
    seats = [i for i, o in enumerate(catalog.options) if o.unit == SEAT_UNIT]
    providers = {module: [i for i, o in enumerate(catalog.options) if module in o.provides]
                 for module in requirements.modules}
    return sum(built.qty(i) for i in seats), providers


def _cost(catalog: Catalog, built: RuleModel) -> object:
    m = built.model
    tiny = 1.0 / (len(catalog.options) + 1)
    return sum((o.cost_cents * built.qty(i) + tiny * m.y[i])
               for i, o in enumerate(catalog.options))


def _result(catalog: Catalog, objective_kind: str, outcome: SolveOutcome,
            requirements: Requirements, unmet: tuple[str, ...], seconds: float,
            message: str = "") -> Recommendation:
    if outcome.quantities is None:
        text = message or ("No valid configuration meets these requirements; try objective "
                           "'fit' to see the closest one." if outcome.status == "infeasible"
                           else "No valid configuration found in the time allowed.")
        return Recommendation(outcome.status, "mip", None, outcome.bound, None, seconds,
                              catalog.catalog_version, objective_kind, message=text)
    cost = sum(catalog.option(o).cost_cents * q for o, q in outcome.quantities.items())
    objective = float(cost)
    bound = None if outcome.bound is None else min(float(outcome.bound), objective)
    if outcome.status == "optimal":
        bound = objective if bound is None or objective - bound < 1 else bound
    configuration = Configuration(outcome.quantities, requirements.attributes(), requirements)
    return Recommendation(outcome.status, "mip", objective, bound, _gap(objective, bound),
                          seconds, catalog.catalog_version, objective_kind, configuration,
                          cost, unmet)


def recommend(catalog: Catalog, requirements: Requirements, objective: str = "cost",
              on_day: date | None = None, time_limit: float = 30.0) -> Recommendation:
    """The lowest-cost (`cost`) or best-fitting (`fit`) valid configuration for the
    requirements on `on_day` (today when not given), within `time_limit` seconds."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    day = on_day or today_utc()
    built = build_rule_model(catalog, requirements.attributes(), day)
    m = built.model
    seats, providers = _requirement_terms(catalog, built, requirements)
    m.requirements = pyo.ConstraintList()
    if objective == "cost":
        missing = [module for module, found in providers.items() if not found]
        if requirements.users > 0 and not any(o.unit == SEAT_UNIT for o in catalog.options):
            missing.append(f"seats for {requirements.users} users")
        if missing:
            return Recommendation(
                "infeasible", "mip", None, None, None, 0.0, catalog.catalog_version, objective,
                message=f"No option in catalog {catalog.catalog_version} provides "
                f"{'; '.join(missing)}.", unmet=tuple(missing))
        if requirements.users > 0:
            m.requirements.add(seats >= requirements.users)
        for found in providers.values():
            m.requirements.add(sum(m.y[i] for i in found) >= 1)
        m.objective = pyo.Objective(expr=_cost(catalog, built))
        outcome = solve_rule_model(built, time_limit)
        return _result(catalog, objective, outcome, requirements, (), outcome.seconds)
    modules = list(providers)
    m.covered = pyo.Var(range(len(modules)), domain=pyo.Binary)
    m.short = pyo.Var(domain=pyo.NonNegativeReals)
    for k, module in enumerate(modules):
        m.requirements.add(m.covered[k] <= sum(m.y[i] for i in providers[module]))
    if requirements.users > 0:
        m.requirements.add(seats + m.short >= requirements.users)
    else:
        m.short.fix(0)
    weight = requirements.users + 1
    shortfall = weight * sum(1 - m.covered[k] for k in range(len(modules))) + m.short
    m.fit = pyo.Objective(expr=shortfall)
    first = solve_rule_model(built, time_limit)
    if first.quantities is None:
        return _result(catalog, objective, first, requirements, (), first.seconds)
    m.fit.deactivate()
    m.requirements.add(shortfall <= (first.objective or 0.0) + 0.5)
    m.objective = pyo.Objective(expr=_cost(catalog, built))
    second = solve_rule_model(built, max(time_limit - first.seconds, 0.1))
    chosen = second if second.quantities is not None else first
    picked = chosen.quantities or {}
    unmet = [module for module in modules
             if not any(catalog.options[i].option_id in picked for i in providers[module])]
    seated = sum(q for o, q in picked.items() if catalog.option(o).unit == SEAT_UNIT)
    if seated < requirements.users:
        unmet.append(f"{requirements.users - seated} of {requirements.users} users without a "
                     "seat")
    return _result(catalog, objective, chosen, requirements, tuple(unmet),
                   first.seconds + second.seconds)
