"""Save plays: what to do about a renewal at risk, who does it by when, who must approve a
commercial change, and whether it worked.

A catalogue of plays answers the health model's reason codes; `recommend_plays` ranks the plays
for an account's reasons and says why. `start_play` turns a play into tasks with owners and due
dates. A play with a concession or another customer-facing commercial change (a discount, a
contract restructure) is routed by the approval policy (kind `save_play`: deal desk for every
commercial change, finance above the thresholds of the policy rows) and waits, its tasks not yet
open, until every step approves; `planning.approvals.decide` hands the decision back here
(`approval_closed`). Outcomes of renewals (renewed, churned, downgraded) credit the plays started
on the account in the renewal window before the renewal date and before the outcome.

Play status, tasks and health scores go to the CRM through the writeback outbox, one item per
changed field, each checked against the policy's field rows. Every state change is audited in
the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb
import pandas as pd

from planning import approvals, audit
from planning.access.entry_points import entry_point
from planning.access.policy import AccessDeniedError, Action, can
from planning.access.roles import Role
from planning.access.users import User, canonical_email
from planning.asof import resolve_as_of
from planning.clock import now_utc, today_utc
from planning.errors import RevPlanError
from planning.overview import format_money, format_percent
from planning.store import Workspace
from planning.store import approvals as approvals_repo
from planning.store import save_plays as plays_repo
from planning.store import workspace_settings as settings_repo
from planning.store import writeback_outbox as outbox_repo

PLAY_KIND = "save_play"
"""The approval policy's kind for plays."""
RUN_PREFIX = "play-"
"""Play run ids start with it; approval requests about a play carry the run id."""
OUTCOMES = ("renewed", "churned", "downgraded")
WINDOW_SETTING = "save_play_window_days"
AT_RISK_SETTING = "save_play_at_risk_probability"
DEFAULT_WINDOW_DAYS = 180
"""A play gets credit for a renewal when started at most this many days before it."""
DEFAULT_AT_RISK_PROBABILITY = 0.3
"""A renewal is at risk when the account's churn probability is at least this."""
ACCOUNT_OWNER = "account_owner"
STARTER = "starter"
"""Task owners besides a role: the account's owner, and the person who started the play."""

REASON_WORDS: dict[str, str] = {
    "usage_decline": "usage decline",
    "low_seat_utilisation": "low seat utilisation",
    "support_load": "support load",
    "severe_tickets": "severe tickets",
    "billing_delay": "billing delay",
    "low_engagement": "low engagement",
    "low_nps": "low NPS",
}
"""The health model's reason codes, in words."""


class PlayError(RevPlanError):
    """A play action that cannot be done; the message says what to change."""


@dataclass(frozen=True)
class TaskTemplate:
    """A task a play creates: its title, who owns it (`account_owner`, `starter` or a role)
    and how many days after the play starts it is due."""

    title: str
    owner: str
    due_days: int


@dataclass(frozen=True)
class Play:
    """One play of the catalogue."""

    key: str
    name: str
    description: str
    answers: Mapping[str, float]
    """Reason code -> how directly the play answers it (1 directly, 0.5 partly)."""
    tasks: tuple[TaskTemplate, ...]
    commercial: bool
    """A customer-facing commercial change: always routed for approval."""
    needs_concession: bool = False
    """Starting it needs the concession asked (percent of ARR or an amount)."""


CATALOGUE: dict[str, Play] = {play.key: play for play in (
    Play("executive_sponsor_call", "Executive sponsor call",
         "Our executive meets the customer's sponsor to reset the relationship and agree a "
         "recovery path.",
         {"severe_tickets": 1.0, "low_nps": 1.0, "support_load": 0.5, "usage_decline": 0.5,
          "low_engagement": 0.5},
         (TaskTemplate("Brief the executive sponsor on the account's risks", ACCOUNT_OWNER, 2),
          TaskTemplate("Hold the executive sponsor call", Role.SALES_LEADER.value, 7),
          TaskTemplate("Send the call summary and agreed next steps", STARTER, 9)),
         commercial=False),
    Play("training", "Training",
         "Targeted training for the customer's users to lift adoption of the seats they pay "
         "for.",
         {"low_seat_utilisation": 1.0, "usage_decline": 1.0, "low_engagement": 0.5},
         (TaskTemplate("Agree training goals with the customer's admin", STARTER, 3),
          TaskTemplate("Run the training sessions", Role.CS.value, 14),
          TaskTemplate("Check active users two weeks after training", STARTER, 28)),
         commercial=False),
    Play("success_plan", "Success plan",
         "A written plan of the outcomes the customer wants, with owners and checkpoints.",
         {"low_engagement": 1.0, "support_load": 1.0, "usage_decline": 0.5, "low_nps": 0.5,
          "low_seat_utilisation": 0.5},
         (TaskTemplate("Draft the success plan with outcomes and owners", STARTER, 5),
          TaskTemplate("Review the success plan with the customer", ACCOUNT_OWNER, 10),
          TaskTemplate("Hold the first success plan checkpoint", STARTER, 30)),
         commercial=False),
    Play("concession", "Discount or concession",
         "A discount or concession on the renewal, approved by deal desk (and finance above "
         "the policy's thresholds).",
         {"billing_delay": 0.5, "low_nps": 0.5, "low_seat_utilisation": 0.5},
         (TaskTemplate("Prepare the concession proposal", ACCOUNT_OWNER, 3),
          TaskTemplate("Present the concession to the customer", ACCOUNT_OWNER, 10),
          TaskTemplate("Book the concession in the renewal quote", Role.DEAL_DESK.value, 14)),
         commercial=True, needs_concession=True),
    Play("contract_restructure", "Contract restructure",
         "Right-size seats, term or billing terms of the contract to fit how the customer "
         "uses and pays for it.",
         {"low_seat_utilisation": 1.0, "billing_delay": 1.0, "usage_decline": 0.5},
         (TaskTemplate("Model the restructured contract (seats, term, billing)",
                       Role.DEAL_DESK.value, 5),
          TaskTemplate("Agree the restructure with the customer", ACCOUNT_OWNER, 14),
          TaskTemplate("Amend the contract and billing schedule", Role.FINANCE.value, 21)),
         commercial=True),
)}
"""The plays, in the order they are offered when they rank equally."""

TASK_STATUS_CRM = {"waiting": "Waiting on someone else", "open": "Not Started",
                   "done": "Completed", "cancelled": "Deferred"}
"""A task's status as the CRM's Task.Status picklist says it."""
PLAY_STATUS_WORDS = {"awaiting_approval": "awaiting approval", "active": "active",
                     "completed": "completed", "rejected": "rejected",
                     "changes_requested": "changes requested"}
PLAY_FIELDS = ("Account__c", "Play__c", "Status__c", "Renewal_Date__c")
TASK_FIELDS = ("WhatId", "Subject", "Owner_Email__c", "ActivityDate", "Status")
HEALTH_FIELDS = ("Health_Score__c", "Churn_Probability__c", "Health_Reasons__c")
WRITEBACK_FIELDS: tuple[str, ...] = (
    *(f"Save_Play__c.{field}" for field in (*PLAY_FIELDS, "Outcome__c")),
    *(f"Task.{field}" for field in TASK_FIELDS),
    *(f"Account.{field}" for field in HEALTH_FIELDS),
)
"""The CRM fields plays write ('Object.Field'), each a row of the policy's field table."""


def _reason_code(reason: object) -> str:
    if isinstance(reason, str):
        return reason
    if isinstance(reason, Mapping):
        return str(reason.get("code", ""))
    return str(getattr(reason, "code", ""))


def _reason_text(reason: object) -> str | None:
    text = (reason.get("text") if isinstance(reason, Mapping)
            else getattr(reason, "text", None))
    return str(text) if text else None


@dataclass(frozen=True)
class Recommendation:
    """A play recommended for an account's reasons: its rank score, the reason codes it
    answers (strongest first) and why, in words."""

    play: Play
    score: float
    answers: tuple[str, ...]
    why: str


def recommend_plays(reasons: Iterable[object]) -> list[Recommendation]:
    """Plays answering the reasons, best first, with why.

    `reasons` are the health model's reasons, strongest first: codes, or dicts / objects with
    `code` (and optionally `text`, quoted in the why). A reason counts 1/(1 + its position);
    a play scores the sum of what it answers weighted by how directly. Equal scores put plays
    without a commercial change first, then catalogue order. Plays answering nothing are left
    out; unknown codes are ignored.
    """
    listed = [(_reason_code(r), _reason_text(r)) for r in reasons]
    seen: dict[str, tuple[float, str | None]] = {}
    for code, text in listed:
        if code in REASON_WORDS and code not in seen:
            seen[code] = (1.0 / (1 + len(seen)), text)
    ranked = []
    for order, play in enumerate(CATALOGUE.values()):
        answered = [code for code in seen if code in play.answers]
        if not answered:
            continue
        score = sum(play.answers[code] * seen[code][0] for code in answered)
        words = []
        for code in answered:
            text = seen[code][1]
            words.append(f"{REASON_WORDS[code]} ({text})" if text else REASON_WORDS[code])
        why = f"Answers {_join(words)}"
        if play.commercial:
            why += "; a commercial change, routed for approval (deal desk, finance above the " \
                   "policy's thresholds)"
        ranked.append((-score, play.commercial, order,
                       Recommendation(play, round(score, 4), tuple(answered), why + ".")))
    return [item[-1] for item in sorted(ranked, key=lambda item: item[:3])]


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class PlayTask:
    """One task of a play."""

    task_id: str
    seq: int
    title: str
    owner_role: str
    owner_email: str | None
    """None: nobody holds the role yet; reassign it to someone."""
    due_date: dt.date
    status: str
    """waiting (the play awaits approval), open, done, cancelled."""
    completed_by: str | None
    completed_at: dt.datetime | None


@dataclass(frozen=True)
class PlayRun:
    """A play started on an account, with its tasks."""

    play_run_id: str
    account_id: str
    play: str
    status: str
    """awaiting_approval, active, completed, rejected, changes_requested."""
    started_by: str
    started_at: dt.datetime
    activated_at: dt.datetime | None
    renewal_date: dt.date | None
    arr_cents: int | None
    concession_pct: float | None
    concession_cents: int | None
    commercial: bool
    request_id: str | None
    """The approval request, when the play needed one."""
    tasks: tuple[PlayTask, ...]

    @property
    def name(self) -> str:
        """The play's name."""
        return CATALOGUE[self.play].name if self.play in CATALOGUE else self.play

    @property
    def status_text(self) -> str:
        """The status in words."""
        return PLAY_STATUS_WORDS.get(self.status, self.status)


def _optional(value: object) -> object | None:
    return None if value is None or (not isinstance(value, (list, tuple, str))
                                     and pd.isna(value)) else value


def _to_date(value: object) -> dt.date | None:
    value = _optional(value)
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    return value  # type: ignore[return-value]


def _to_datetime(value: object) -> dt.datetime | None:
    value = _optional(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value  # type: ignore[return-value]


def _read_run(cur: duckdb.DuckDBPyConnection, play_run_id: str) -> PlayRun:
    row = plays_repo.play(cur, play_run_id)
    if row is None:
        raise PlayError(f"No save play {play_run_id!r}.")
    frame = plays_repo.tasks(cur, play_run_id)
    tasks = tuple(
        PlayTask(task_id=t.task_id, seq=int(t.seq), title=t.title, owner_role=t.owner_role,
                 owner_email=_optional(t.owner_email), due_date=_to_date(t.due_date),
                 status=t.status, completed_by=_optional(t.completed_by),
                 completed_at=_to_datetime(t.completed_at))
        for t in frame.itertuples())
    pct, cents, arr = (_optional(row["concession_pct"]), _optional(row["concession_cents"]),
                       _optional(row["arr_cents"]))
    return PlayRun(
        play_run_id=row["play_run_id"], account_id=row["account_id"], play=row["play"],
        status=row["status"], started_by=row["started_by"],
        started_at=_to_datetime(row["started_at"]),
        activated_at=_to_datetime(row["activated_at"]),
        renewal_date=_to_date(row["renewal_date"]),
        arr_cents=None if arr is None else int(arr),
        concession_pct=None if pct is None else float(pct),
        concession_cents=None if cents is None else int(cents),
        commercial=bool(row["commercial"]), request_id=_optional(row["request_id"]),
        tasks=tasks)


def _role_of(user: User) -> str | None:
    return user.primary_role.value if user.primary_role else None


def _in_scope(cur: duckdb.DuckDBPyConnection, user: User, account_id: str) -> dict:
    """The account, when it exists and its owner is in the user's scope."""
    account = plays_repo.account(cur, account_id)
    if account is None:
        raise PlayError(f"No account {account_id!r} in this workspace; check the CRM id.")
    owner = _optional(account["owner_id"])
    if not user.sees_everything and (owner is None or not can(user, Action.READ_DEAL, owner)):
        raise AccessDeniedError(f"Account {account['name']} ({account_id}) belongs to someone "
                                "outside your team.")
    return account


def _settings(cur: duckdb.DuckDBPyConnection) -> tuple[int, float]:
    values = settings_repo.settings(cur, [WINDOW_SETTING, AT_RISK_SETTING])
    try:
        window = int(values.get(WINDOW_SETTING, DEFAULT_WINDOW_DAYS))
        threshold = float(values.get(AT_RISK_SETTING, DEFAULT_AT_RISK_PROBABILITY))
    except ValueError:
        raise PlayError(f"Workspace settings {WINDOW_SETTING} (days) and {AT_RISK_SETTING} "
                        "(a probability) must be numbers; fix them in the workspace "
                        "settings.") from None
    return window, threshold


def _health(cur: duckdb.DuckDBPyConnection, account_id: str) -> dict | None:
    frame = plays_repo.latest_health(cur, [account_id])
    return None if frame.empty else frame.iloc[0].to_dict()


def _reasons(health: dict | None) -> list[dict]:
    if health is None or not health.get("reasons_json"):
        return []
    return list(json.loads(health["reasons_json"]))


@entry_point(Action.READ_SAVE_PLAYS)
def account_recommendations(workspace: Workspace, user: User,
                            account_id: str) -> list[Recommendation]:
    """Plays recommended for an account in the user's scope from its newest health score's
    reasons (empty when the account has no score)."""

    def read(cur) -> list[dict]:
        _in_scope(cur, user, account_id)
        return _reasons(_health(cur, account_id))

    return recommend_plays(workspace.read(read))


def _check_concession(play: Play, concession_pct: float | None,
                      concession_cents: int | None) -> None:
    if concession_pct is not None and not 0 < float(concession_pct) <= 100:
        raise PlayError(f"Concession of {concession_pct}% is not a percentage of ARR between 0 "
                        "and 100; give e.g. 12.5 for 12.5%.")
    if concession_cents is not None and (int(concession_cents) != concession_cents
                                         or concession_cents <= 0):
        raise PlayError(f"Concession amount {concession_cents} is not a positive whole number "
                        "of cents.")
    if play.needs_concession and concession_pct is None and concession_cents is None:
        raise PlayError(f"The {play.name} play needs the concession asked: a percent of ARR "
                        "(concession_pct) or an amount in cents (concession_cents).")


def terms_hash(terms: dict) -> str:
    """SHA-256 of a play's terms in canonical JSON: what approvers approve."""
    text = json.dumps(terms, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _terms(row: dict) -> dict:
    return {key: row[key] for key in ("play_run_id", "account_id", "play", "renewal_date",
                                      "subscription_ids", "arr_cents", "concession_pct",
                                      "concession_cents", "commercial", "note")}


def concession_facts(arr_cents: int | None, concession_pct: float | None,
                     concession_cents: int | None, commercial: bool) -> approvals.VersionFacts:
    """What the policy's save-play conditions test: the concession as a share of ARR and in
    cents (the larger of what the percent and the amount imply), and whether the play makes a
    customer-facing commercial change."""
    arr = int(arr_cents or 0)
    share = float(concession_pct or 0) / 100
    cents = int(concession_cents or 0)
    if arr > 0:
        share = max(share, cents / arr)
        cents = max(cents, round(arr * float(concession_pct or 0) / 100))
    return approvals.VersionFacts(largest_rep_change=0.0, moved_share=0.0, enterprise_moved=0,
                                  commercial_change=commercial, concession_share=share,
                                  concession_cents=cents)


def play_rules(rules: dict) -> dict:
    """A policy's rules with the default save-play rules when it has none for plays (a
    policy published before plays existed)."""
    if PLAY_KIND in rules:
        return rules
    return {**rules, PLAY_KIND: approvals.DEFAULT_RULES[PLAY_KIND]}


def _task_owner(cur: duckdb.DuckDBPyConnection, template: TaskTemplate, account: dict,
                user: User) -> str | None:
    if template.owner == STARTER:
        return user.email
    if template.owner == ACCOUNT_OWNER:
        return _optional(account["owner_email"]) or user.email
    return plays_repo.role_holder(cur, template.owner)


@entry_point(Action.START_SAVE_PLAY)
def start_play(workspace: Workspace, user: User, account_id: str, play: str, *,
               concession_pct: float | None = None, concession_cents: int | None = None,
               note: str | None = None) -> PlayRun:
    """Start a play on an account in the user's scope, for its next renewal without an outcome.

    The play's tasks get owners (the account's owner, the user, or the first member holding
    the task's role) and due dates counted from today. A concession or another commercial
    change is routed by the approval policy: the play waits ('awaiting_approval', tasks
    'waiting') until every step approves. Other plays start at once ('active', tasks 'open').
    """
    if play not in CATALOGUE:
        raise PlayError(f"Unknown play {play!r}; plays are: {', '.join(CATALOGUE)}.")
    chosen = CATALOGUE[play]
    _check_concession(chosen, concession_pct, concession_cents)
    note = (note or "").strip() or None

    def write(cur) -> str:
        account = _in_scope(cur, user, account_id)
        renewal = plays_repo.pending_renewal(cur, account_id)
        if renewal is None:
            raise PlayError(f"Account {account['name']} ({account_id}) has no renewal of an "
                            "active subscription without an outcome; a save play works on a "
                            "renewal.")
        running = plays_repo.account_plays(cur, account_id)
        running = running[(running["play"] == play)
                          & running["status"].isin(["awaiting_approval", "active"])]
        if not running.empty:
            raise PlayError(f"A {chosen.name} play is already running on {account['name']} "
                            f"({running['play_run_id'].iloc[0]}); complete it first.")
        health = _health(cur, account_id)
        now = now_utc()
        run_id = f"{RUN_PREFIX}{now:%Y%m%d-%H%M%S%f}"
        commercial = chosen.commercial or concession_pct is not None \
            or concession_cents is not None
        row: dict[str, object] = {
            "play_run_id": run_id, "account_id": account_id, "play": play,
            "started_by": user.email, "started_at": now,
            "subscription_ids": list(renewal["subscription_ids"]),
            "renewal_date": renewal["renewal_date"], "arr_cents": int(renewal["arr_cents"]),
            "concession_pct": None if concession_pct is None else float(concession_pct),
            "concession_cents": None if concession_cents is None else int(concession_cents),
            "commercial": commercial,
            "reasons": json.dumps([r.get("code") for r in _reasons(health)]),
            "churn_probability": None if health is None else float(health["churn_probability"]),
            "note": note}
        row["terms_hash"] = terms_hash(_terms(row))
        steps: list[approvals.RouteStep] = []
        if commercial:
            _, rules = approvals.current_policy(cur)
            facts = concession_facts(row["arr_cents"], concession_pct, concession_cents, True)
            steps = approvals.route(play_rules(rules), PLAY_KIND, facts)
        waiting = bool(steps)
        row["status"] = "awaiting_approval" if waiting else "active"
        row["activated_at"] = None if waiting else now
        if waiting:
            row["request_id"] = _submit_for_approval(cur, row, steps, user)
        plays_repo.insert_play(cur, row)
        today = today_utc()
        plays_repo.insert_tasks(cur, [
            {"task_id": f"{run_id}-{seq}", "play_run_id": run_id, "seq": seq,
             "title": template.title, "owner_role": template.owner,
             "owner_email": _task_owner(cur, template, account, user),
             "due_date": today + dt.timedelta(days=template.due_days),
             "status": "waiting" if waiting else "open"}
            for seq, template in enumerate(chosen.tasks, start=1)])
        audit.record(cur, actor=user.email, actor_role=_role_of(user), action="save_play.start",
                     entity="save_play", entity_id=run_id,
                     after={"account_id": account_id, "play": play, "status": row["status"],
                            "renewal_date": row["renewal_date"], "arr_cents": row["arr_cents"],
                            "concession_pct": row["concession_pct"],
                            "concession_cents": row["concession_cents"],
                            "request_id": row.get("request_id"),
                            "approvals": [s.role for s in steps]},
                     reason=note)
        _write_back_play(cur, user, run_id, with_health=True)
        return run_id

    return read_play(workspace, user, workspace.write(write))


def _submit_for_approval(cur: duckdb.DuckDBPyConnection, row: dict,
                         steps: list[approvals.RouteStep], user: User) -> str:
    """Open the approval request of a commercial play (audited); returns its id."""
    assigned = approvals.routable_alternates(cur, steps, user)
    policy_version, _ = approvals.current_policy(cur)
    request_id = f"request-{row['play_run_id']}"
    approvals_repo.insert_request(
        cur, request_id=request_id, version_id=str(row["play_run_id"]),
        content_hash=str(row["terms_hash"]), policy_version=policy_version,
        route_json=json.dumps([{"role": s.role, "reasons": list(s.reasons),
                                "alternate": assigned.get(s.role)} for s in steps]),
        submitted_by=user.email, submitted_at=now_utc())
    for number, step in enumerate(steps, start=1):
        approvals_repo.insert_step(cur, request_id=request_id, step_no=number, role=step.role,
                                   reason="; ".join(step.reasons), status="pending",
                                   decided_by=None, decided_at=None, comment=None)
    audit.record(cur, actor=user.email, actor_role=_role_of(user), action="approval.submit",
                 entity="approval_request", entity_id=request_id,
                 after={"play_run_id": row["play_run_id"], "content_hash": row["terms_hash"],
                        "policy_version": policy_version, "route": [s.role for s in steps],
                        "alternates": assigned})
    return request_id


def approval_content_hash(cur: duckdb.DuckDBPyConnection, play_run_id: str) -> str:
    """The terms hash of a play as stored now (approvals compare it with what was submitted)."""
    row = plays_repo.play(cur, play_run_id)
    if row is None:
        raise PlayError(f"No save play {play_run_id!r}.")
    if terms_hash(_terms(row)) != row["terms_hash"]:
        raise PlayError(f"The terms of save play {play_run_id} no longer match their hash.")
    return str(row["terms_hash"])


def approval_closed(cur: duckdb.DuckDBPyConnection, play_run_id: str, status: str, *,
                    actor: User, actor_role: str | None) -> None:
    """Apply a closed approval request to its play (inside the decision's transaction):
    approved opens the tasks, due dates moved by the days the approval took; rejected or
    changes requested closes the play and cancels its tasks. Audited and written back."""
    row = plays_repo.play(cur, play_run_id)
    if row is None or row["status"] != "awaiting_approval":
        return
    now = now_utc()
    if status == "approved":
        started = _to_date(row["started_at"]) or now.date()
        plays_repo.shift_due_dates(cur, play_run_id, (now.date() - started).days)
        plays_repo.set_task_statuses(cur, play_run_id, "waiting", "open")
        plays_repo.set_play_status(cur, play_run_id, "active", activated_at=now)
        after = "active"
    else:
        plays_repo.set_task_statuses(cur, play_run_id, "waiting", "cancelled")
        after = "rejected" if status == "rejected" else "changes_requested"
        plays_repo.set_play_status(cur, play_run_id, after, closed_at=now)
    audit.record(cur, actor=actor.email, actor_role=actor_role, action=f"save_play.{after}",
                 entity="save_play", entity_id=play_run_id,
                 before={"status": "awaiting_approval"},
                 after={"status": after, "request_id": row["request_id"]})
    _write_back_play(cur, actor, play_run_id, with_health=False)


@entry_point(Action.READ_SAVE_PLAYS)
def read_play(workspace: Workspace, user: User, play_run_id: str) -> PlayRun:
    """One play run with its tasks, when its account is in the user's scope."""

    def read(cur) -> PlayRun:
        run = _read_run(cur, play_run_id)
        _in_scope(cur, user, run.account_id)
        return run

    return workspace.read(read)


@entry_point(Action.READ_SAVE_PLAYS)
def account_plays(workspace: Workspace, user: User, account_id: str) -> list[PlayRun]:
    """Every play run on an account in the user's scope, oldest first."""

    def read(cur) -> list[PlayRun]:
        _in_scope(cur, user, account_id)
        return [_read_run(cur, run_id)
                for run_id in plays_repo.account_plays(cur, account_id)["play_run_id"]]

    return workspace.read(read)


def _task_in_scope(cur: duckdb.DuckDBPyConnection, user: User, task_id: str) -> tuple[dict,
                                                                                     dict]:
    task = plays_repo.task(cur, task_id)
    if task is None:
        raise PlayError(f"No save play task {task_id!r}.")
    run = plays_repo.play(cur, task["play_run_id"])
    _in_scope(cur, user, run["account_id"])
    return task, run


@entry_point(Action.START_SAVE_PLAY)
def complete_task(workspace: Workspace, user: User, task_id: str) -> PlayRun:
    """Mark an open task of a play done; the play completes with its last task (audited,
    written back)."""

    def write(cur) -> str:
        task, run = _task_in_scope(cur, user, task_id)
        if task["status"] != "open":
            why = {"waiting": "its play awaits approval", "done": "it is already done",
                   "cancelled": "its play was closed"}.get(task["status"], task["status"])
            raise PlayError(f"Task {task_id} cannot be completed: {why}.")
        now = now_utc()
        plays_repo.complete_task(cur, task_id, user.email, now)
        audit.record(cur, actor=user.email, actor_role=_role_of(user),
                     action="save_play.task_done", entity="save_play_task", entity_id=task_id,
                     before={"status": "open"}, after={"status": "done",
                                                       "play_run_id": run["play_run_id"]})
        if plays_repo.open_task_count(cur, run["play_run_id"]) == 0:
            plays_repo.set_play_status(cur, run["play_run_id"], "completed", closed_at=now)
            audit.record(cur, actor=user.email, actor_role=_role_of(user),
                         action="save_play.completed", entity="save_play",
                         entity_id=run["play_run_id"], before={"status": run["status"]},
                         after={"status": "completed"})
        _write_back_play(cur, user, run["play_run_id"], with_health=False)
        return run["play_run_id"]

    return read_play(workspace, user, workspace.write(write))


@entry_point(Action.START_SAVE_PLAY)
def reassign_task(workspace: Workspace, user: User, task_id: str, owner_email: str) -> PlayRun:
    """Give a task that is not done to another workspace member (audited, written back)."""
    wanted = canonical_email(owner_email)

    def write(cur) -> str:
        task, run = _task_in_scope(cur, user, task_id)
        if task["status"] in ("done", "cancelled"):
            raise PlayError(f"Task {task_id} is {task['status']}; only a task still to do can "
                            "be reassigned.")
        if not plays_repo.is_member(cur, wanted):
            raise PlayError(f"{owner_email!r} is not a member of workspace {workspace.name!r}; "
                            "grant them access first (revplan access grant).")
        plays_repo.reassign_task(cur, task_id, wanted)
        audit.record(cur, actor=user.email, actor_role=_role_of(user),
                     action="save_play.task_reassign", entity="save_play_task",
                     entity_id=task_id, before={"owner_email": task["owner_email"]},
                     after={"owner_email": wanted, "play_run_id": run["play_run_id"]})
        _write_back_play(cur, user, run["play_run_id"], with_health=False)
        return run["play_run_id"]

    return read_play(workspace, user, workspace.write(write))


@dataclass(frozen=True)
class OutcomeRecord:
    """A recorded renewal outcome and the plays it credits."""

    outcome_id: str
    account_id: str
    renewal_date: dt.date
    outcome: str
    arr_cents_before: int
    arr_cents_after: int
    at_risk: bool
    credited_plays: tuple[str, ...]
    """Play runs started on the account in the renewal window, on or before the renewal date
    and before the outcome, that became active."""
    uncredited_plays: tuple[str, ...]
    """The account's other plays not yet credited to any outcome (started too early, after
    the renewal date, or never approved)."""


def _check_outcome(outcome: str, before: int, after: int) -> None:
    if outcome not in OUTCOMES:
        raise PlayError(f"Unknown outcome {outcome!r}; outcomes are: {', '.join(OUTCOMES)}.")
    if int(after) != after or after < 0:
        raise PlayError(f"ARR after the renewal ({after}) must be a whole number of cents, "
                        "0 or more.")
    if outcome == "churned" and after != 0:
        raise PlayError("A churned renewal keeps no ARR; give arr_cents_after=0.")
    if outcome == "renewed" and after <= 0:
        raise PlayError("A renewed renewal keeps ARR; give arr_cents_after above 0.")
    if outcome == "downgraded" and not 0 < after < before:
        raise PlayError(f"A downgrade keeps less ARR than the {format_money(before)} renewing "
                        f"and more than 0; give arr_cents_after between 1 and {before - 1}.")


def credited(plays: pd.DataFrame, renewal_date: dt.date, recorded_at: dt.datetime,
             window_days: int, already: set[str]) -> list[str]:
    """The play runs an outcome credits: made active, not credited before, started within
    `window_days` before the renewal date, on or before that date, and before the outcome."""
    first = renewal_date - dt.timedelta(days=window_days)
    chosen = []
    for row in plays.itertuples():
        started = _to_datetime(row.started_at)
        if (_optional(row.activated_at) is None or row.play_run_id in already
                or started is None or started >= recorded_at):
            continue
        if first <= started.date() <= renewal_date:
            chosen.append(str(row.play_run_id))
    return chosen


@entry_point(Action.RECORD_RENEWAL_OUTCOME)
def record_outcome(workspace: Workspace, user: User, account_id: str, outcome: str,
                   arr_cents_after: int) -> OutcomeRecord:
    """Record how the account's next renewal without an outcome ended and credit the plays
    run on it in the renewal window (audited; credited plays' outcome written back)."""
    if outcome not in OUTCOMES:
        raise PlayError(f"Unknown outcome {outcome!r}; outcomes are: {', '.join(OUTCOMES)}.")

    def write(cur) -> OutcomeRecord:
        account = _in_scope(cur, user, account_id)
        renewal = plays_repo.pending_renewal(cur, account_id)
        if renewal is None:
            raise PlayError(f"Account {account['name']} ({account_id}) has no renewal of an "
                            "active subscription waiting for an outcome.")
        before = int(renewal["arr_cents"])
        _check_outcome(outcome, before, arr_cents_after)
        window, threshold = _settings(cur)
        renewal_date = _to_date(renewal["renewal_date"])
        now = now_utc()
        plays = plays_repo.account_plays(cur, account_id)
        runs = credited(plays, renewal_date, now, window, plays_repo.credited_plays(cur))
        health = _health(cur, account_id)
        probability = None if health is None else float(health["churn_probability"])
        started_risk = [float(p) for p, run in zip(plays["churn_probability"],
                                                   plays["play_run_id"], strict=True)
                        if run in runs and _optional(p) is not None]
        at_risk = any(p >= threshold for p in [*started_risk,
                                               *([] if probability is None else [probability])])
        outcome_id = f"outcome-{account_id}-{renewal_date:%Y%m%d}"
        plays_repo.insert_outcome(cur, {
            "outcome_id": outcome_id, "account_id": account_id, "renewal_date": renewal_date,
            "outcome": outcome, "arr_cents_before": before,
            "arr_cents_after": int(arr_cents_after), "at_risk": at_risk,
            "churn_probability": probability, "recorded_by": user.email,
            "recorded_at": now})
        plays_repo.insert_credits(cur, outcome_id, runs)
        credited_now = plays_repo.credited_plays(cur)
        others = tuple(str(r) for r in plays["play_run_id"] if r not in credited_now)
        audit.record(cur, actor=user.email, actor_role=_role_of(user),
                     action="save_play.outcome", entity="renewal_outcome", entity_id=outcome_id,
                     after={"account_id": account_id, "renewal_date": renewal_date,
                            "outcome": outcome, "arr_cents_before": before,
                            "arr_cents_after": int(arr_cents_after), "at_risk": at_risk,
                            "credited_plays": runs})
        _queue_writeback(cur, user, outcome_id,
                         [("Save_Play__c", run, "Outcome__c", outcome) for run in runs]
                         + _health_changes(cur, [account_id]))
        return OutcomeRecord(outcome_id=outcome_id, account_id=account_id,
                             renewal_date=renewal_date, outcome=outcome,
                             arr_cents_before=before, arr_cents_after=int(arr_cents_after),
                             at_risk=at_risk, credited_plays=tuple(runs),
                             uncredited_plays=others)

    return workspace.write(write)


Change = tuple[str, str, str, str]
"""object, record_id, field, new value."""


def _play_changes(cur: duckdb.DuckDBPyConnection, play_run_id: str) -> list[Change]:
    run = _read_run(cur, play_run_id)
    changes: list[Change] = [
        ("Save_Play__c", run.play_run_id, "Account__c", run.account_id),
        ("Save_Play__c", run.play_run_id, "Play__c", run.name),
        ("Save_Play__c", run.play_run_id, "Status__c", run.status_text),
        ("Save_Play__c", run.play_run_id, "Renewal_Date__c",
         "" if run.renewal_date is None else run.renewal_date.isoformat())]
    for task in run.tasks:
        if task.status == "waiting":
            continue
        changes += [("Task", task.task_id, "WhatId", run.account_id),
                    ("Task", task.task_id, "Subject", f"{run.name}: {task.title}"),
                    ("Task", task.task_id, "Owner_Email__c", task.owner_email or ""),
                    ("Task", task.task_id, "ActivityDate", task.due_date.isoformat()),
                    ("Task", task.task_id, "Status", TASK_STATUS_CRM[task.status])]
    return changes


def _health_changes(cur: duckdb.DuckDBPyConnection,
                    account_ids: list[str] | None) -> list[Change]:
    frame = plays_repo.latest_health(cur, account_ids)
    changes: list[Change] = []
    for row in frame.itertuples():
        codes = [r.get("code", "") for r in json.loads(row.reasons_json or "[]")]
        changes += [("Account", row.account_id, "Health_Score__c", str(int(row.health_score))),
                    ("Account", row.account_id, "Churn_Probability__c",
                     f"{float(row.churn_probability):.2f}"),
                    ("Account", row.account_id, "Health_Reasons__c", ";".join(codes))]
    return changes


def _write_back_play(cur: duckdb.DuckDBPyConnection, user: User, play_run_id: str, *,
                     with_health: bool) -> int:
    changes = _play_changes(cur, play_run_id)
    if with_health:
        changes += _health_changes(cur, [str(plays_repo.play(cur, play_run_id)["account_id"])])
    return _queue_writeback(cur, user, play_run_id, changes)


def _queue_writeback(cur: duckdb.DuckDBPyConnection, user: User, subject_id: str,
                     changes: list[Change]) -> int:
    """Queue the changes whose value differs from the newest one queued for the same record
    and field, as one outbox batch (audited); returns how many were queued.

    Each item's idempotency key chains the key of the field's previous item, so a value
    going back and forth is queued each time and a retried transaction queues nothing twice.
    """
    refused = sorted({f"{o}.{f}" for o, _, f, _ in changes
                      if not can(user, Action.WRITE_FIELD, f"{o}.{f}")})
    if refused:
        raise AccessDeniedError(f"Your roles may not write {', '.join(refused)} to the CRM; "
                                "ask RevOps.")
    last = plays_repo.last_queued_values(cur, [(o, r, f) for o, r, f, _ in changes])
    batch_id = f"batch-{subject_id}-{now_utc():%Y%m%d-%H%M%S%f}"
    start = outbox_repo.last_sequence(cur)
    rows: list[outbox_repo.OutboxRow] = []
    for obj, record_id, field, value in changes:
        previous = last.get((obj, record_id, field))
        if previous is not None and previous[0] == value:
            continue
        text = "\n".join([previous[1] if previous else "", obj, record_id, field, value])
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        last[(obj, record_id, field)] = (value, key)
        rows.append((key, batch_id, start + len(rows) + 1, obj, record_id, field,
                     previous[0] if previous else None, value))
    if not rows:
        return 0
    outbox_repo.insert_items(cur, rows)
    digest = hashlib.sha256("\n".join(row[0] for row in rows).encode("utf-8")).hexdigest()
    outbox_repo.insert_batch(cur, batch_id=batch_id, version_id=subject_id,
                             content_hash=digest, published_by=user.email,
                             published_at=now_utc(), items=len(rows))
    audit.record(cur, actor=user.email, actor_role=_role_of(user), action="writeback.queue",
                 entity="writeback_batch", entity_id=batch_id,
                 after={"subject": subject_id, "items": len(rows),
                        "fields": sorted({f"{r[3]}.{r[5]}" for r in rows})})
    return len(rows)


@entry_point(Action.START_SAVE_PLAY)
def queue_health_writeback(workspace: Workspace, user: User,
                           account_ids: list[str] | None = None) -> int:
    """Queue the newest health score, churn probability and reasons of accounts in the
    user's scope (all, or the given ones) for the CRM; returns how many fields were queued
    (a value already queued is not queued again)."""

    def write(cur) -> int:
        wanted = account_ids
        if wanted is not None:
            for account_id in wanted:
                _in_scope(cur, user, account_id)
        elif not user.sees_everything:
            wanted = plays_repo.accounts_of(cur, sorted(user.deal_owner_ids or ()))
        return _queue_writeback(cur, user, f"health-{now_utc():%Y%m%d}",
                                _health_changes(cur, wanted))

    return workspace.write(write)


@entry_point(Action.DECIDE_APPROVAL)
def plays_waiting_for(workspace: Workspace, user: User) -> pd.DataFrame:
    """Open approval steps of plays this user may decide (their role, not their own play, no
    other step of the same request decided by them): request_id, step_no, role, reason,
    play_run_id, play, account, concession and who started it."""
    frame = workspace.read(lambda cur: plays_repo.open_play_steps(cur, user.email))
    roles = {r.value for r in user.roles}
    return frame[frame["role"].isin(roles)].reset_index(drop=True)


@entry_point(Action.READ_SAVE_PLAYS)
def plays_in_scope(workspace: Workspace, user: User) -> pd.DataFrame:
    """Every play run on accounts in the user's scope, newest first, with the account, the
    status in words, open tasks and the credited outcome."""
    frame = workspace.read(lambda cur: plays_repo.plays_in_scope(cur, _owners(user)))
    return frame.assign(
        play_name=[CATALOGUE[p].name if p in CATALOGUE else p for p in frame["play"]],
        status_text=[PLAY_STATUS_WORDS.get(s, s) for s in frame["status"]])


def _owners(user: User) -> list[str] | None:
    return None if user.sees_everything else sorted(user.deal_owner_ids or ())


@dataclass(frozen=True)
class PlayAdoption:
    """How plays are used: started per week and per play, and how many at-risk renewals have
    a play."""

    per_week: pd.DataFrame
    """week (Monday), plays started."""
    per_play: pd.DataFrame
    """play, name, started, awaiting_approval, active, completed, rejected, credited."""
    at_risk_renewals: int
    """Renewals without an outcome up to `horizon_end` whose account is at risk."""
    at_risk_with_play: int
    horizon_end: dt.date

    @property
    def share_with_play(self) -> float | None:
        """Share of at-risk renewals with a play (None without at-risk renewals)."""
        return self.at_risk_with_play / self.at_risk_renewals if self.at_risk_renewals else None

    def to_text(self) -> str:
        """One line for people."""
        started = int(self.per_play["started"].sum()) if len(self.per_play) else 0
        return (f"{started:,} play(s) started; {self.at_risk_with_play:,} of "
                f"{self.at_risk_renewals:,} at-risk renewals up to {self.horizon_end:%Y-%m-%d} "
                f"have a play ({format_percent(self.share_with_play)}).")


@entry_point(Action.READ_SAVE_PLAYS)
def play_adoption(workspace: Workspace, user: User) -> PlayAdoption:
    """Plays started per week and per play, and the share of at-risk renewals (pending
    renewals up to the as-of day plus the renewal window, churn probability at least the
    workspace's at-risk threshold) with a play that was not rejected, in the user's scope."""
    as_of = resolve_as_of(workspace).day

    def read(cur) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dt.date]:
        window, threshold = _settings(cur)
        end = as_of + dt.timedelta(days=window)
        plays = plays_repo.plays_in_scope(cur, _owners(user))
        pending = plays_repo.pending_renewals(cur, _owners(user), dt.date.min, end)
        health = plays_repo.latest_health(cur, pending["account_id"].tolist())
        risky = set(health.loc[health["churn_probability"] >= threshold, "account_id"])
        return plays, pending[pending["account_id"].isin(risky)], health, end

    plays, at_risk, _, end = workspace.read_snapshot(read)
    started = pd.to_datetime(plays["started_at"])
    weeks = (started.dt.normalize() - pd.to_timedelta(started.dt.day_of_week, unit="D"))
    per_week = (plays.assign(week=weeks.dt.date).groupby("week").size()
                .rename("plays").reset_index())
    per_play = pd.DataFrame({"play": list(CATALOGUE),
                             "name": [p.name for p in CATALOGUE.values()]})
    counts = plays.assign(credited=plays["outcome_id"].notna())
    per_play["started"] = per_play["play"].map(counts.groupby("play").size()).fillna(0)
    for status in ("awaiting_approval", "active", "completed", "rejected"):
        mine = counts[counts["status"] == status].groupby("play").size()
        per_play[status] = per_play["play"].map(mine).fillna(0)
    per_play["credited"] = per_play["play"].map(
        counts[counts["credited"]].groupby("play").size()).fillna(0)
    number_columns = ["started", "awaiting_approval", "active", "completed", "rejected",
                      "credited"]
    per_play[number_columns] = per_play[number_columns].astype("int64")
    live = plays[~plays["status"].isin(["rejected", "changes_requested"])]
    covered = set(zip(live["account_id"], pd.to_datetime(live["renewal_date"]).dt.date,
                      strict=True))
    with_play = sum((a, _to_date(d)) in covered
                    for a, d in zip(at_risk["account_id"], at_risk["renewal_date"], strict=True))
    return PlayAdoption(per_week=per_week, per_play=per_play,
                        at_risk_renewals=len(at_risk), at_risk_with_play=int(with_play),
                        horizon_end=end)


@dataclass(frozen=True)
class RenewalGroup:
    """Outcomes of one group of at-risk renewals."""

    renewals: int
    renewed: int
    downgraded: int
    churned: int
    arr_cents_before: int
    arr_cents_after: int

    @property
    def win_rate(self) -> float | None:
        """Share renewed (a downgrade is not a win); None without renewals."""
        return self.renewed / self.renewals if self.renewals else None

    @property
    def arr_retained(self) -> float | None:
        """ARR after over ARR before; None without ARR."""
        return (self.arr_cents_after / self.arr_cents_before if self.arr_cents_before
                else None)


@dataclass(frozen=True)
class SavedRenewalRate:
    """Win rate of at-risk renewals with a credited play against those without."""

    with_play: RenewalGroup
    without_play: RenewalGroup

    @property
    def lift(self) -> float | None:
        """Win rate with a play minus without (None when a group is empty)."""
        if self.with_play.win_rate is None or self.without_play.win_rate is None:
            return None
        return self.with_play.win_rate - self.without_play.win_rate

    def to_text(self) -> str:
        """One line for people."""
        return (f"At-risk renewals with a play: {format_percent(self.with_play.win_rate)} "
                f"renewed of {self.with_play.renewals:,}; without: "
                f"{format_percent(self.without_play.win_rate)} of "
                f"{self.without_play.renewals:,}.")


def _group(frame: pd.DataFrame) -> RenewalGroup:
    return RenewalGroup(renewals=len(frame),
                        renewed=int((frame["outcome"] == "renewed").sum()),
                        downgraded=int((frame["outcome"] == "downgraded").sum()),
                        churned=int((frame["outcome"] == "churned").sum()),
                        arr_cents_before=int(frame["arr_cents_before"].sum()),
                        arr_cents_after=int(frame["arr_cents_after"].sum()))


@entry_point(Action.READ_SAVE_PLAYS)
def saved_renewal_rate(workspace: Workspace, user: User) -> SavedRenewalRate:
    """Recorded outcomes of at-risk renewals in the user's scope, split by whether a play
    was credited with them."""
    frame = workspace.read(lambda cur: plays_repo.outcomes_in_scope(cur, _owners(user)))
    risky = frame[frame["at_risk"].astype(bool)]
    return SavedRenewalRate(with_play=_group(risky[risky["plays_credited"] > 0]),
                            without_play=_group(risky[risky["plays_credited"] == 0]))
