"""Minimal diagnosis: the smallest set of pick changes (add, remove, change a quantity) that
makes a configuration valid, found as an integer model that minimises the number of options
whose quantity changes, subject to every blocking rule; among equally small sets it keeps
quantities closest to what the seller picked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyomo.environ as pyo

from planning.cpq.catalog import Catalog, Configuration
from planning.cpq.model import build_rule_model, solve_rule_model
from planning.cpq.rules import PickChange, pick_change


@dataclass(frozen=True)
class Diagnosis:
    """The smallest change set (empty when the configuration is already valid), or why there
    is none (status infeasible: no picks make it valid with these attributes on this day)."""

    status: str
    changes: tuple[PickChange, ...]
    seconds: float
    message: str = ""

    @property
    def found(self) -> bool:
        """Whether a change set that makes the configuration valid was found."""
        return self.status in ("optimal", "feasible", "time_limit") and not self.message

    def describe(self, catalog: Catalog) -> str:
        """The change set in one sentence."""
        if self.message:
            return self.message
        if not self.changes:
            return "No change needed: the configuration is valid."
        steps = "; ".join(c.describe(catalog) for c in self.changes)
        count = len(self.changes)
        return f"Smallest fix ({count} change{'s' if count > 1 else ''}): {steps}."


def diagnose(catalog: Catalog, configuration: Configuration, on_day: date,
             time_limit: float = 10.0) -> Diagnosis:
    """The smallest set of pick changes that makes `configuration` valid on `on_day` (its
    attributes stay as they are); picks the catalog does not know are always removed."""
    picks = configuration.picked()
    unknown = [o for o in picks if not catalog.has_option(o)]
    known = {o: q for o, q in picks.items() if catalog.has_option(o)}
    built = build_rule_model(catalog, configuration.attributes, on_day)
    m = built.model
    changed = list(built.option_ids)
    m.changed = pyo.Var(range(len(changed)), domain=pyo.Binary)
    m.shift = pyo.Var(range(len(changed)), domain=pyo.NonNegativeReals)
    m.diagnosis = pyo.ConstraintList()
    total_range = 1
    for i, option_id in enumerate(changed):
        option = catalog.option(option_id)
        had = known.get(option_id, 0)
        reach = max(option.max_qty, had)
        total_range += reach
        if had == 0:
            m.diagnosis.add(m.changed[i] >= m.y[i])
        else:
            m.diagnosis.add(built.qty(i) - had <= reach * m.changed[i])
            m.diagnosis.add(had - built.qty(i) <= reach * m.changed[i])
        m.diagnosis.add(m.shift[i] >= built.qty(i) - had)
        m.diagnosis.add(m.shift[i] >= had - built.qty(i))
    weight = 1.0 / total_range
    m.objective = pyo.Objective(expr=sum(m.changed.values()) + weight * sum(m.shift.values()))
    outcome = solve_rule_model(built, time_limit)
    removals = tuple(pick_change(o, picks[o], 0) for o in unknown)
    if outcome.quantities is None:
        message = ("No change of picks makes this configuration valid with its attributes "
                   f"{dict(configuration.attributes)} on {on_day}; change an attribute."
                   if outcome.status == "infeasible" else
                   f"No valid configuration found within {time_limit:g} seconds.")
        return Diagnosis(outcome.status, removals, outcome.seconds, message)
    after = outcome.quantities
    changes = tuple(pick_change(o, known.get(o, 0), after.get(o, 0))
                    for o in built.option_ids if known.get(o, 0) != after.get(o, 0))
    return Diagnosis(outcome.status, removals + changes, outcome.seconds)


def apply_changes(configuration: Configuration, changes: tuple[PickChange, ...]) -> Configuration:
    """The configuration with these pick changes made."""
    picks = configuration.picked()
    for change in changes:
        if change.to_qty > 0:
            picks[change.option_id] = change.to_qty
        else:
            picks.pop(change.option_id, None)
    return Configuration(picks, dict(configuration.attributes), configuration.requirements)
