"""`revplan health score|train-workspace|quality`: customer health on a workspace's own data.

Without `--as EMAIL` the command acts as the operator at the server's command line (the person
holding the workspace file); with it, as that workspace member, checked by the same policy as
the pages (training and scoring need TRAIN_HEALTH_MODEL, the listing is scoped to the member's
accounts).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
from collections.abc import Callable
from contextlib import AbstractContextManager

from planning.errors import RevPlanError
from planning.progress import ProgressCallback
from planning.settings import default_workspace

ProgressBar = Callable[[str], AbstractContextManager[ProgressCallback]]


def _moment(text: str | None) -> dt.datetime | None:
    """--as-of: a date means the end of that day (UTC)."""
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise RevPlanError(f"--as-of {text!r} is not a date; write it as YYYY-MM-DD.") from None
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


def _workspace_and_actor(args: argparse.Namespace):
    """The workspace and who acts: the `--as` member, else the operator's login name."""
    if args.acting:
        from planning.cli_versions import acting_user

        return acting_user(args)
    from planning.store import open_workspace

    return open_workspace(args.workspace or default_workspace()), os.environ.get("USER", "cli")


def _renewals_text(frame) -> list[str]:
    from planning.overview import format_money

    lines = []
    for row in frame.itertuples(index=False):
        reasons = "; ".join(row.top_reasons[:2]) or "no warning signs"
        arr = format_money(int(row.arr_cents))
        lines.append(f"  {row.renewal_date}  {row.account_name[:32]:<32} {arr:>7} ARR  "
                     f"churn {row.churn_probability:4.0%}  health {row.health_score:3d}  "
                     f"{reasons}")
    return lines


def _command_score(args: argparse.Namespace, progress_bar: ProgressBar) -> int:
    from planning.access.users import User
    from planning.health.accounts import renewals_at_risk
    from planning.health.training import score_accounts

    workspace, actor = _workspace_and_actor(args)
    with progress_bar("score health") as progress:
        report = score_accounts(workspace, actor, as_of=_moment(args.as_of), progress=progress)
    print(report.to_text())
    renewals = renewals_at_risk(workspace, actor if isinstance(actor, User) else None,
                                within_days=args.within)
    if args.json:
        print(json.dumps({
            "model_id": report.model_id, "as_of": report.as_of.isoformat(),
            "accounts": report.accounts, "at_risk": report.at_risk,
            "renewals": json.loads(renewals.head(args.top).to_json(orient="records",
                                                                   date_format="iso")),
        }, indent=2, default=str))
        return 0
    print(f"Riskiest renewals in the next {args.within} days (ARR at risk first):")
    print("\n".join(_renewals_text(renewals.head(args.top))) or "  none")
    return 0


def _command_train(args: argparse.Namespace, progress_bar: ProgressBar) -> int:
    from planning.health.training import train_health_model

    workspace, actor = _workspace_and_actor(args)
    with progress_bar("train churn model") as progress:
        report = train_health_model(workspace, actor, as_of=_moment(args.as_of),
                                    horizon_days=args.horizon_days, progress=progress)
    print(report.to_text())
    if args.report:
        from planning.output_files import write_text_atomically

        write_text_atomically(args.report, json.dumps(
            {"model_id": report.model_id, "card": report.card.to_dict(),
             "accounts_scored": report.accounts_scored, "seconds": report.seconds},
            indent=2, default=str) + "\n")
        print(f"Report written to {args.report}.")
    return 0


def _command_quality(args: argparse.Namespace, progress_bar: ProgressBar) -> int:
    from planning.health.training import measure_model_quality

    workspace, actor = _workspace_and_actor(args)
    results = measure_model_quality(workspace, actor, as_of=_moment(args.as_of))
    if not results:
        print("No churn model was trained before the as-of date: nothing resolved since.")
    for found in results:
        auc = "n/a" if found.auc is None else f"{found.auc:.3f}"
        brier = "n/a" if found.brier is None else f"{found.brier:.4f}"
        base = "n/a" if found.base_rate_brier is None else f"{found.base_rate_brier:.4f}"
        print(f"{found.model_id}: {found.renewals:,} renewals resolved since training "
              f"({found.churned} churned, {found.period_from}..{found.period_to}): AUC {auc}, "
              f"Brier {brier} (base rate {base}).")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", help=f"workspace name (default {default_workspace()!r})")
    parser.add_argument("--as-of", help="as of the end of this date (YYYY-MM-DD, UTC); "
                        "default: the end of the workspace's as-of date")
    parser.add_argument("--as", dest="acting", metavar="EMAIL",
                        help="act as this workspace member (default: the operator)")


def add_workspace_health_commands(health_commands: argparse._SubParsersAction,
                                  progress_bar: ProgressBar) -> None:
    """Add `score`, `train-workspace` and `quality` to the `revplan health` group."""
    score = health_commands.add_parser(
        "score", help="Score every customer's health and churn risk with the active model.",
        description="Score each account with a live subscription for its next renewal: health "
        "0-100 with its components, churn probability and the reasons in words; also the week "
        "before, for what changed. Prints the riskiest renewals.")
    _common(score)
    score.add_argument("--within", type=int, default=90, metavar="DAYS",
                       help="list renewals due within this many days (default 90)")
    score.add_argument("--top", type=int, default=15, metavar="N",
                       help="how many renewals to list (default 15)")
    score.add_argument("--json", action="store_true", help="print machine-readable output")
    score.set_defaults(handler=lambda args: _command_score(args, progress_bar))
    train = health_commands.add_parser(
        "train-workspace", help="Train the churn model on the workspace's past renewals.",
        description="Train the churn model point in time on every subscription renewal before "
        "the as-of date (features as of --horizon-days before each renewal), test it on the "
        "newest quarter of renewals, make it active and score every account.")
    _common(train)
    train.add_argument("--horizon-days", type=int, metavar="DAYS",
                       help="take features this many days before each renewal (default: the "
                       "workspace setting health_horizon_days, 60)")
    train.add_argument("--report", metavar="FILE", help="also write the model card as JSON here")
    train.set_defaults(handler=lambda args: _command_train(args, progress_bar))
    quality = health_commands.add_parser(
        "quality", help="Measure the churn models on the renewals resolved since training.")
    _common(quality)
    quality.set_defaults(handler=lambda args: _command_quality(args, progress_bar))
