"""`revplan cpq validate` and `revplan cpq recommend`: check a quote's configuration against a
catalog folder, or propose the cheapest (or best-fitting) valid configuration for stated
requirements. Both read JSON and print text, or JSON with `--json`; they need no workspace;
`load` makes a catalog folder a workspace's current catalog."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from planning.clock import today_utc
from planning.cpq.catalog import SAMPLE_FOLDER, load_catalog
from planning.cpq.diagnose import diagnose
from planning.cpq.documents import (
    read_configuration,
    read_requirements,
    recommendation_dict,
    validation_dict,
)
from planning.cpq.recommend import OBJECTIVES, recommend
from planning.cpq.validate import validate
from planning.errors import RevPlanError


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RevPlanError(f"--on {text!r} is not a date like 2026-01-31.") from None


def _command_validate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    configuration, quote_day = read_configuration(args.quote)
    day = _day(args.on) or quote_day or today_utc()
    validation = validate(catalog, configuration, day)
    diagnosis = None if validation.valid else diagnose(catalog, configuration, day)
    if args.json:
        print(json.dumps(validation_dict(catalog, validation, diagnosis), indent=2))
    else:
        verdict = "valid" if validation.valid else (
            f"not valid: {len(validation.violations)} rule(s) broken")
        print(f"Configuration {verdict} (catalog {catalog.catalog_version}, {day}).")
        for line in validation.lines():
            print(f"- {line}")
        if diagnosis is not None:
            print(diagnosis.describe(catalog))
    return 0 if validation.valid else 1


def _command_recommend(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    requirements, stated_objective, stated_day = read_requirements(args.requirements)
    objective = args.objective or stated_objective or "cost"
    if objective not in OBJECTIVES:
        raise RevPlanError(f"objective {objective!r} is not one of {', '.join(OBJECTIVES)}.")
    day = _day(args.on) or stated_day or today_utc()
    result = recommend(catalog, requirements, objective, day, time_limit=args.time_limit)
    if args.json:
        print(json.dumps(recommendation_dict(catalog, result), indent=2))
    elif result.configuration is None:
        print(f"No recommendation ({result.status}): {result.message}")
    else:
        print(f"Recommended configuration ({result.status}, lowest "
              f"{'cost' if objective == 'cost' else 'cost of the best fit'} "
              f"{(result.cost_cents or 0) / 100:,.2f}, {result.seconds:.2f} s, catalog "
              f"{catalog.catalog_version}):")
        for option_id, qty in result.configuration.picked().items():
            print(f"- {catalog.option_name(option_id)} ({option_id}) x {qty}")
        if result.unmet:
            print(f"Not met: {'; '.join(result.unmet)}")
    return 0 if result.configuration is not None else 1


def _command_load(args: argparse.Namespace) -> int:
    from planning.access.policy import system_principal
    from planning.cli_versions import acting_user
    from planning.cpq.catalog_versions import load_catalog_and_price_books
    from planning.settings import default_workspace
    from planning.store import open_workspace

    if args.acting:
        workspace, user = acting_user(args)
    else:
        workspace = open_workspace(args.workspace or default_workspace())
        user = system_principal(workspace.name, "cpq load")
    print(load_catalog_and_price_books(workspace, user, Path(args.folder)).to_text())
    return 0


def add_cpq_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """`revplan cpq validate|recommend`; returns the `cpq` subcommands for more to be added."""
    cpq = commands.add_parser("cpq", help="Validate configurations and recommend them.")
    cpq_commands = cpq.add_subparsers(dest="cpq_command", required=True, metavar="COMMAND")
    check = cpq_commands.add_parser(
        "validate", help="Check a quote's picks against the catalog's rules.",
        description="Name every broken rule with its fix and the smallest set of pick changes "
        "that makes the configuration valid. The quote file holds {\"picks\": {option_id: "
        "qty}, \"attributes\": {\"region\": ..., \"deployment\": ...}, \"on_day\": DATE}. "
        "Exit status 0 when valid, 1 when not.")
    check.add_argument("--catalog", required=True, metavar="DIR",
                       help="folder with products.csv, options.csv, bundles.csv, rules.csv")
    check.add_argument("--quote", required=True, metavar="FILE", help="quote JSON")
    check.add_argument("--on", metavar="DATE", help="check on this day (default: the quote's "
                       "on_day, else today)")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(handler=_command_validate)
    advise = cpq_commands.add_parser(
        "recommend", help="Propose the cheapest or best-fitting valid configuration.",
        description="Solve an integer model over the catalog's rules for requirements "
        "{\"users\": N, \"modules\": [...], \"deployment\": ..., \"region\": ...}. Exit "
        "status 0 with a configuration, 1 without.")
    advise.add_argument("--catalog", required=True, metavar="DIR",
                        help="folder with products.csv, options.csv, bundles.csv, rules.csv")
    advise.add_argument("--requirements", required=True, metavar="FILE",
                        help="requirements JSON")
    advise.add_argument("--objective", choices=OBJECTIVES,
                        help="cost: all requirements at the lowest cost (default); fit: as many "
                        "requirements as can be met, then the lowest cost")
    advise.add_argument("--on", metavar="DATE", help="configure for this day (default today)")
    advise.add_argument("--time-limit", type=float, default=30.0, metavar="SECONDS",
                        help="solver time limit (default 30)")
    advise.add_argument("--json", action="store_true", help="print JSON")
    advise.set_defaults(handler=_command_recommend)
    load = cpq_commands.add_parser(
        "load", help="Make a catalog folder the workspace's current catalog, with its price "
        "books.",
        description="Import the catalog files (products, options, bundles, rules) as the "
        "workspace's current catalog version and keep the price book files of the same folder "
        "(price_books, price_entries, price_tiers, price_segments, price_promotions, "
        "discount_policies, margin_floors). Audited; acts as the system principal unless --as "
        "names a person with the catalog and price book rights.")
    load.add_argument("--workspace", help="workspace name (default: the default workspace)")
    load.add_argument("--folder", default=str(SAMPLE_FOLDER), metavar="DIR",
                      help="catalog folder (default: the sample catalog, data/samples/cpq)")
    load.add_argument("--as", dest="acting", metavar="EMAIL",
                      help="the person loading it (default: the system principal)")
    load.set_defaults(handler=_command_load)
    return cpq_commands
