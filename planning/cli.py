"""The `revplan` command line: the same planning functions the app calls, without a UI."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from planning.errors import RevPlanError
from planning.output_files import check_output_options
from planning.progress import ProgressCallback
from planning.settings import default_workspace


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
    """A tqdm progress bar on stderr, driven by the planning progress callback."""
    from tqdm import tqdm

    with tqdm(total=1000, desc=description, unit="‰", leave=True, file=sys.stderr) as bar:

        def report(fraction: float, message: str) -> None:
            bar.set_postfix_str(message, refresh=False)
            bar.update(max(0, round(fraction * 1000) - bar.n))

        yield report


def _command_demo(args: argparse.Namespace) -> int:
    from planning.demo import DEMO_SIZES, generate_demo_workspace
    from planning.store import workspace_exists
    from planning.workspaces import creation_complete

    replace = args.replace
    if args.if_missing and workspace_exists(args.workspace):
        if creation_complete(args.workspace):
            print(f"Workspace {args.workspace!r} exists; leaving it as it is.")
            return 0
        print(f"Workspace {args.workspace!r} was left incomplete by an interrupted build; "
              "building it again.")
        replace = True
    elif workspace_exists(args.workspace) and not replace:
        raise RevPlanError(
            f"Workspace {args.workspace!r} already exists. Pass --replace to rebuild it "
            "(its data will be lost) or --if-missing to keep it."
        )
    with progress_bar(f"demo {args.size}") as progress:
        report = generate_demo_workspace(
            args.workspace, size=DEMO_SIZES[args.size], seed=args.seed,
            replace=replace, progress=progress,
        )
    print(report.to_text())
    _load_demo_catalog(args.workspace)
    if args.with_models:
        from planning.pipeline.exceptions import retrain_and_rescore
        from planning.store import open_workspace

        with progress_bar("deal risk models") as progress:
            result = retrain_and_rescore(open_workspace(args.workspace), "revplan demo",
                                         progress=progress)
        print(result.to_text())
    elif args.train_in_background:
        from planning.pipeline.model_jobs import start_training
        from planning.store import open_workspace

        job_id = start_training(open_workspace(args.workspace), "revplan demo")
        print(f"Training the deal risk models as job {job_id}; scores appear in the app when "
              "it ends.")
    return 0


def _load_demo_catalog(name: str) -> None:
    """Give the demo company the sample product catalog and price books, so Quotes works."""
    from planning.access.policy import system_principal
    from planning.cpq.catalog_versions import load_catalog_and_price_books
    from planning.store import open_workspace

    loaded = load_catalog_and_price_books(open_workspace(name), system_principal(name, "demo"))
    print(loaded.to_text())


def _command_import(args: argparse.Namespace) -> int:
    from planning.ingest import import_files
    from planning.store import open_workspace

    workspace = open_workspace(args.workspace, create=True)
    with progress_bar("import") as progress:
        summary = import_files(
            workspace, [Path(f) for f in args.files],
            mapping_path=Path(args.mapping) if args.mapping else None,
            actor=os.environ.get("USER", "cli"), progress=progress,
        )
    print(summary.to_text())
    return 0


def _command_worker(args: argparse.Namespace) -> int:
    from planning.jobs.worker import run_worker
    from planning.settings import data_dir

    folder = Path(args.data_dir).expanduser().resolve() if args.data_dir else data_dir()
    print(f"Worker polling the job queues in {folder} (Ctrl-C stops it).", flush=True)
    run_worker(folder)
    return 0


def _command_workspaces(args: argparse.Namespace) -> int:
    from planning.settings import data_dir
    from planning.store import list_workspaces

    names = list_workspaces()
    if not names:
        print(f"No workspaces in {data_dir()}.")
    for name in names:
        print(name)
    return 0


def _command_workspace_create(args: argparse.Namespace) -> int:
    from planning.access.users import canonical_email
    from planning.workspaces import create_workspace

    create_workspace(args.name, args.admin, os.environ.get("USER", "cli"),
                     currency=args.currency,
                     fiscal_year_start_month=args.fiscal_year_start_month)
    print(f"Workspace {args.name!r} created; {canonical_email(args.admin)} is its admin. "
          f"Next: revplan import --workspace {args.name} --mapping MAPPING.toml FILE.csv ...")
    return 0


def _command_audit_verify(args: argparse.Namespace) -> int:
    from planning.audit import verify_chain
    from planning.store import open_workspace

    result = verify_chain(open_workspace(args.workspace))
    print(result.to_text())
    return 0 if result.ok else 1


def _command_audit_anchor(args: argparse.Namespace) -> int:
    from planning.audit import audit_head, start_anchor
    from planning.store import open_workspace

    workspace = open_workspace(args.workspace, read_only=not args.start)
    head = start_anchor(workspace) if args.start else audit_head(workspace)
    print(head.to_text())
    print(f"Anchor log {head.anchor_path}: anchored through event #{head.anchored_through}.")
    return 0


def _command_access_grant(args: argparse.Namespace) -> int:
    from planning.access.membership import grant_roles
    from planning.access.users import canonical_email
    from planning.store import open_workspace

    grant_roles(open_workspace(args.workspace), None, args.email, args.role,
                display_name=args.name, reason=args.reason)
    print(f"{canonical_email(args.email)} now holds {', '.join(sorted(args.role))} in "
          f"{args.workspace!r}.")
    return 0


def _command_access_revoke(args: argparse.Namespace) -> int:
    from planning.access.membership import revoke_access
    from planning.access.users import canonical_email
    from planning.store import open_workspace

    revoke_access(open_workspace(args.workspace), None, args.email, reason=args.reason)
    print(f"{canonical_email(args.email)} no longer has access to {args.workspace!r}.")
    return 0


def _command_access_list(args: argparse.Namespace) -> int:
    from planning.store import access as access_repo
    from planning.store import open_workspace

    frame = open_workspace(args.workspace).read(access_repo.members_frame)
    if frame.empty:
        print(f"Nobody has access to {args.workspace!r} yet; grant it with "
              "`revplan access grant`.")
        return 0
    for row in frame.itertuples():
        who = f" ({row.display_name})" if isinstance(row.display_name, str) else ""
        print(f"{row.email}{who}: {row.roles}")
    return 0


def _as_of(text: str | None) -> dt.datetime | None:
    """--as-of: a date means the end of that day (UTC); a date-time is taken as given."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time()) + dt.timedelta(
                days=1)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RevPlanError(f"--as-of {text!r} is not a date (YYYY-MM-DD) or an ISO date-time."
                           ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _write_report(path: str | None, content: dict) -> None:
    if path is None:
        return
    from planning.output_files import write_text_atomically

    write_text_atomically(path, json.dumps(content, indent=2, default=str) + "\n")
    print(f"Report written to {path}.")


def _command_pipeline_train(args: argparse.Namespace) -> int:
    if args.csv is not None:
        return _train_on_csv(args)
    if args.mapping is not None or args.currency is not None:
        raise RevPlanError("--mapping and --currency go with --csv.")
    from planning.pipeline.exceptions import retrain_and_rescore
    from planning.pipeline.training import card_dict
    from planning.store import open_workspace
    from planning.telemetry import timed

    as_of = _as_of(args.as_of)
    workspace = open_workspace(args.workspace or default_workspace())
    with timed(workspace, "train", "cli_pipeline_train") as event, \
            progress_bar("train") as progress:
        result = retrain_and_rescore(workspace, os.environ.get("USER", "cli"), as_of=as_of,
                                     progress=progress)
        event.detail = {"scored": result.scored_deals, "alerts": result.alerts}
    print(result.to_text())
    report = result.training
    if report is not None:
        _write_report(args.report, {
            "win_model_id": report.win_model_id, "slip_model_id": report.slip_model_id,
            "win": card_dict(report.win),
            "slip": None if report.slip is None else card_dict(report.slip),
            "snapshots": report.snapshots, "seconds": report.seconds,
            "scored_deals": result.scored_deals, "alerts": result.alerts,
        })
    return 0


def _train_on_csv(args: argparse.Namespace) -> int:
    from planning.pipeline.csv_training import train_from_csv

    if args.workspace is not None or args.as_of is not None:
        raise RevPlanError("--csv trains on the file alone; leave out --workspace and --as-of.")
    with progress_bar("train on export") as progress:
        report = train_from_csv(
            Path(args.csv), Path(args.mapping) if args.mapping else None,
            currency=args.currency or "USD", progress=progress)
    print(report.to_text())
    _write_report(args.report, report.to_dict())
    return 0


def _command_pipeline_score(args: argparse.Namespace) -> int:
    from planning.pipeline.exceptions import rescore_and_alert
    from planning.store import open_workspace

    as_of = _as_of(args.as_of)
    workspace = open_workspace(args.workspace or default_workspace())
    with progress_bar("score") as progress:
        result = rescore_and_alert(workspace, os.environ.get("USER", "cli"), as_of=as_of,
                                   progress=progress)
    print(result.to_text())
    return 0


def _command_pipeline_backtest(args: argparse.Namespace) -> int:
    from planning.pipeline.accuracy import backtest_forecasts
    from planning.store import open_workspace

    workspace = open_workspace(args.workspace or default_workspace())
    as_of = _as_of(args.as_of)
    with progress_bar("backtest") as progress:
        _, summary = backtest_forecasts(
            workspace, quarters=args.quarters, as_of=as_of.date() if as_of else None,
            actor=os.environ.get("USER", "cli"), actor_role="operator", progress=progress)
    print(summary.to_text())
    return 0


def _command_territory_solve(args: argparse.Namespace) -> int:
    from planning.cli_versions import (
        WORKSPACE_ONLY,
        scenario_from_args,
        solve_workspace_territory,
    )
    from planning.compare import mean_distance_text
    from planning.csv_safety import spreadsheet_csv
    from planning.output_files import write_text_atomically
    from planning.territory.solve import solve_territories
    from planning.territory.validation import read_territory_csv

    if args.workspace is not None:
        if args.units or args.reps:
            raise RevPlanError("Give either --workspace or --units and --reps, not both.")
        return solve_workspace_territory(args, progress_bar)
    if not (args.units and args.reps):
        raise RevPlanError("territory solve needs --workspace NAME, or --units and --reps.")
    extra = [name for name in WORKSPACE_ONLY if getattr(args, name) not in (None, False)]
    if extra:
        raise RevPlanError(f"--{extra[0].replace('_', '-').replace('acting', 'as')} goes with "
                           "--workspace, not with --units/--reps.")
    problem = read_territory_csv(Path(args.units), Path(args.reps))
    scenario = scenario_from_args(args)
    with progress_bar("territory") as progress:
        result = solve_territories(problem, scenario, progress=progress)
    print(result.message)
    if result.has_plan:
        kpis = result.kpis()
        print(f"{problem.unit_count:,} units, {problem.rep_count:,} reps: max balance deviation "
              f"{kpis['max_balance_deviation']:+.2%}, {kpis['moved_units']:,} units moved, "
              f"distance to the rep {mean_distance_text(kpis['mean_distance_km'])}.")
        if args.out:
            write_text_atomically(args.out,
                                  spreadsheet_csv(result.assignment[["unit_id", "rep_id"]]))
            print(f"Assignment written to {args.out}.")
    _write_report(args.report, result.report())
    return 0 if result.has_plan else 3


def _blend(text: str) -> dict[str, float]:
    blend: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            blend[name.strip()] = float(value)
        except ValueError:
            raise RevPlanError(f"--blend {text!r}: write it as potential=0.5,history=0.3,"
                               "pipeline=0.2.") from None
    return blend


def _command_quota_solve(args: argparse.Namespace) -> int:
    import pandas as pd

    from planning.bounds import amount_cents
    from planning.cli_versions import (
        free_version_name,
        quota_saver,
        save_quota_version,
    )
    from planning.csv_safety import spreadsheet_csv
    from planning.output_files import write_text_atomically
    from planning.quota.plan import QuotaRequest, planned_fiscal_year, solve_quota_plan
    from planning.store import open_workspace

    user = None
    if args.save is not None or args.acting is not None:
        workspace, user = quota_saver(args)
    else:
        workspace = open_workspace(args.workspace or default_workspace(), read_only=True)
    today = _as_of_day(args.as_of)
    name = (None if args.save is None else free_version_name(
        workspace, "quota", planned_fiscal_year(workspace, args.fiscal_year, today), args.save))
    request = QuotaRequest(
        target_cents=amount_cents("target", args.target), blend=_blend(args.blend),
        over_assign=args.over_assign, max_increase=args.max_increase,
        max_decrease=args.max_decrease, team_totals="fixed" if args.fixed_teams else "free",
        fiscal_year=args.fiscal_year, territory_scenario=args.territory_version, today=today)
    plan = solve_quota_plan(workspace, user.email if user else os.environ.get("USER", "cli"),
                            request)
    inputs, result = plan.inputs, plan.result
    fairness, capacity = plan.metrics()
    print(f"FY{inputs.fiscal_year}: {len(result.allocation)} reps, total "
          f"{result.total_cents / 100:,.2f} ({result.status}, largest deviation from fair share "
          f"{result.objective:.1%}, {result.seconds:.2f} s). Expected to reach 100%: "
          f"{fairness.share_expected_to_reach_100:.0%} of reps; capacity gap "
          f"{capacity.gap:,.0f} ({capacity.hires:.1f} hires).")
    for note in result.notes:
        print(f"Note: {note}")
    if args.out:
        allocation = result.allocation
        table = pd.DataFrame({"rep_id": allocation["rep_id"],
                              "quota": allocation["quota_cents"] / 100})
        for k, quarter in enumerate(inputs.quarters, start=1):
            table[quarter.label.replace(" ", "_")] = allocation[f"q{k}_cents"] / 100
        write_text_atomically(args.out, spreadsheet_csv(table, float_format="%.2f"))
        print(f"Quotas written to {args.out}.")
    if name is not None:
        version_id = save_quota_version(workspace, user, inputs, result, name)
        print(f"Saved as version {version_id}: \u201c{name}\u201d.")
    _write_report(args.report, {
        **result.report(), "fiscal_year": inputs.fiscal_year,
        "potential_source": inputs.potential_source,
        "gini_quota_to_potential": fairness.gini_quota_to_potential,
        "share_expected_to_reach_100": fairness.share_expected_to_reach_100,
        "capacity_gap": capacity.gap, "hires_needed": capacity.hires})
    return 0


def _add_quota_commands(commands: argparse._SubParsersAction) -> None:
    """`revplan quota solve`."""
    quota = commands.add_parser("quota", help="Allocate a bookings target to reps.")
    quota_commands = quota.add_subparsers(dest="quota_command", required=True,
                                          metavar="COMMAND")
    solve = quota_commands.add_parser(
        "solve", help="Allocate a fiscal year's target across reps, fairly and within caps.",
        description="Quotas as close as possible to each rep's blended fair share (largest "
        "relative deviation first, then the total), adding up to target × (1 + "
        "over-assignment) to the cent. Infeasible caps exit 2 naming the binding caps.")
    solve.add_argument("--workspace", help=f"workspace name (default {default_workspace()!r})")
    solve.add_argument("--target", type=float, required=True,
                       help="company bookings target for the fiscal year, in currency units")
    solve.add_argument("--fiscal-year", type=int, help="fiscal year (default: the next one)")
    solve.add_argument("--territory-version",
                       help="saved territory scenario whose assignment gives the potential")
    solve.add_argument("--blend", default="potential=0.5,history=0.3,pipeline=0.2",
                       help="fair-share weights (default potential=0.5,history=0.3,"
                       "pipeline=0.2)")
    solve.add_argument("--max-increase", type=float,
                       help="cap on the rise over last year's quota (0.25 = +25%%)")
    solve.add_argument("--max-decrease", type=float,
                       help="cap on the fall below last year's quota")
    solve.add_argument("--over-assign", type=float, default=0.0,
                       help="quotas add up to target × (1 + this) (default 0)")
    solve.add_argument("--fixed-teams", action="store_true",
                       help="keep each team's total at its reps' fair shares")
    solve.add_argument("--out", help="write quotas.csv (rep_id, quota, one column per quarter)")
    solve.add_argument("--report", help="write report.json")
    solve.add_argument("--as-of", help="plan as of this date (YYYY-MM-DD): trailing bookings "
                       "and last year's quota end there (default: the workspace's as-of date)")
    solve.add_argument("--save", metavar="NAME",
                       help="save the allocation as a quota version with this (unique) name")
    solve.add_argument("--as", dest="acting", metavar="EMAIL",
                       help="the workspace member saving (required with --save; checked like "
                       "on the Quota planning page)")
    solve.set_defaults(handler=_command_quota_solve)


def _command_writeback_deliver(args: argparse.Namespace) -> int:
    from planning.access.policy import system_principal
    from planning.store import open_workspace
    from planning.writeback import deliver_webhook

    url = args.url or os.environ.get("REVPLAN_WEBHOOK_URL")
    secret = os.environ.get("REVPLAN_WEBHOOK_SECRET", "")
    if not url:
        raise RevPlanError("No webhook: pass --url or set REVPLAN_WEBHOOK_URL "
                           "(and REVPLAN_WEBHOOK_SECRET).")
    workspace = open_workspace(args.workspace or default_workspace())
    report = deliver_webhook(workspace, url, secret, max_attempts=args.attempts,
                             user=system_principal(workspace.name, "webhook delivery"))
    print(report.to_text())
    return 0 if report.failed == 0 and report.busy_with is None else 1


def _command_writeback_csv(args: argparse.Namespace) -> int:
    from planning.access.policy import system_principal
    from planning.output_files import write_text_atomically
    from planning.store import open_workspace
    from planning.writeback import data_loader_csv

    workspace = open_workspace(args.workspace or default_workspace(), read_only=True)
    text = data_loader_csv(workspace, args.batch, args.object,
                           system_principal(workspace.name, "Data Loader export"))
    if not text:
        raise RevPlanError(f"Batch {args.batch} has no {args.object} changes.")
    write_text_atomically(args.out, text)
    print(f"{args.object} changes of {args.batch} written to {args.out}.")
    return 0


def _add_writeback_commands(commands: argparse._SubParsersAction) -> None:
    """`revplan writeback deliver|csv`."""
    writeback = commands.add_parser("writeback", help="Deliver published changes to the CRM.")
    writeback_commands = writeback.add_subparsers(dest="writeback_command", required=True,
                                                  metavar="COMMAND")
    deliver = writeback_commands.add_parser(
        "deliver", help="POST pending outbox items, signed (HMAC-SHA256), with retries.")
    deliver.add_argument("--workspace", help=f"workspace name (default {default_workspace()!r})")
    deliver.add_argument("--url", help="webhook URL (default $REVPLAN_WEBHOOK_URL)")
    deliver.add_argument("--attempts", type=int, default=5, help="attempts per item")
    deliver.set_defaults(handler=_command_writeback_deliver)
    export = writeback_commands.add_parser(
        "csv", help="Write a batch's Data Loader / Bulk API update file for one object.")
    export.add_argument("--workspace", help=f"workspace name (default {default_workspace()!r})")
    export.add_argument("--batch", required=True)
    export.add_argument("--object", required=True, choices=("Account", "Opportunity", "Quota"))
    export.add_argument("--out", required=True)
    export.set_defaults(handler=_command_writeback_csv)


def _add_territory_commands(commands: argparse._SubParsersAction) -> None:
    """`revplan territory solve`."""
    territory = commands.add_parser("territory", help="Design balanced territories.")
    territory_commands = territory.add_subparsers(dest="territory_command", required=True,
                                                  metavar="COMMAND")
    from planning.cli_versions import add_territory_workspace_options
    from planning.territory.problem import TerritoryScenario

    default = TerritoryScenario()
    solve = territory_commands.add_parser(
        "solve", help="Assign units to reps: balanced, compact, little disruption.",
        description="Assign every unit to one eligible rep so that each rep's workload is "
        "within ±tolerance of its capacity share, minimising workload × km from the rep's home "
        "plus the disruption weight × the value of moved units. Either a workspace's accounts "
        "and reps (--workspace NAME --as EMAIL, optionally saved as a version with --save) or "
        "two CSV files (--units, --reps). Exit status 0 with a plan, 2 on bad input or a "
        "refusal, 3 when no plan exists (the report says which constraint).")
    solve.add_argument("--units",
                       help="units.csv: unit_id,lat,lon,workload[,current_rep_id][,locked]"
                       "[,segment][,value]")
    solve.add_argument("--reps", help="reps.csv: rep_id,lat,lon[,capacity][,segment]")
    add_territory_workspace_options(solve)
    solve.add_argument("--tolerance", type=float,
                       help=f"workload band around each rep's share (default "
                       f"{default.tolerance:g} = ±{default.tolerance * 100:g}%%)")
    solve.add_argument("--time-limit", type=float,
                       help=f"seconds (default {default.time_limit:g})")
    solve.add_argument("--disruption-weight", type=float,
                       help="cost per unit of value of a moved unit (default: the scenario "
                       "default, as on the page)")
    solve.add_argument("--max-moves", type=int,
                       help="at most this many units may move off each rep")
    solve.add_argument("--gap", type=float,
                       help=f"stop when proven within this relative gap (default "
                       f"{default.rel_gap:g})")
    solve.add_argument("--method", choices=("auto", "heuristic", "plain"),
                       help=f"auto: heuristic + LP bound + warm-started MIP; plain: the full "
                       f"MIP alone (default {default.method})")
    solve.add_argument("--out", help="write assignment.csv (unit_id,rep_id)")
    solve.add_argument("--report", help="write report.json")
    solve.set_defaults(handler=_command_territory_solve)


def _add_pipeline_commands(commands: argparse._SubParsersAction) -> None:
    """`revplan pipeline train|score|backtest`."""
    pipeline = commands.add_parser("pipeline", help="Train and apply the deal risk models.")
    pipeline_commands = pipeline.add_subparsers(dest="pipeline_command", required=True,
                                                metavar="COMMAND")
    train = pipeline_commands.add_parser(
        "train", help="Train the deal risk models, rescore open deals and raise risk alerts; "
        "or train and test a win model on one opportunity export (--csv).",
        description="With --workspace: train the win and slip models on the workspace's closed "
        "deals, score every open deal and send risk alerts to the owners' managers. With "
        "--csv: read any opportunity export (through --mapping, see docs/IMPORT.md), train a "
        "win model on the older 75% of closed deals using only what was known when each deal "
        "was created, and report AUC and Brier on the newest 25%. See docs/PIPELINE.md.",
    )
    train.add_argument("--workspace", help=f"workspace name (default {default_workspace()!r})")
    train.add_argument("--as-of", help="train and score as of the end of this date "
                       "(YYYY-MM-DD, UTC) or this ISO date-time; default: the end of the "
                       "workspace's as-of date (see `revplan as-of`)")
    train.add_argument("--csv", metavar="FILE", help="an opportunity export to train on, "
                       "instead of a workspace")
    train.add_argument("--mapping", metavar="FILE", help="TOML column mapping for --csv "
                       "(not needed for Salesforce Opportunity or HubSpot deals exports)")
    train.add_argument("--currency", help="currency of --csv amounts (default USD)")
    train.add_argument("--report", metavar="FILE", help="also write the figures as JSON here")
    train.set_defaults(handler=_command_pipeline_train)
    score = pipeline_commands.add_parser(
        "score", help="Score open deals with the active models and raise risk alerts.")
    score.add_argument("--workspace", help=f"workspace name (default {default_workspace()!r})")
    score.add_argument("--as-of", help="score as of the end of this date (YYYY-MM-DD, UTC) or "
                       "this ISO date-time; default: the end of the workspace's as-of date")
    score.set_defaults(handler=_command_pipeline_score)
    backtest = pipeline_commands.add_parser(
        "backtest", help="Forecast past quarters week by week from what was known then.",
        description="For each of the last closed quarters, train models on deals closed before "
        "it and forecast it every week from the deals as they stood; compare the model's P50 "
        "and P10-P90 range and the reps' commit roll-up with the actual bookings. Stored for "
        "the Forecast accuracy page.",
    )
    backtest.add_argument("--workspace", help=f"workspace name (default {default_workspace()!r})")
    backtest.add_argument("--quarters", type=int, default=6, help="closed quarters to test")
    backtest.add_argument("--as-of", help="backtest the quarters closed before this date "
                          "(default: the workspace's as-of date)")
    backtest.set_defaults(handler=_command_pipeline_backtest)


def _command_health_train(args: argparse.Namespace) -> int:
    from planning.health.csv_training import train_churn_table

    if args.seeds < 1:
        raise RevPlanError("--seeds must be at least 1.")
    with progress_bar("train on churn table") as progress:
        report = train_churn_table(Path(args.csv), Path(args.mapping),
                                   seeds=tuple(range(args.seeds)), progress=progress)
    print(report.to_text())
    _write_report(args.report, report.to_dict())
    return 0


def _add_health_commands(commands: argparse._SubParsersAction) -> None:
    """`revplan health train` (more health subcommands are added to `health_commands`)."""
    health = commands.add_parser("health", help="Customer health and churn risk.")
    health_commands = health.add_subparsers(dest="health_command", required=True,
                                            metavar="COMMAND")
    train = health_commands.add_parser(
        "train", help="Train and evaluate a churn model on any account-level churn table.",
        description="Read a churn table (one row per account, a churn label column, numeric "
        "and categorical columns) through a TOML mapping (see "
        "data/samples/telco_churn_mapping.toml), then on stratified 25%% hold-outs (seeds 0.."
        "N-1) fit the churn model and a plain one-hot logistic baseline side by side and print "
        "per-seed and mean AUC, Brier, base-rate Brier and the top features.",
    )
    train.add_argument("--csv", required=True, metavar="FILE", help="the churn table (CSV)")
    train.add_argument("--mapping", required=True, metavar="FILE",
                       help="TOML mapping: id and label columns, positive label values, "
                       "column kinds")
    train.add_argument("--seeds", type=int, default=5, metavar="N",
                       help="number of hold-outs, seeds 0..N-1 (default 5)")
    train.add_argument("--report", metavar="FILE", help="also write the figures as JSON here")
    train.set_defaults(handler=_command_health_train)
    from planning.health.cli import add_workspace_health_commands

    add_workspace_health_commands(health_commands, progress_bar)


def _as_of_day(text: str | None) -> dt.date | None:
    """--as-of DATE for commands that plan by day."""
    from planning.asof import parse_day

    return None if text is None else parse_day(text)


def _command_as_of(args: argparse.Namespace) -> int:
    from planning.asof import parse_day, resolve_as_of, set_workspace_as_of
    from planning.store import open_workspace

    workspace = open_workspace(args.workspace)
    if args.set is not None or args.clear:
        as_of = set_workspace_as_of(workspace, os.environ.get("USER", "cli"),
                                    None if args.clear else parse_day(args.set))
    else:
        as_of = resolve_as_of(workspace)
    print(f"{as_of.day.isoformat()} ({as_of.source_text})")
    print(as_of.sentence + ".")
    return 0


def _command_summary(args: argparse.Namespace) -> int:
    from planning.store import open_workspace
    from planning.summary import workspace_summary

    workspace = open_workspace(args.workspace, read_only=True)
    summary = workspace_summary(workspace, _as_of_day(args.as_of))
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(summary.to_text())
    return 0


def _add_as_of_commands(commands: argparse._SubParsersAction) -> None:
    """`revplan as-of` and `revplan summary`."""
    as_of = commands.add_parser(
        "as-of", help="Show or set the date the workspace is planned as of.",
        description="Every page and command measures quarters from the workspace's as-of date: "
        "its setting when one is stored, else the date of its newest CRM record, else today. "
        "Setting it is audited and needs the admin or revops role.")
    as_of.add_argument("--workspace", default=default_workspace(), help="workspace name")
    change = as_of.add_mutually_exclusive_group()
    change.add_argument("--set", metavar="DATE", help="store this date (YYYY-MM-DD)")
    change.add_argument("--clear", action="store_true",
                        help="remove the stored date: back to the newest record's date")
    as_of.set_defaults(handler=_command_as_of)
    summary = commands.add_parser(
        "summary", help="Print the Home KPIs of a workspace.",
        description="Open pipeline, bookings per fiscal quarter (every quarter with deals up to "
        "the as-of date, at least eight), win rate, accounts, reps, the data date and accounts "
        "by location precision.")
    summary.add_argument("--workspace", default=default_workspace(), help="workspace name")
    summary.add_argument("--as-of", metavar="DATE",
                         help="summarise as of this date (default: the workspace's as-of date)")
    summary.add_argument("--json", action="store_true",
                         help="print JSON (money in cents and dollars, dates ISO)")
    summary.set_defaults(handler=_command_summary)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every `revplan` command."""
    from planning.demo import DEMO_SIZES

    parser = argparse.ArgumentParser(
        prog="revplan",
        description="RevPlan: pipeline, territory and quota planning for revenue teams.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="Create a workspace filled with a believable demo company.",
        description="Generate a deterministic demo company (reps, accounts on real US ZIP codes, "
        "8 closed quarters of opportunities with full history, activities, subscriptions, "
        "usage, tickets, invoices, products and price books) into a workspace.",
    )
    demo.add_argument("--workspace", default=default_workspace(), help="workspace name")
    demo.add_argument("--size", choices=sorted(DEMO_SIZES), default="medium",
                      help="small (tests), medium (about 60 reps, 40,000 deals), "
                      "large (1,000,000 deals)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    trained = demo.add_mutually_exclusive_group()
    trained.add_argument("--with-models", action="store_true",
                         help="also train the deal risk models and score the open deals, "
                         "waiting for them")
    trained.add_argument("--train-in-background", action="store_true",
                         help="queue the deal risk models' training as a job and return at "
                         "once (the app stores the models and scores when the job ends)")
    existing = demo.add_mutually_exclusive_group()
    existing.add_argument("--if-missing", action="store_true",
                          help="do nothing when the workspace exists and is complete (one "
                          "left incomplete by an interrupted build is built again)")
    existing.add_argument("--replace", action="store_true",
                          help="delete an existing workspace and build it anew")
    demo.set_defaults(handler=_command_demo)

    imp = commands.add_parser(
        "import", help="Import CRM export files (CSV) into a workspace.",
        description="Import Salesforce or HubSpot exports, or any CSV through a column-mapping "
        "file. Valid rows upsert by CRM id in one transaction; rejected rows are quarantined "
        "with file, line, column and reason.",
    )
    imp.add_argument("--workspace", default=default_workspace(), help="workspace name")
    imp.add_argument("--mapping", help="TOML column-mapping file for other CRMs")
    imp.add_argument("files", nargs="+", metavar="FILE", help="CSV files to import")
    imp.set_defaults(handler=_command_import)

    worker = commands.add_parser(
        "worker", help="Run territory and quota solves queued by the app.",
        description="Poll the job queues of every workspace in the data folder and run each "
        "job in a process of its own, with its hard time limit; Cancel in the app kills it.")
    worker.add_argument("--data-dir", default=None, metavar="DIR",
                        help="folder of the workspaces (default: REVPLAN_DATA_DIR or data/)")
    worker.set_defaults(handler=_command_worker)

    audit = commands.add_parser("audit", help="Check the audit trail.")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_commands.add_parser(
        "verify", help="Recompute the audit hash chain and name the first broken event.",
        description="Recompute every audit event's SHA-256 chain; exit 1 and name the first "
        "changed, removed or reordered event if the chain is broken.",
    )
    verify.add_argument("--workspace", default=default_workspace(), help="workspace name")
    verify.set_defaults(handler=_command_audit_verify)
    anchor = audit_commands.add_parser(
        "anchor", help="Print the audit chain's head for an external witness.",
        description="Print the newest audit event's number and SHA-256 as one line to keep "
        "outside the machine (a ticket, an email, a timestamping service); a later "
        "`audit verify` or comparison with that line shows whether events were removed. "
        "--start begins the anchor log of a workspace older than anchoring.",
    )
    anchor.add_argument("--workspace", default=default_workspace(), help="workspace name")
    anchor.add_argument("--start", action="store_true",
                        help="create the anchor log at the current head (refused if one exists)")
    anchor.set_defaults(handler=_command_audit_anchor)

    from planning.access.roles import ROLES

    access = commands.add_parser("access", help="Grant, revoke and list workspace access.")
    access_commands = access.add_subparsers(dest="access_command", required=True,
                                            metavar="COMMAND")
    grant = access_commands.add_parser(
        "grant", help="Give a person (by verified email) roles in a workspace.",
        description="Give a person access to a workspace with exactly the roles named "
        "(repeat --role). Audited as the operator.",
    )
    grant.add_argument("--workspace", default=default_workspace(), help="workspace name")
    grant.add_argument("--email", required=True, help="the person's verified email")
    grant.add_argument("--role", action="append", required=True,
                       choices=[r.value for r in ROLES], help="a role (repeat for several)")
    grant.add_argument("--name", help="display name")
    grant.add_argument("--reason", help="why, for the audit trail")
    grant.set_defaults(handler=_command_access_grant)
    revoke = access_commands.add_parser("revoke", help="Remove a person's access.")
    revoke.add_argument("--workspace", default=default_workspace(), help="workspace name")
    revoke.add_argument("--email", required=True, help="the person's verified email")
    revoke.add_argument("--reason", help="why, for the audit trail")
    revoke.set_defaults(handler=_command_access_revoke)
    listing = access_commands.add_parser("list", help="Who has access, with which roles.")
    listing.add_argument("--workspace", default=default_workspace(), help="workspace name")
    listing.set_defaults(handler=_command_access_list)

    _add_pipeline_commands(commands)
    _add_health_commands(commands)
    _add_territory_commands(commands)
    _add_quota_commands(commands)
    _add_writeback_commands(commands)
    _add_as_of_commands(commands)
    from planning.cpq.cli import add_cpq_commands

    add_cpq_commands(commands)
    from planning.cli_versions import add_approvals_commands, add_versions_commands

    add_versions_commands(commands, progress_bar)
    add_approvals_commands(commands)

    workspaces = commands.add_parser("workspaces", help="List the workspaces in the data folder.")
    workspaces.set_defaults(handler=_command_workspaces)
    workspace = commands.add_parser("workspace", help="Create workspaces.")
    workspace_commands = workspace.add_subparsers(dest="workspace_command", required=True,
                                                  metavar="COMMAND")
    create = workspace_commands.add_parser(
        "create", help="Create an empty workspace for your own CRM data, with its first admin.",
        description="Create an empty workspace (one DuckDB file in the data folder) with its "
        "currency and fiscal-year start month, and grant its first admin. Then import your CRM "
        "export into it with `revplan import --workspace NAME`.",
    )
    create.add_argument("name", metavar="NAME", help="workspace name (letters, digits, - and _)")
    create.add_argument("--admin", required=True, metavar="EMAIL",
                        help="e-mail of the first admin")
    create.add_argument("--currency", default="USD", help="ISO currency code (default USD)")
    create.add_argument("--fiscal-year-start-month", type=int, default=1, metavar="MONTH",
                        help="month (1-12) that starts the fiscal year (default 1)")
    create.set_defaults(handler=_command_workspace_create)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors meant for people are printed without a stack trace."""
    from planning.store import close_all_workspaces

    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        check_output_options(args)
        return handler(args)
    except RevPlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence for the CLI
        if os.environ.get("REVPLAN_DEBUG"):
            traceback.print_exc()
        print(f"error: unexpected failure ({type(exc).__name__}: {exc}). "
              "Set REVPLAN_DEBUG=1 for details.", file=sys.stderr)
        return 1
    finally:
        close_all_workspaces()


if __name__ == "__main__":
    sys.exit(main())
