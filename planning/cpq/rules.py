"""Checking one configuration rule against a configuration, and saying in words what is broken
and what to change.

Besides the catalog's own rules, every option and product carries checks of its own: an
option's quantity bounds and the attribute values (region, deployment) it is sold with, and
its product version's validity window; a pick the catalog does not know is broken too. These
are reported as violations with ids like `option:seats:quantity`, `option:ai:region`,
`option:legacy_pro:validity` and `unknown:xyz`, all with the validation effect.

An attribute the configuration does not state (no region yet) constrains nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from planning.cpq.catalog import Catalog, Rule

BLOCKING_EFFECTS = ("selection", "validation")
"""Effects whose broken rules make a configuration invalid; alerts only warn."""


@dataclass(frozen=True)
class PickChange:
    """One change to a pick: `add` (from 0), `remove` (to 0) or `set_qty` (both positive)."""

    option_id: str
    action: str
    from_qty: int
    to_qty: int

    def describe(self, catalog: Catalog) -> str:
        """The change in words, e.g. 'add Analytics module (1)'."""
        name = catalog.option_name(self.option_id)
        if self.action == "add":
            return f"add {name} ({self.to_qty})"
        if self.action == "remove":
            return f"remove {name}"
        return f"change {name} from {self.from_qty} to {self.to_qty}"


def pick_change(option_id: str, from_qty: int, to_qty: int) -> PickChange:
    """The change that takes an option's quantity from `from_qty` to `to_qty`."""
    action = "add" if from_qty <= 0 else "remove" if to_qty <= 0 else "set_qty"
    return PickChange(option_id, action, max(from_qty, 0), max(to_qty, 0))


@dataclass(frozen=True)
class Violation:
    """A broken rule: what is wrong and what to change, in words. `changes` is the change a
    selection rule proposes (empty for validation and alert rules, whose fix is a choice)."""

    rule_id: str
    kind: str
    effect: str
    message: str
    fix: str
    options: tuple[str, ...] = ()
    changes: tuple[PickChange, ...] = ()

    @property
    def blocking(self) -> bool:
        """Whether this violation makes the configuration invalid (an alert does not)."""
        return self.effect in BLOCKING_EFFECTS


def _names(catalog: Catalog, option_ids: tuple[str, ...] | list[str]) -> str:
    names = [catalog.option_name(o) for o in option_ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _either(catalog: Catalog, option_ids: tuple[str, ...] | list[str]) -> str:
    names = [catalog.option_name(o) for o in option_ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _message(catalog: Catalog, rule: Rule, standard: str) -> str:
    if not rule.message:
        return standard
    fields = _Blank(when=catalog.option_name(rule.when) if rule.when else "",
                    subjects=_names(catalog, rule.subjects), value=rule.value,
                    attribute=rule.attribute or "", values=", ".join(rule.values))
    try:
        return rule.message.format_map(fields)
    except (ValueError, IndexError, AttributeError):
        return rule.message


def _violation(catalog: Catalog, rule: Rule, standard: str, fix: str,
               options: tuple[str, ...], changes: tuple[PickChange, ...]) -> Violation:
    return Violation(rule.rule_id, rule.kind, rule.effect, _message(catalog, rule, standard), fix,
                     options, changes if rule.effect == "selection" else ())


def _amount(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 or unit.endswith("s") else f"{count} {unit}s"


def _window(valid_from: date | None, valid_to: date | None) -> str:
    if valid_from and valid_to:
        return f"sellable from {valid_from} to {valid_to}"
    if valid_from:
        return f"sellable from {valid_from}"
    return f"sellable until {valid_to}"


def _in_window(day: date, valid_from: date | None, valid_to: date | None) -> bool:
    return (valid_from is None or valid_from <= day) and (valid_to is None or day <= valid_to)


def check_rule(catalog: Catalog, rule: Rule, picks: Mapping[str, int],
               attributes: Mapping[str, str], on_day: date) -> Violation | None:
    """The violation of `rule` by picks (option_id → positive quantity) and attributes on
    `on_day`, or None when the rule holds."""
    picked = [s for s in rule.subjects if picks.get(s, 0) > 0]
    triggered = rule.when is None or picks.get(rule.when, 0) > 0
    when = catalog.option_name(rule.when) if rule.when else ""
    if rule.kind == "requires":
        missing = [s for s in rule.subjects if picks.get(s, 0) <= 0]
        if not triggered or not missing:
            return None
        return _violation(
            catalog, rule, f"{when} requires {_names(catalog, missing)}.",
            f"Add {_names(catalog, missing)}, or remove {when}.", (rule.when, *missing),
            tuple(pick_change(m, 0, catalog.option(m).min_qty) for m in missing))
    if rule.kind == "excludes":
        if rule.when is not None:
            if not triggered or not picked:
                return None
            return _violation(
                catalog, rule, f"{when} cannot be combined with {_names(catalog, picked)}.",
                f"Remove {_names(catalog, picked)}, or remove {when}.", (rule.when, *picked),
                tuple(pick_change(p, picks[p], 0) for p in picked))
        if len(picked) <= 1:
            return None
        return _violation(
            catalog, rule, f"{_names(catalog, picked)} cannot be combined.",
            f"Keep only one of {_either(catalog, picked)}.", tuple(picked),
            tuple(pick_change(p, picks[p], 0) for p in picked[1:]))
    if rule.kind in ("min_qty", "max_qty"):
        return _check_quantity(catalog, rule, picks, picked, triggered)
    if rule.kind == "one_of":
        if not triggered or len(picked) == 1:
            return None
        after = f" with {when}" if rule.when else ""
        if not picked:
            first = rule.subjects[0]
            return _violation(
                catalog, rule, f"One of {_either(catalog, rule.subjects)} must be picked{after}.",
                f"Add one of {_either(catalog, rule.subjects)}.", rule.subjects,
                (pick_change(first, 0, catalog.option(first).min_qty),))
        return _violation(
            catalog, rule, f"Only one of {_either(catalog, rule.subjects)} may be picked{after}; "
            f"{_names(catalog, picked)} are picked.",
            f"Keep only one of {_either(catalog, picked)}.", tuple(picked),
            tuple(pick_change(p, picks[p], 0) for p in picked[1:]))
    if rule.kind == "attribute":
        actual = attributes.get(rule.attribute or "")
        present = [o for o in dict.fromkeys((*((rule.when,) if rule.when else ()),
                                             *rule.subjects)) if picks.get(o, 0) > 0]
        if not present or not actual or actual in rule.values:
            return None
        allowed = ", ".join(rule.values)
        return _violation(
            catalog, rule, f"{_names(catalog, present)} cannot be sold with "
            f"{rule.attribute} {actual} (only {allowed}).",
            f"Remove {_names(catalog, present)}, or set {rule.attribute} to one of {allowed}.",
            tuple(present), tuple(pick_change(p, picks[p], 0) for p in present))
    if rule.kind == "validity":
        if not picked or _in_window(on_day, rule.valid_from, rule.valid_to):
            return None
        return _violation(
            catalog, rule, f"{_names(catalog, picked)} cannot be sold on {on_day} "
            f"({_window(rule.valid_from, rule.valid_to)}).",
            f"Remove {_names(catalog, picked)}.", tuple(picked),
            tuple(pick_change(p, picks[p], 0) for p in picked))
    return None


def _check_quantity(catalog: Catalog, rule: Rule, picks: Mapping[str, int],
                    picked: list[str], triggered: bool) -> Violation | None:
    if rule.when is None and not picked or not triggered:
        return None
    limit = int(rule.value or 0)
    total = sum(picks.get(s, 0) for s in rule.subjects)
    unit = catalog.option(rule.subjects[0]).unit
    after = f" with {catalog.option_name(rule.when)}" if rule.when else ""
    what = _names(catalog, rule.subjects)
    if rule.kind == "min_qty":
        if total >= limit:
            return None
        short = limit - total
        target = picked[0] if picked else rule.subjects[0]
        room = catalog.option(target).max_qty
        new = min(max(picks.get(target, 0) + short, catalog.option(target).min_qty), room)
        return _violation(
            catalog, rule,
            f"{what}: {_amount(total, unit)} picked; at least {limit} needed{after}.",
            f"Add {_amount(short, unit)} of {_either(catalog, rule.subjects)}.",
            tuple(rule.subjects), (pick_change(target, picks.get(target, 0), new),))
    if total <= limit:
        return None
    over = total - limit
    changes = []
    for option_id in reversed(picked):
        if over <= 0:
            break
        have = picks[option_id]
        keep = have - over
        if 0 < keep < catalog.option(option_id).min_qty:
            keep = 0
        keep = max(keep, 0)
        changes.append(pick_change(option_id, have, keep))
        over -= have - keep
    return _violation(
        catalog, rule, f"{what}: {_amount(total, unit)} picked; at most {limit} allowed{after}.",
        f"Remove {_amount(total - limit, unit)} of {_either(catalog, picked)}.", tuple(picked),
        tuple(changes))


def check_picks(catalog: Catalog, picks: Mapping[str, int], attributes: Mapping[str, str],
                on_day: date) -> Iterator[Violation]:
    """The checks every pick carries by itself: known option, quantity bounds, the attribute
    values it is sold with and its product version's validity window."""
    for option_id, qty in picks.items():
        if not catalog.has_option(option_id):
            yield Violation(f"unknown:{option_id}", "unknown", "validation",
                            f"{option_id} is not an option in catalog "
                            f"{catalog.catalog_version}.", f"Remove {option_id}.", (option_id,))
            continue
        option = catalog.option(option_id)
        if not option.min_qty <= qty <= option.max_qty:
            yield Violation(
                f"option:{option_id}:quantity", "min_qty" if qty < option.min_qty else "max_qty",
                "validation", f"{option.name}: {_amount(qty, option.unit)} picked; it sells from "
                f"{option.min_qty} to {option.max_qty}.",
                f"Set {option.name} to between {option.min_qty} and {option.max_qty}.",
                (option_id,))
        for attribute, allowed in option.attributes.items():
            actual = attributes.get(attribute)
            if actual and actual not in allowed:
                yield Violation(
                    f"option:{option_id}:{attribute}", "attribute", "validation",
                    f"{option.name} cannot be sold with {attribute} {actual} "
                    f"(only {', '.join(allowed)}).",
                    f"Remove {option.name}, or set {attribute} to one of {', '.join(allowed)}.",
                    (option_id,))
        product = catalog.product(option.product_id)
        if not product.valid_on(on_day):
            yield Violation(
                f"option:{option_id}:validity", "validity", "validation",
                f"{option.name} belongs to {product.name} version {product.version}, which "
                f"cannot be sold on {on_day} ({_window(product.valid_from, product.valid_to)}).",
                f"Remove {option.name}, or pick the current version's option.", (option_id,))
