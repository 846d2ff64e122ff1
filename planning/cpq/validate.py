"""Validating a configuration against its catalog: every broken rule named in words with its
fix, selection rules' proposed changes, alerts as warnings, and live flags for a pick that
conflicts with what is already picked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from planning.clock import today_utc
from planning.cpq.catalog import Catalog, Configuration
from planning.cpq.rules import PickChange, Violation, check_picks, check_rule

CONFLICT_KINDS = ("excludes", "one_of", "max_qty", "attribute", "validity", "unknown")
"""Kinds of violation a new pick can cause by itself (a missing add-on is not a conflict:
adding more fixes it)."""


@dataclass(frozen=True)
class Validation:
    """A configuration checked on a day: `violations` block it (selection and validation
    rules), `alerts` only warn; `suggested_changes` are what selection rules propose."""

    catalog_version: str
    on_day: date
    violations: tuple[Violation, ...]
    alerts: tuple[Violation, ...]
    rule_versions: dict[str, str]
    """rule_id → version of every catalog rule the configuration was checked against."""

    @property
    def valid(self) -> bool:
        """No selection or validation rule is broken (alerts may remain)."""
        return not self.violations

    @property
    def suggested_changes(self) -> tuple[PickChange, ...]:
        """The changes selection rules propose, each option once (first proposal wins)."""
        seen: dict[str, PickChange] = {}
        for violation in self.violations:
            for change in violation.changes:
                seen.setdefault(change.option_id, change)
        return tuple(seen.values())

    def lines(self) -> list[str]:
        """One line per broken rule and alert: what is wrong, then what to change."""
        found = [f"{v.rule_id}: {v.message} Fix: {v.fix}" for v in self.violations]
        return found + [f"{a.rule_id} (alert): {a.message} {a.fix}" for a in self.alerts]


def violations_of(catalog: Catalog, configuration: Configuration,
                  on_day: date) -> list[Violation]:
    """Every broken rule and pick check, alerts included, in catalog order."""
    picks = configuration.picked()
    attributes = dict(configuration.attributes)
    found = list(check_picks(catalog, picks, attributes, on_day))
    for rule in catalog.rules:
        broken = check_rule(catalog, rule, picks, attributes, on_day)
        if broken is not None:
            found.append(broken)
    return found


def validate(catalog: Catalog, configuration: Configuration, on_day: date) -> Validation:
    """Check a configuration against every rule of its catalog on `on_day`, naming each broken
    rule with its fix; a negative quantity counts as not picked."""
    found = violations_of(catalog, configuration, on_day)
    return Validation(
        catalog_version=catalog.catalog_version, on_day=on_day,
        violations=tuple(v for v in found if v.blocking),
        alerts=tuple(v for v in found if not v.blocking),
        rule_versions=catalog.rule_versions())


def incompatible_with(catalog: Catalog, configuration: Configuration, option_id: str,
                      on_day: date | None = None) -> tuple[Violation, ...]:
    """The conflicts picking `option_id` (at its current quantity, or its smallest) would add
    to the configuration: rules it would break that hold without it, alerts included. Only
    the rules naming the option are checked, so a seller sees the flag as they pick."""
    day = on_day or today_utc()
    picks = configuration.picked()
    attributes = dict(configuration.attributes)
    if not catalog.has_option(option_id):
        return tuple(check_picks(catalog, {option_id: 1}, attributes, day))
    option = catalog.option(option_id)
    with_pick = {**picks, option_id: picks.get(option_id) or option.min_qty}
    without = {k: v for k, v in picks.items() if k != option_id}
    found = [v for v in check_picks(catalog, {option_id: with_pick[option_id]}, attributes, day)
             if v.kind in CONFLICT_KINDS]
    for rule in catalog.rules_about(option_id):
        after = check_rule(catalog, rule, with_pick, attributes, day)
        if after is None or after.kind not in CONFLICT_KINDS:
            continue
        if rule.kind == "one_of" and len([s for s in rule.subjects if with_pick.get(s)]) < 2:
            continue
        if check_rule(catalog, rule, without, attributes, day) is None:
            found.append(after)
    return tuple(found)


def flag_incompatible(catalog: Catalog, configuration: Configuration,
                      on_day: date | None = None) -> dict[str, tuple[Violation, ...]]:
    """option_id → the conflicts picking it would add, for every option not yet picked that
    would conflict (options without a conflict are left out)."""
    picked = configuration.picked()
    flags = {}
    for option in catalog.options:
        if option.option_id in picked:
            continue
        found = incompatible_with(catalog, configuration, option.option_id, on_day)
        if found:
            flags[option.option_id] = found
    return flags
