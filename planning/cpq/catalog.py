"""The product catalog a configuration is checked against: products with version validity
windows, options (what a seller picks, with quantity bounds and the regions or deployments
each is sold in), bundles (preset picks) and configuration rules, read from four CSV files.

List prices are not here: they live in price books (pricing). `Option.cost_cents` is what the
option costs to deliver, the figure the "lowest cost" recommendation minimises.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from planning.errors import RevPlanError

SAMPLE_FOLDER = Path(__file__).resolve().parents[2] / "data" / "samples" / "cpq"
"""The sample catalog and price books (a SaaS platform), loaded into the demo workspace."""

RULE_KINDS = ("requires", "excludes", "min_qty", "max_qty", "one_of", "attribute", "validity")
"""requires: when `when` is picked, every subject must be picked. excludes: when `when` is
picked, no subject may be (without `when`: at most one subject). min_qty / max_qty: the
subjects' total quantity is at least / at most `value` (when `when` is picked; without it,
whenever any subject is picked). one_of: exactly one subject is picked (when `when` is picked;
without it, always). attribute: when `when` or any subject is picked, the configuration's
`attribute` is one of `values`. validity: a subject may be picked only on days from
`valid_from` to `valid_to`."""

RULE_EFFECTS = ("selection", "validation", "alert")
"""selection: the rule proposes the change (add, remove, require) that satisfies it;
validation: the configuration is blocked until the rule holds; alert: a warning only."""

CATALOG_FILES = ("products.csv", "options.csv", "bundles.csv", "rules.csv")


class CatalogError(RevPlanError):
    """A catalog file that cannot be read: the message names the file, row and column."""


@dataclass(frozen=True)
class Product:
    """A product in one version, sellable on days from `valid_from` to `valid_to`
    (None: open-ended)."""

    product_id: str
    name: str
    family: str
    version: str
    valid_from: date | None = None
    valid_to: date | None = None

    def valid_on(self, day: date) -> bool:
        """Whether the product version may be sold on `day`."""
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day <= self.valid_to))


@dataclass(frozen=True)
class Option:
    """Something a seller picks with a quantity (an edition, seats, a module, a support tier).

    `attributes` maps a configuration attribute (region, deployment) to the values the option
    is sold with; an attribute that is absent allows any value. `provides` names the
    capabilities (modules) the option delivers, matched against stated requirements.
    """

    option_id: str
    product_id: str
    name: str
    group: str
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    min_qty: int = 1
    max_qty: int = 1
    unit: str = "each"
    cost_cents: int = 0
    provides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """A named preset of picks (option_id → quantity) sold together."""

    bundle_id: str
    name: str
    product_id: str
    components: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One configuration rule; see RULE_KINDS for what each kind means and RULE_EFFECTS for
    what breaking it does. `message` is shown when the rule is broken: `{when}`, `{subjects}`,
    `{value}`, `{attribute}` and `{values}` are filled with names; empty means a standard
    sentence."""

    rule_id: str
    kind: str
    effect: str
    subjects: tuple[str, ...]
    message: str = ""
    version: str = "1"
    when: str | None = None
    value: int | None = None
    attribute: str | None = None
    values: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class Catalog:
    """A catalog in one version: its products, options, bundles and rules."""

    catalog_version: str
    products: tuple[Product, ...]
    options: tuple[Option, ...]
    bundles: tuple[Bundle, ...] = ()
    rules: tuple[Rule, ...] = ()
    _products_by_id: dict[str, Product] = field(init=False, repr=False, compare=False)
    _options_by_id: dict[str, Option] = field(init=False, repr=False, compare=False)
    _rules_by_id: dict[str, Rule] = field(init=False, repr=False, compare=False)
    _rules_by_option: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_products_by_id", {p.product_id: p for p in self.products})
        object.__setattr__(self, "_options_by_id", {o.option_id: o for o in self.options})
        object.__setattr__(self, "_rules_by_id", {r.rule_id: r for r in self.rules})
        about: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for option_id in dict.fromkeys((*rule.subjects, *((rule.when,) if rule.when else ()))):
                about.setdefault(option_id, []).append(rule)
        object.__setattr__(self, "_rules_by_option", {k: tuple(v) for k, v in about.items()})

    def __hash__(self) -> int:
        return hash(self.catalog_version)

    def product(self, product_id: str) -> Product:
        """The product with this id (KeyError when unknown)."""
        return self._products_by_id[product_id]

    def option(self, option_id: str) -> Option:
        """The option with this id (KeyError when unknown)."""
        return self._options_by_id[option_id]

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (KeyError when unknown)."""
        return self._rules_by_id[rule_id]

    def rules_about(self, option_id: str) -> tuple[Rule, ...]:
        """The rules that name this option as a subject or as their trigger."""
        return self._rules_by_option.get(option_id, ())

    def has_option(self, option_id: str) -> bool:
        """Whether the catalog sells an option with this id."""
        return option_id in self._options_by_id

    def option_name(self, option_id: str) -> str:
        """The option's name, or its id when the catalog does not know it."""
        found = self._options_by_id.get(option_id)
        return found.name if found else option_id

    def rule_versions(self) -> dict[str, str]:
        """rule_id → rule version, for a quote to record what it was checked with."""
        return {r.rule_id: r.version for r in self.rules}


@dataclass(frozen=True)
class Requirements:
    """What a buyer asked for: users to seat, modules wanted, deployment and region."""

    users: int = 0
    modules: tuple[str, ...] = ()
    deployment: str | None = None
    region: str | None = None

    def attributes(self) -> dict[str, str]:
        """The configuration attributes these requirements fix."""
        fixed = {"deployment": self.deployment, "region": self.region}
        return {k: v for k, v in fixed.items() if v}


@dataclass(frozen=True)
class Configuration:
    """A seller's picks (option_id → quantity; 0 or absent is not picked) with configuration
    attributes (region, deployment) and, when known, the requirements it answers."""

    picks: Mapping[str, int] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    requirements: Requirements | None = None

    def picked(self) -> dict[str, int]:
        """The picks with a positive quantity."""
        return {k: int(v) for k, v in self.picks.items() if int(v) > 0}

    def qty(self, option_id: str) -> int:
        """The quantity picked of an option (0 when not picked)."""
        return max(int(self.picks.get(option_id, 0)), 0)


def _cells(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, stripped cells) of a CSV with a header."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogError(f"{path}: file missing; a catalog folder needs "
                           f"{', '.join(CATALOG_FILES)}") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text; save it as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise CatalogError(f"{path.name}: row 1: column {missing[0]!r} missing from the header")
    for number, row in enumerate(reader, start=2):
        if row.get(None):
            raise CatalogError(f"{path.name}: row {number}: more cells than header columns; "
                               "put a cell holding a comma in double quotes")
        cells = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else ""
                 for k, v in row.items()}
        if any(cells.values()):
            yield number, cells


def _fail(file: str, row: int, column: str, problem: str) -> CatalogError:
    return CatalogError(f"{file}: row {row}, column {column!r}: {problem}")


def _int(file: str, row: int, cells: dict[str, str], column: str,
         default: int | None = None) -> int | None:
    text = cells.get(column, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise _fail(file, row, column, f"{text!r} is not a whole number") from None


def _day(file: str, row: int, cells: dict[str, str], column: str) -> date | None:
    text = cells.get(column, "")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(file, row, column, f"{text!r} is not a date like 2026-01-31") from None


def _list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split("|") if part.strip())


def _id(file: str, row: int, cells: dict[str, str], column: str, seen: set[str]) -> str:
    value = cells.get(column, "")
    if not value:
        raise _fail(file, row, column, "empty; every row needs an id")
    if value in seen:
        raise _fail(file, row, column, f"{value!r} appears twice; ids must be unique")
    seen.add(value)
    return value


def _attributes(file: str, row: int, text: str) -> dict[str, tuple[str, ...]]:
    """`region=eu|us; deployment=cloud` → {'region': ('eu', 'us'), 'deployment': ('cloud',)}."""
    found: dict[str, tuple[str, ...]] = {}
    for part in (p.strip() for p in text.split(";") if p.strip()):
        name, sep, values = part.partition("=")
        if not sep or not name.strip() or not _list(values):
            raise _fail(file, row, "attributes",
                        f"{part!r} should look like region=eu|us; deployment=cloud")
        found[name.strip()] = _list(values)
    return found


def _read_products(folder: Path) -> tuple[Product, ...]:
    file = "products.csv"
    seen: set[str] = set()
    products = []
    for row, cells in _cells(folder / file, ("product_id", "name")):
        products.append(Product(
            product_id=_id(file, row, cells, "product_id", seen), name=cells["name"],
            family=cells.get("family", ""), version=cells.get("version", "") or "1",
            valid_from=_day(file, row, cells, "valid_from"),
            valid_to=_day(file, row, cells, "valid_to")))
        if products[-1].valid_from and products[-1].valid_to and (
                products[-1].valid_to < products[-1].valid_from):
            raise _fail(file, row, "valid_to", "before valid_from")
    return tuple(products)


def _read_options(folder: Path, products: set[str]) -> tuple[Option, ...]:
    file = "options.csv"
    seen: set[str] = set()
    options = []
    for row, cells in _cells(folder / file, ("option_id", "product_id", "name")):
        option_id = _id(file, row, cells, "option_id", seen)
        if cells["product_id"] not in products:
            raise _fail(file, row, "product_id",
                        f"{cells['product_id']!r} is not a product in products.csv")
        min_qty = _int(file, row, cells, "min_qty", 1)
        max_qty = _int(file, row, cells, "max_qty", max(min_qty or 1, 1))
        if min_qty is None or min_qty < 1:
            raise _fail(file, row, "min_qty", "must be at least 1 (the smallest quantity "
                        "picked when the option is picked)")
        if max_qty is None or max_qty < min_qty:
            raise _fail(file, row, "max_qty", f"must be at least min_qty ({min_qty})")
        cost = _int(file, row, cells, "cost_cents", 0)
        if cost is None or cost < 0:
            raise _fail(file, row, "cost_cents", "must be zero or more (integer cents)")
        options.append(Option(
            option_id=option_id, product_id=cells["product_id"], name=cells["name"],
            group=cells.get("group", ""),
            attributes=_attributes(file, row, cells.get("attributes", "")),
            min_qty=min_qty, max_qty=max_qty, unit=cells.get("unit", "") or "each",
            cost_cents=cost, provides=_list(cells.get("provides", ""))))
    return tuple(options)


def _read_bundles(folder: Path, products: set[str], options: set[str]) -> tuple[Bundle, ...]:
    file = "bundles.csv"
    seen: set[str] = set()
    bundles = []
    for row, cells in _cells(folder / file, ("bundle_id", "name", "components")):
        bundle_id = _id(file, row, cells, "bundle_id", seen)
        product_id = cells.get("product_id", "")
        if product_id and product_id not in products:
            raise _fail(file, row, "product_id", f"{product_id!r} is not a product")
        components: dict[str, int] = {}
        for part in _list(cells["components"]):
            option_id, _, qty = part.partition(":")
            option_id = option_id.strip()
            if option_id not in options:
                raise _fail(file, row, "components",
                            f"{option_id!r} is not an option in options.csv")
            try:
                components[option_id] = int(qty) if qty.strip() else 1
            except ValueError:
                raise _fail(file, row, "components",
                            f"{part!r} should look like option_id:quantity") from None
        if not components:
            raise _fail(file, row, "components", "empty; list option_id:quantity|...")
        bundles.append(Bundle(bundle_id, cells["name"], product_id, components))
    return tuple(bundles)


def _read_rules(folder: Path, options: set[str]) -> tuple[Rule, ...]:
    file = "rules.csv"
    seen: set[str] = set()
    rules = []
    for row, cells in _cells(folder / file, ("rule_id", "kind", "effect", "subjects")):
        rule_id = _id(file, row, cells, "rule_id", seen)
        kind, effect = cells["kind"].lower(), cells["effect"].lower()
        if kind not in RULE_KINDS:
            raise _fail(file, row, "kind", f"{cells['kind']!r} is not one of "
                        f"{', '.join(RULE_KINDS)}")
        if effect not in RULE_EFFECTS:
            raise _fail(file, row, "effect", f"{cells['effect']!r} is not one of "
                        f"{', '.join(RULE_EFFECTS)}")
        subjects = _list(cells["subjects"])
        when = cells.get("when", "") or None
        for name, ids in (("subjects", subjects), ("when", (when,) if when else ())):
            unknown = [s for s in ids if s not in options]
            if unknown:
                raise _fail(file, row, name, f"{unknown[0]!r} is not an option in options.csv")
        if not subjects:
            raise _fail(file, row, "subjects", "empty; name the options, separated by |")
        value = _int(file, row, cells, "value")
        if kind in ("min_qty", "max_qty") and (value is None or value < 0):
            raise _fail(file, row, "value", f"a {kind} rule needs a quantity of 0 or more")
        if kind in ("requires",) and not when:
            raise _fail(file, row, "when", "a requires rule needs the option that triggers it")
        attribute = cells.get("attribute", "") or None
        values = _list(cells.get("values", ""))
        if kind == "attribute" and (not attribute or not values):
            column = "attribute" if not attribute else "values"
            raise _fail(file, row, column, "an attribute rule needs an attribute and the "
                        "values it allows (e.g. deployment, cloud|on_prem)")
        valid_from, valid_to = _day(file, row, cells, "valid_from"), _day(
            file, row, cells, "valid_to")
        if kind == "validity" and not (valid_from or valid_to):
            raise _fail(file, row, "valid_from", "a validity rule needs valid_from or valid_to")
        rules.append(Rule(
            rule_id=rule_id, kind=kind, effect=effect, subjects=subjects,
            message=cells.get("message", ""), version=cells.get("version", "") or "1",
            when=when, value=value, attribute=attribute, values=values,
            valid_from=valid_from, valid_to=valid_to))
    return tuple(rules)


def catalog_fingerprint(folder: Path | str) -> str:
    """A short hash of the four catalog files' bytes: the same files give the same version."""
    digest = hashlib.sha256()
    for name in CATALOG_FILES:
        path = Path(folder) / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


def load_catalog(folder: Path | str, catalog_version: str | None = None) -> Catalog:
    """The catalog in `folder` (products.csv, options.csv, bundles.csv, rules.csv; bundles.csv
    may be absent). Its version is `catalog_version`, or a hash of the files when not given.
    Raises CatalogError naming the file, row and column of the first problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CatalogError(f"{folder}: not a folder; point at the folder holding "
                           f"{', '.join(CATALOG_FILES)}")
    products = _read_products(folder)
    options = _read_options(folder, {p.product_id for p in products})
    option_ids = {o.option_id for o in options}
    bundles = (_read_bundles(folder, {p.product_id for p in products}, option_ids)
               if (folder / "bundles.csv").exists() else ())
    rules = _read_rules(folder, option_ids)
    return Catalog(catalog_version=catalog_version or catalog_fingerprint(folder),
                   products=products, options=options, bundles=bundles, rules=rules)
