"""The catalog's rules as an integer model (Pyomo, solved by HiGHS): per option a binary
`y` (picked) and an integer `q` (quantity, 0 when not picked); the minimal diagnosis and the
recommendation add their own objective and constraints on top.

Only blocking rules (selection and validation effects) are constraints; alerts are warnings.
Attributes are fixed inputs: an option or rule trigger an attribute value rules out is fixed
to 0, and so is a pick outside its (product's or rule's) validity window on the day.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import TerminationCondition

from planning.cpq.catalog import Catalog, Rule
from planning.cpq.rules import BLOCKING_EFFECTS

logging.getLogger("pyomo.contrib.solver.solvers.highs").setLevel(logging.ERROR)


@dataclass
class RuleModel:
    """A Pyomo model of a catalog's blocking rules: `index[option_id]` is the position of
    the option's `y` variable, and of its `q` variable when the option sells in more than one
    quantity (`qty(i)` is the quantity either way)."""

    model: pyo.ConcreteModel
    index: dict[str, int]
    option_ids: list[str]
    fixed_qty: dict[int, int]
    """position → the one quantity an option sells in (min_qty == max_qty): no `q` variable."""
    solver: object | None = None
    """The persistent HiGHS interface after the first solve: a second solve of the same model
    (a changed objective, an added constraint) sends HiGHS only the changes."""

    def qty(self, position: int) -> object:
        """The option's quantity: its `q` variable, or its fixed quantity times `y`."""
        if position in self.fixed_qty:
            return self.fixed_qty[position] * self.model.y[position]
        return self.model.q[position]


def ruled_out(catalog: Catalog, attributes: Mapping[str, str], on_day: date) -> set[str]:
    """Options that cannot be picked at all with these attributes on this day."""
    out = set()
    for option in catalog.options:
        if not catalog.product(option.product_id).valid_on(on_day):
            out.add(option.option_id)
            continue
        for attribute, allowed in option.attributes.items():
            actual = attributes.get(attribute)
            if actual and actual not in allowed:
                out.add(option.option_id)
    for rule in catalog.rules:
        if rule.effect not in BLOCKING_EFFECTS:
            continue
        if rule.kind == "validity" and not (
                (rule.valid_from is None or rule.valid_from <= on_day)
                and (rule.valid_to is None or on_day <= rule.valid_to)):
            out.update(rule.subjects)
        if rule.kind == "attribute":
            actual = attributes.get(rule.attribute or "")
            if actual and actual not in rule.values:
                out.update(rule.subjects)
                if rule.when:
                    out.add(rule.when)
    return out


def build_rule_model(catalog: Catalog, attributes: Mapping[str, str],
                     on_day: date) -> RuleModel:
    """Variables for every option and one or two linear constraints per blocking rule."""
    m = pyo.ConcreteModel("cpq_rules")
    option_ids = [o.option_id for o in catalog.options]
    index = {o: i for i, o in enumerate(option_ids)}
    positions = range(len(option_ids))
    fixed_qty = {i: o.min_qty for i, o in enumerate(catalog.options) if o.min_qty == o.max_qty}
    m.y = pyo.Var(positions, domain=pyo.Binary)
    m.q = pyo.Var([i for i in positions if i not in fixed_qty], domain=pyo.NonNegativeIntegers)
    m.rules = pyo.ConstraintList()
    out = ruled_out(catalog, attributes, on_day)
    for i, option in enumerate(catalog.options):
        if option.option_id in out:
            m.y[i].fix(0)
        if i in fixed_qty:
            continue
        m.q[i].setub(option.max_qty)
        if option.option_id in out:
            m.q[i].fix(0)
            continue
        m.rules.add(m.q[i] >= option.min_qty * m.y[i])
        m.rules.add(m.q[i] <= option.max_qty * m.y[i])
    m.any = pyo.Var(pyo.Any, domain=pyo.Binary, dense=False)
    built = RuleModel(m, index, option_ids, fixed_qty)
    for rule in catalog.rules:
        if rule.effect in BLOCKING_EFFECTS:
            _add_rule(catalog, built, rule)
    return built


def _add_rule(catalog: Catalog, built: RuleModel, rule: Rule) -> None:
    m, index = built.model, built.index
    subjects = [index[s] for s in rule.subjects]
    when = index[rule.when] if rule.when else None
    y = m.y
    if rule.kind == "requires" and when is not None:
        for s in subjects:
            m.rules.add(y[s] >= y[when])
    elif rule.kind == "excludes":
        if when is not None:
            for s in subjects:
                m.rules.add(y[s] + y[when] <= 1)
        else:
            m.rules.add(sum(y[s] for s in subjects) <= 1)
    elif rule.kind == "one_of":
        picked = sum(y[s] for s in subjects)
        if when is None:
            m.rules.add(picked == 1)
        else:
            m.rules.add(picked >= y[when])
            m.rules.add(picked <= 1 + (len(subjects) - 1) * (1 - y[when]))
    elif rule.kind in ("min_qty", "max_qty"):
        total = sum(built.qty(s) for s in subjects)
        limit = int(rule.value or 0)
        if rule.kind == "min_qty":
            if when is not None:
                m.rules.add(total >= limit * y[when])
            else:
                trigger = m.any[rule.rule_id]
                for s in subjects:
                    m.rules.add(trigger >= y[s])
                m.rules.add(total >= limit * trigger)
        else:
            if when is not None:
                room = max(sum(catalog.option(s).max_qty for s in rule.subjects) - limit, 0)
                m.rules.add(total <= limit + room * (1 - y[when]))
            else:
                m.rules.add(total <= limit)


@dataclass(frozen=True)
class SolveOutcome:
    """What HiGHS returned: status optimal / feasible / time_limit / infeasible, objective
    and bound when known, seconds, and the quantities when there is a solution."""

    status: str
    objective: float | None
    bound: float | None
    seconds: float
    quantities: dict[str, int] | None


def solve_rule_model(built: RuleModel, time_limit: float, rel_gap: float = 1e-9) -> SolveOutcome:
    """Solve the model's objective with HiGHS on one thread within `time_limit` seconds."""
    if built.solver is None:
        built.solver = SolverFactory("highs")
    solver = built.solver
    solver.config.time_limit = max(time_limit, 0.1)
    solver.config.rel_gap = rel_gap
    solver.config.load_solutions = False
    solver.config.raise_exception_on_nonoptimal_result = False
    # HiGHS keeps one thread scheduler per process; every run in the codebase asks for one.
    solver.config.threads = 1
    started = time.perf_counter()
    results = solver.solve(built.model)
    seconds = time.perf_counter() - started
    condition = results.termination_condition
    objective = results.incumbent_objective
    bound = results.objective_bound
    if condition == TerminationCondition.convergenceCriteriaSatisfied:
        status = "optimal"
    elif condition in (TerminationCondition.provenInfeasible,
                       TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    elif condition == TerminationCondition.maxTimeLimit:
        status = "time_limit"
    else:
        status = "feasible" if objective is not None else str(condition.name)
    quantities = None
    if objective is not None and status != "infeasible":
        results.solution_loader.load_vars()
        # An option in no constraint nor the objective never reaches HiGHS: it stays unpicked.
        values = {o: round(pyo.value(built.qty(i), exception=False) or 0)
                  for i, o in enumerate(built.option_ids)}
        quantities = {o: q for o, q in values.items() if q > 0}
    return SolveOutcome(status, None if objective is None else float(objective),
                        None if bound is None else float(bound), seconds, quantities)
