"""CPQ validation and recommendation time on a generated catalog of 2,000 options and 5,000
rules (targets: validation ≤ 200 ms, recommendation ≤ 2 s).

The catalog has 100 product lines of 20 options each: a platform, four editions, two seat
types, ten modules (drawn from 40 module names shared across lines), two support tiers and a
sandbox; 50 rules per line of every kind and effect (an edition and a support tier with the
platform, seat minimums per edition, modules requiring the platform, other modules and an
edition above the first, regional modules, modules sold from a later date, alerts). The
validated configuration picks three lines with a handful of broken rules; the recommendation
asks for 250 users and five modules in the cloud in the EU.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import date

from bench.report import Report
from planning.cpq.catalog import Catalog, Configuration, Option, Product, Requirements, Rule
from planning.cpq.diagnose import diagnose
from planning.cpq.recommend import recommend
from planning.cpq.validate import validate

LINES = 100
DAY = date(2026, 6, 1)
REPEATS = 5


def generated_catalog(seed: int = 7) -> Catalog:
    """100 product lines of 20 options and 50 rules each."""
    rng = random.Random(seed)
    products, options, rules = [], [], []

    def rule(kind: str, effect: str, subjects: tuple[str, ...], **more: object) -> None:
        rules.append(Rule(f"r{len(rules):05d}", kind, effect, subjects, **more))

    for k in range(LINES):
        line = f"L{k:03d}"
        products.append(Product(line, f"Line {k}", "platform", "2026.1", date(2026, 1, 1)))
        ids = {name: f"{line}_{name}" for name in (
            "platform", *(f"e{i}" for i in range(4)), "s0", "s1",
            *(f"m{j}" for j in range(10)), "sup0", "sup1", "sandbox")}

        def add(name: str, group: str, cost: int, line: str = line, **more: object) -> None:
            options.append(Option(f"{line}_{name}", line, f"{line} {name}", group,
                                  cost_cents=cost, **more))

        add("platform", "platform", rng.randrange(50, 200) * 1000)
        for i in range(4):
            add(f"e{i}", "edition", (i + 1) * rng.randrange(50, 150) * 1000)
        add("s0", "seats", rng.randrange(10, 30) * 100, unit="seat", max_qty=5000)
        add("s1", "seats", rng.randrange(30, 60) * 100, unit="seat", max_qty=1000)
        for j in range(10):
            regional = {"region": ("us", "eu")} if j % 4 == 0 else {}
            add(f"m{j}", "module", rng.randrange(10, 100) * 1000, attributes=regional,
                provides=(f"module{(k * 7 + j * 3) % 40}",))
        add("sup0", "support", 0)
        add("sup1", "support", rng.randrange(20, 60) * 1000)
        add("sandbox", "environment", 8000, max_qty=5,
            attributes={"deployment": ("cloud", "private_cloud")})
        o = ids
        editions = tuple(o[f"e{i}"] for i in range(4))
        seats = (o["s0"], o["s1"])
        rule("one_of", "validation", editions, when=o["platform"])
        rule("one_of", "validation", (o["sup0"], o["sup1"]), when=o["platform"])
        for i in range(4):
            rule("min_qty", "validation", seats, when=editions[i], value=10 * (i + 1))
            rule("requires", "selection", (o["platform"],), when=editions[i])
        rule("max_qty", "validation", seats, when=editions[0], value=25)
        for j in range(10):
            rule("requires", "selection", (o["platform"],), when=o[f"m{j}"])
        for j in range(5, 10):
            rule("excludes", "validation", (editions[0],), when=o[f"m{j}"])
        for j in range(1, 6):
            rule("requires", "selection", (o[f"m{j - 1}"],), when=o[f"m{j}"])
        for j in range(0, 10, 2):
            rule("attribute", "validation", (o[f"m{j}"],), attribute="deployment",
                 values=("cloud", "private_cloud"))
        for j in (3, 6, 9):
            rule("validity", "validation", (o[f"m{j}"],),
                 valid_from=date(2026, 1, 1) if j != 9 else date(2026, 9, 1))
        for j in range(0, 10, 2):
            rule("excludes", "validation", (o[f"m{j}"], o[f"m{j + 1}"]),
                 when=editions[1])
        rule("max_qty", "validation", (o["sandbox"],), when=editions[1], value=1)
        rule("excludes", "selection", (o["sandbox"],), when=editions[0])
        for j in range(3):
            rule("excludes", "alert", (o["sup0"],), when=o[f"m{j + 7}"])
        rule("min_qty", "alert", (o["s1"],), value=5)
    return Catalog("bench", tuple(products), tuple(options), (), tuple(rules))


def picked_configuration(catalog: Catalog) -> Configuration:
    """Three lines picked, with a few broken rules (seats short, a module without its
    prerequisite, a first edition with a module it excludes)."""
    picks = {"L000_platform": 1, "L000_e2": 1, "L000_s0": 20, "L000_m2": 1, "L000_sup1": 1,
             "L001_platform": 1, "L001_e0": 1, "L001_s0": 30, "L001_m0": 1, "L001_m6": 1,
             "L001_sup0": 1, "L002_platform": 1, "L002_e3": 1, "L002_s0": 200, "L002_s1": 3,
             "L002_m0": 1, "L002_m1": 1, "L002_m4": 1, "L002_sup1": 1, "L002_sandbox": 2}
    return Configuration(picks, {"region": "eu", "deployment": "cloud"})


def run(report: Report) -> None:
    """Time validation (median of several) and both recommendation objectives."""
    started = time.perf_counter()
    catalog = generated_catalog()
    report("cpq catalog: options", len(catalog.options), "options")
    report("cpq catalog: rules", len(catalog.rules), "rules")
    report("cpq catalog: build", 1000 * (time.perf_counter() - started), "ms")
    configuration = picked_configuration(catalog)
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        found = validate(catalog, configuration, DAY)
        times.append(time.perf_counter() - started)
    report(f"cpq validate, median of {REPEATS} (target <= 200 ms)",
           1000 * statistics.median(times), "ms")
    report("cpq validate: broken rules found", len(found.violations), "rules")
    started = time.perf_counter()
    diagnosis = diagnose(catalog, configuration, DAY)
    report("cpq minimal diagnosis: wall time", time.perf_counter() - started, "s")
    report("cpq minimal diagnosis: picks to change", len(diagnosis.changes), "changes")
    requirements = Requirements(users=250, modules=("module3", "module10", "module17",
                                                    "module24", "module31"),
                                deployment="cloud", region="eu")
    for objective in ("cost", "fit"):
        started = time.perf_counter()
        result = recommend(catalog, requirements, objective, DAY)
        seconds = time.perf_counter() - started
        report(f"cpq recommend {objective}: wall time (target <= 2 s)", seconds, "s")
        report(f"cpq recommend {objective}: HiGHS incl. model transfer", result.seconds, "s")
        report(f"cpq recommend {objective}: optimal", float(result.status == "optimal"),
               "(1 = yes)")
        report(f"cpq recommend {objective}: cost", (result.cost_cents or 0) / 100, "$")
        valid = result.configuration is not None and validate(
            catalog, result.configuration, DAY).valid
        report(f"cpq recommend {objective}: valid", float(valid), "(1 = yes)")
