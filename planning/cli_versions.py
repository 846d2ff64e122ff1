"""`revplan versions ...` and `revplan approvals ...`: list, show, compare, submit, withdraw,
decide and publish plan versions as a named workspace member (`--as EMAIL`), checked by the same
policy as the Plan versions and Approvals pages; `--json` prints machine-readable output. Also
the workspace forms of `revplan territory solve` and `revplan quota solve --save`, checked like
the Territory design and Quota planning pages."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from contextlib import AbstractContextManager

import pandas as pd

from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.csv_safety import spreadsheet_csv
from planning.errors import RevPlanError
from planning.output_files import write_text_atomically
from planning.progress import ProgressCallback
from planning.settings import default_workspace

DECISION_CHOICES = ("approved", "rejected", "changes_requested")


def acting_user(args: argparse.Namespace):
    """The workspace (`args.workspace`, else the default one) and the `--as` person
    (`args.acting`) resolved to a member with their roles, as the pages see them."""
    from planning.access.membership import (
        command_line_role_sources,
        normalise_email,
        resolve_user,
    )
    from planning.access.users import Identity
    from planning.store import open_workspace

    workspace = open_workspace(args.workspace or default_workspace())
    identity = Identity(email=normalise_email(args.acting), name="", method="cli")
    return workspace, resolve_user(workspace, identity, command_line_role_sources())


def _page(user, path: str) -> None:
    from planning.access.policy import Action, require

    require(user, Action.VIEW_PAGE, path)


def _records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def _emit(args: argparse.Namespace, payload: object, text: str) -> None:
    print(json.dumps(payload, indent=2, default=str) if args.json else text)


def _command_list(args: argparse.Namespace) -> int:
    from planning.versions import list_versions

    workspace, user = acting_user(args)
    _page(user, "versions")
    versions = list_versions(workspace, args.kind)
    lines = [f"{row.version_id}  {row.kind:<9} {row.status:<17} {row.content_hash[:12]}  "
             f"{row.created_at:%Y-%m-%d %H:%M}  {row.author}  {row.name}"
             for row in versions.itertuples()]
    _emit(args, _records(versions), "\n".join(lines) or "No versions yet.")
    return 0


def _summary_payload(summary) -> dict:
    payload = dataclasses.asdict(dataclasses.replace(summary, biggest_changes=None))
    payload["biggest_changes"] = _records(summary.biggest_changes)
    return payload


def _summary_text(summary) -> list[str]:
    from planning.approvals import biggest_changes_table

    lines = [f"  Step {summary.step_no} ({summary.role}): {summary.rule}",
             f"  {summary.baseline_text}"]
    if summary.change_summary:
        lines.append(f"  {summary.change_summary}")
    for figure in summary.totals:
        extra = "".join([f", published {figure.baseline}" if figure.baseline else "",
                         f", change {figure.change}" if figure.change else ""])
        lines.append(f"  {figure.label}: {figure.value}{extra}")
    changes = biggest_changes_table(summary)
    if len(changes):
        lines += ["  Biggest changes:", "    " + " · ".join(changes.columns)]
        lines += ["    " + " · ".join(row) for row in changes.itertuples(index=False)]
    if summary.compare_query:
        lines.append(f"  Full compare: versions page {summary.compare_query}"
                     f"&kind={summary.kind}")
    return lines


def _command_show(args: argparse.Namespace) -> int:
    from planning.approvals import approver_summary, requests, waits_for
    from planning.versions import lineage, list_versions

    workspace, user = acting_user(args)
    _page(user, "versions")
    versions = list_versions(workspace)
    found = versions[versions["version_id"] == args.version_id]
    if found.empty:
        raise RevPlanError(f"No version {args.version_id!r}; `revplan versions list` shows "
                           "the ids.")
    version = _records(found)[0]
    version["lineage"] = lineage(workspace, args.version_id)
    asked = requests(workspace)
    asked = asked[asked["version_id"] == args.version_id]
    version["requests"] = _records(asked)
    lines = [f"{version['name']} ({version['kind']}, {version['status']})",
             f"  id {version['version_id']} · author {version['author']} · hash "
             f"{version['content_hash']}",
             "  lineage: " + " <- ".join(version["lineage"])]
    for request in version["requests"]:
        lines.append(f"Request {request['request_id']}: {request['status']}; "
                     f"steps: {request['steps']}")
        if request["status"] != "pending":
            continue
        lines.append(f"  waiting for: {request['waiting_for']}")
        waits = waits_for(workspace, request["request_id"])
        request["waits_for"] = {str(k): v for k, v in waits.items()}
        summaries = [approver_summary(workspace, request["request_id"], step)
                     for step in sorted(waits)]
        request["summaries"] = [_summary_payload(s) for s in summaries]
        for summary in summaries:
            lines += _summary_text(summary)
    _emit(args, version, "\n".join(lines))
    return 0


def _command_submit(args: argparse.Namespace) -> int:
    from planning.access.policy import Action, require
    from planning.approvals import submit_version, waits_for

    workspace, user = acting_user(args)
    require(user, Action.SUBMIT_VERSION)
    request_id = submit_version(workspace, args.version_id, user)
    waits = waits_for(workspace, request_id)
    _emit(args, {"request_id": request_id, "version_id": args.version_id,
                 "waits_for": {str(k): v for k, v in waits.items()}},
          f"Submitted {args.version_id} as {request_id}; waiting for: "
          + ("; ".join(f"step {k}: {', '.join(v)}" for k, v in sorted(waits.items()))
             or "nobody (signed by you)"))
    return 0


def _command_withdraw(args: argparse.Namespace) -> int:
    from planning.approvals import withdraw_request

    workspace, user = acting_user(args)
    _page(user, "approvals")
    withdraw_request(workspace, args.request_id, user, reason=args.reason)
    _emit(args, {"request_id": args.request_id, "status": "withdrawn"},
          f"Withdrew {args.request_id}; the version is a draft again.")
    return 0


def _command_decide(args: argparse.Namespace) -> int:
    from planning.approvals import decide, waiting_for

    workspace, user = acting_user(args)
    _page(user, "approvals")
    step = args.step
    if step is None:
        mine = waiting_for(workspace, user)
        mine = mine[mine["request_id"] == args.request_id]
        if mine.empty:
            raise RevPlanError(f"No open step of {args.request_id} waits for {user.email}.")
        step = int(mine["step_no"].iloc[0])
    status = decide(workspace, args.request_id, step, user, args.decision, args.comment or "")
    _emit(args, {"request_id": args.request_id, "step": step, "decision": args.decision,
                 "request_status": status},
          f"Recorded {args.decision} on step {step} of {args.request_id}; the request is "
          f"now {status}.")
    return 0


def _command_publish(args: argparse.Namespace,
                     bar: Callable[[str], AbstractContextManager[ProgressCallback]]) -> int:
    from planning.access.policy import Action, require
    from planning.writeback import named_preview, publish

    workspace, user = acting_user(args)
    require(user, Action.PUBLISH_VERSION)
    if args.dry_run:
        changes = named_preview(workspace, args.version_id)
        lines = [f"{row.object} {row.record_id} ({row.record_name or '?'}) · {row.field_name}: "
                 f"{row.old_value} ({row.old_name or '-'}) -> {row.new_value} "
                 f"({row.new_name or '-'})" + (" [already queued]" if row.queued else "")
                 for row in changes.itertuples()]
        _emit(args, _records(changes), "\n".join(lines) or "No change to send.")
        return 0
    if args.json:
        result = publish(workspace, args.version_id, user)
    else:
        with bar("publish") as progress:
            result = publish(workspace, args.version_id, user, progress=progress)
    _emit(args, dataclasses.asdict(result),
          f"Published {args.version_id}: {result.new_items:,} new change(s) in batch "
          f"{result.batch_id}; {result.already_queued:,} already queued."
          if result.batch_id else "Nothing new to send: every change is already queued.")
    return 0


def _command_alternate(args: argparse.Namespace) -> int:
    from planning.access.policy import system_principal
    from planning.access.users import canonical_email
    from planning.approvals import set_alternate
    from planning.store import open_workspace

    set_alternate(open_workspace(args.workspace), args.role,
                  None if args.clear else args.email, system_principal(args.workspace),
                  reason=args.reason)
    print(f"No alternate for {args.role} in {args.workspace!r}." if args.clear else
          f"{canonical_email(args.email)} is the alternate approver for {args.role} in "
          f"{args.workspace!r}.")
    return 0


def free_version_name(workspace, kind: str, fiscal_year: int | None, wanted: str) -> str:
    """The `--save` name, trimmed; refused before any solving when a `kind` version of that
    fiscal year already carries it (saving checks again, with the content hash)."""
    from planning.versions import DuplicateVersionError, checked_name, name_key, taken_names

    name = checked_name(wanted)
    if name_key(name) in taken_names(workspace, kind, fiscal_year):
        year = f" for FY{fiscal_year}" if fiscal_year is not None else ""
        raise DuplicateVersionError(
            f"A {kind} version{year} is already named {name!r}; choose another --save name "
            "(`revplan versions list` shows the names).")
    return name


def scenario_from_args(args: argparse.Namespace, balance_measure: str | None = None):
    """A `TerritoryScenario` from the solve options given; every option left out keeps the
    scenario's own default, so the command line and the page start from the same settings."""
    from planning.territory.problem import TerritoryScenario

    given = {"tolerance": args.tolerance, "disruption_weight": args.disruption_weight,
             "max_moves_per_rep": args.max_moves, "time_limit": args.time_limit,
             "rel_gap": args.gap, "method": args.method, "balance_measure": balance_measure}
    try:
        return TerritoryScenario(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise RevPlanError(str(exc)) from None


WORKSPACE_ONLY = ("measure", "lock", "no_segments", "as_of", "save", "acting", "json")
"""`territory solve` options that only the workspace form takes."""


def add_territory_workspace_options(solve: argparse.ArgumentParser) -> None:
    """The options of `revplan territory solve --workspace NAME` beyond the scenario settings
    both forms share: balance measure, locked accounts, segments, as-of day, save, acting
    person and JSON output, as on the Territory design page."""
    from planning.territory.workspace import MEASURE_NAMES

    solve.add_argument("--workspace", metavar="NAME",
                       help="solve this workspace's located accounts and active reps "
                       "(instead of --units/--reps)")
    solve.add_argument("--measure", choices=list(MEASURE_NAMES),
                       help="balance measure (default, as on the page: the first of revenue, "
                       "bookings, pipeline and accounts that the accounts carry)")
    solve.add_argument("--lock", action="append", metavar="ACCOUNT_ID",
                       help="keep this account with its current rep (repeat for several)")
    solve.add_argument("--no-segments", action="store_true",
                       help="let reps take accounts outside their segment")
    solve.add_argument("--as-of", metavar="DATE", help="plan as of this date (YYYY-MM-DD; "
                       "default: the workspace's as-of date)")
    solve.add_argument("--save", metavar="NAME",
                       help="save the plan as a territory version with this (unique) name")
    solve.add_argument("--as", dest="acting", metavar="EMAIL",
                       help="the workspace member solving (required with --workspace; "
                       "checked like on the page)")
    solve.add_argument("--json", action="store_true", help="print JSON (with --workspace)")


def solve_workspace_territory(
    args: argparse.Namespace,
    bar: Callable[[str], AbstractContextManager[ProgressCallback]],
) -> int:
    """`revplan territory solve --workspace NAME --as EMAIL`: solve the workspace's accounts
    like the page does and optionally save the plan as a version; 3 when there is no plan."""
    from planning.access.policy import Action, require
    from planning.asof import parse_day, resolve_as_of
    from planning.compare import mean_distance_text
    from planning.overview import format_money
    from planning.territory.plan import TerritoryRequest, plan_territories, save_plan
    from planning.territory.workspace import MEASURE_NAMES, suggested_measure

    if not args.acting:
        raise RevPlanError("territory solve --workspace needs --as EMAIL: the workspace member "
                           "solving, checked like on the Territory design page.")
    workspace, user = acting_user(args)
    _page(user, "territory")
    require(user, Action.SOLVE_TERRITORY)
    name = (None if args.save is None
            else free_version_name(workspace, "territory", None, args.save))
    today = resolve_as_of(workspace, parse_day(args.as_of) if args.as_of else None).day
    measure = args.measure or suggested_measure(workspace, today)
    locked = tuple(dict.fromkeys(args.lock or ()))
    respect_segments = not args.no_segments
    scenario = scenario_from_args(args, MEASURE_NAMES[measure])
    if not args.json:
        print(f"Solving in a job process (hard limit {scenario.time_limit:.0f} s)...",
              flush=True)
    plan = plan_territories(workspace, user.email, TerritoryRequest(
        measure=measure, scenario=scenario, locked_ids=locked,
        respect_segments=respect_segments, today=today, name=name or ""))
    result = plan.result
    version_id = None
    if result.has_plan and name is not None:
        version_id = save_plan(workspace, plan, name, user=user)
    lines = [result.message]
    if result.has_plan:
        kpis = result.kpis()
        problem = plan.territory.problem
        lines.append(
            f"{problem.unit_count:,} accounts, {problem.rep_count:,} reps, balanced on "
            f"{MEASURE_NAMES[measure]}: max balance deviation "
            f"{kpis['max_balance_deviation']:+.2%}, {kpis['moved_units']:,} accounts moved "
            f"({format_money(round(kpis['moved_value'] * 100))} annual revenue), distance "
            f"to the rep {mean_distance_text(kpis['mean_distance_km'])}.")
        if args.out:
            write_text_atomically(args.out,
                                  spreadsheet_csv(result.assignment[["unit_id", "rep_id"]]))
            lines.append(f"Assignment written to {args.out}.")
    if version_id is not None:
        lines.append(f"Saved as version {version_id}: \u201c{name}\u201d.")
    elif name is not None:
        lines.append("Not saved: the solve returned no plan.")
    report = {**result.report(), "workspace": workspace.name, "balance_measure": measure,
              "locked_accounts": list(locked), "respect_segments": respect_segments,
              "version_id": version_id, "name": name}
    if args.report:
        write_text_atomically(args.report, json.dumps(report, indent=2, default=str) + "\n")
        lines.append(f"Report written to {args.report}.")
    _emit(args, report, "\n".join(lines))
    return 0 if result.has_plan else 3


def quota_saver(args: argparse.Namespace):
    """The workspace and the `--as` member for `revplan quota solve --save`, checked like on
    the Quota planning page; `--save` without `--as` is refused."""
    from planning.access.policy import Action, require

    if not args.acting:
        raise RevPlanError("quota solve --save needs --as EMAIL: the workspace member saving, "
                           "checked like on the Quota planning page.")
    workspace, user = acting_user(args)
    _page(user, "quota")
    require(user, Action.SOLVE_QUOTA)
    return workspace, user


@entry_point(Action.SOLVE_QUOTA)
def save_quota_version(workspace, user, inputs, result, name: str) -> str:
    """Save a quota allocation as a version through the page's `save_quota_scenario`."""
    from planning.quota.workspace import save_quota_scenario

    return save_quota_scenario(workspace, inputs, result, name, user=user)


def _version_ref(version) -> dict:
    return {"version_id": version.version_id, "name": version.name, "status": version.status,
            "author": version.author, "created_at": version.created_at,
            "content_hash": version.content_hash}


def _command_compare(args: argparse.Namespace) -> int:
    from planning.compare import compare_versions, describe_changes, kpi_cards, report_html

    workspace, user = acting_user(args)
    _page(user, "versions")
    comparison = compare_versions(workspace, args.a_id, args.b_id)
    a, b = comparison.a, comparison.b
    summary = describe_changes(comparison)
    cards = kpi_cards(comparison)
    if args.html:
        write_text_atomically(args.html, report_html(comparison))
    lines = [f"{a.kind.title()} plan: {a.name} (A) -> {b.name} (B)",
             f"  A {a.version_id} · {a.status} · hash {a.content_hash[:12]}",
             f"  B {b.version_id} · {b.status} · hash {b.content_hash[:12]}",
             "", summary, ""]
    for card in cards:
        notes = [text for text in (card.delta, card.help) if text]
        lines.append(f"{card.label}: {card.value}" + (f" ({'; '.join(notes)})" if notes else ""))
    if args.html:
        lines.append(f"Report written to {args.html}.")
    _emit(args, {"kind": a.kind, "a": _version_ref(a), "b": _version_ref(b),
                 "summary": summary, "kpis": [dataclasses.asdict(card) for card in cards],
                 "html": args.html}, "\n".join(lines))
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", default=default_workspace(), help="workspace name")
    parser.add_argument("--as", dest="acting", required=True, metavar="EMAIL",
                        help="the workspace member acting (checked like on the page)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def add_versions_commands(
    commands: argparse._SubParsersAction,
    bar: Callable[[str], AbstractContextManager[ProgressCallback]],
) -> argparse._SubParsersAction:
    """`revplan versions list|show|compare|submit|withdraw|decide|publish`; returns the subcommand
    group so further subcommands (compare) are added the same way."""
    versions = commands.add_parser("versions", help="List, submit, decide and publish plan "
                                   "versions as a named person.")
    sub = versions.add_subparsers(dest="versions_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="Versions newest first with status and short hash.")
    _common(listing)
    listing.add_argument("--kind", choices=["territory", "quota"], help="only this kind")
    listing.set_defaults(handler=_command_list)
    show = sub.add_parser("show", help="One version, its requests, whom they wait for and the "
                          "approver's summary.")
    _common(show)
    show.add_argument("version_id", metavar="VERSION_ID")
    show.set_defaults(handler=_command_show)
    compare = sub.add_parser("compare", help="What version B changes against A: the summary "
                             "in words and the key figures; --html writes the report.")
    _common(compare)
    compare.add_argument("a_id", metavar="A_ID", help="the version compared against")
    compare.add_argument("b_id", metavar="B_ID", help="the version whose changes are described")
    compare.add_argument("--html", metavar="FILE",
                         help="also write the self-contained HTML report (opens offline)")
    compare.set_defaults(handler=_command_compare)
    submit = sub.add_parser("submit", help="Submit a draft version for approval.")
    _common(submit)
    submit.add_argument("version_id", metavar="VERSION_ID")
    submit.set_defaults(handler=_command_submit)
    withdraw = sub.add_parser("withdraw", help="Withdraw your open request.")
    _common(withdraw)
    withdraw.add_argument("request_id", metavar="REQUEST_ID")
    withdraw.add_argument("--reason", help="why, for the audit trail")
    withdraw.set_defaults(handler=_command_withdraw)
    decide = sub.add_parser("decide", help="Approve, reject or request changes on a step.")
    _common(decide)
    decide.add_argument("request_id", metavar="REQUEST_ID")
    decide.add_argument("--decision", required=True, choices=DECISION_CHOICES)
    decide.add_argument("--step", type=int, help="step number (default: your open step)")
    decide.add_argument("--comment", help="required to reject or request changes")
    decide.set_defaults(handler=_command_decide)
    publish = sub.add_parser("publish", help="Publish an approved version to the outbox.")
    _common(publish)
    publish.add_argument("version_id", metavar="VERSION_ID")
    publish.add_argument("--dry-run", action="store_true",
                         help="list the changes with names, write nothing")
    publish.set_defaults(handler=lambda args: _command_publish(args, bar))
    return sub


def add_approvals_commands(commands: argparse._SubParsersAction) -> None:
    """`revplan approvals alternate`: name the alternate approver of a role (audited)."""
    approvals = commands.add_parser("approvals", help="Approval settings.")
    sub = approvals.add_subparsers(dest="approvals_command", required=True, metavar="COMMAND")
    alternate = sub.add_parser(
        "alternate", help="Name who may decide a role's step when only the submitter holds it.")
    alternate.add_argument("--workspace", default=default_workspace(), help="workspace name")
    alternate.add_argument("--role", required=True, help="the role, e.g. revops")
    who = alternate.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="a workspace member's email")
    who.add_argument("--clear", action="store_true", help="remove the role's alternate")
    alternate.add_argument("--reason", help="why, for the audit trail")
    alternate.set_defaults(handler=_command_alternate)

