"""Small random catalogs, built in code, whose every configuration can be enumerated: the
brute-force reference for the minimal diagnosis and the recommendation."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import date

from planning.cpq.catalog import RULE_EFFECTS, RULE_KINDS, Catalog, Option, Product, Rule

DAY = date(2026, 6, 1)
MODULES = ("m1", "m2", "m3")


def random_catalog(seed: int, option_count: int = 6, rule_count: int = 7) -> Catalog:
    """A catalog of up to four quantities per option and rules of every kind and effect."""
    rng = random.Random(seed)
    products = (Product("now", "Current", "f", "2", date(2026, 1, 1), None),
                Product("old", "Retired", "f", "1", date(2024, 1, 1), date(2025, 12, 31)))
    options = []
    for k in range(option_count):
        max_qty = rng.choice((1, 1, 2, 3))
        min_qty = rng.choice((1, max_qty)) if max_qty > 1 else 1
        attributes = ({"region": tuple(rng.sample(("a", "b", "c"), rng.choice((1, 2))))}
                      if rng.random() < 0.25 else {})
        options.append(Option(
            option_id=f"o{k}", product_id="old" if rng.random() < 0.1 else "now",
            name=f"Option {k}", group="g", attributes=attributes, min_qty=min_qty,
            max_qty=max_qty, unit="seat" if rng.random() < 0.4 else "each",
            cost_cents=rng.randrange(0, 50) * 100,
            provides=(rng.choice(MODULES),) if rng.random() < 0.5 else ()))
    ids = [o.option_id for o in options]
    rules = []
    for r in range(rule_count):
        kind = rng.choice(RULE_KINDS)
        when = rng.choice(ids) if kind == "requires" or rng.random() < 0.5 else None
        pool = [o for o in ids if o != when]
        subjects = tuple(rng.sample(pool, rng.choice((1, 2, 2, 3))))
        if kind == "validity":
            when = None
        windows = ((date(2026, 7, 1), None), (None, date(2026, 5, 1)),
                   (date(2026, 1, 1), date(2026, 12, 31)))
        valid_from, valid_to = rng.choice(windows) if kind == "validity" else (None, None)
        rules.append(Rule(
            rule_id=f"r{r}", kind=kind, effect=rng.choice(RULE_EFFECTS), subjects=subjects,
            when=when, value=rng.randrange(0, 6) if kind in ("min_qty", "max_qty") else None,
            attribute="region" if kind == "attribute" else None,
            values=tuple(rng.sample(("a", "b", "c"), 2)) if kind == "attribute" else (),
            valid_from=valid_from, valid_to=valid_to))
    return Catalog(f"random-{seed}", products, tuple(options), (), tuple(rules))


def every_configuration(catalog: Catalog) -> Iterator[dict[str, int]]:
    """Every pick set: each option not picked or at any quantity it sells in."""
    choices = [[0, *range(o.min_qty, o.max_qty + 1)] for o in catalog.options]
    ids = [o.option_id for o in catalog.options]
    for quantities in itertools.product(*choices):
        yield {o: q for o, q in zip(ids, quantities, strict=True) if q}
