"""Approvals by policy: a submitted version is routed to roles by a versioned policy, each step
is decided once, and approving means approving that content hash.

Rules of a policy (JSON, `DEFAULT_RULES` is version 1): per kind, a list of steps, each a role
and a condition: `always`, `rep_change_over` (some rep's quota moves more than `threshold`
against the parent version, or last year's quota when there is no parent; a rep with neither
counts as a change), `moved_share_over` (more than `threshold` of units change owner),
`enterprise_moved` (any moved account of the Enterprise segment); for save plays (kind
`save_play`, see `planning.health.plays`) `commercial_change` (a concession or another
customer-facing commercial change), `concession_share_over` (the concession is more than
`threshold` of the renewing ARR) and `concession_cents_over` (more than `threshold` cents);
for quotes (kind `quote`, see `planning.cpq.quotes`, routed per line) `discount_band_over` (the
line's seller discount reaches a higher band than `threshold` of the price book's discount
policy: 0 within the seller's authority, 1 deal desk, 2 finance, 3 sales leadership) and
`margin_below_floor`.
A role asked by several rules is one step, with every reason. A rule with `submitter_signs`
is signed by the submitter when they hold its role (compensation prepares quota versions and
signs them by submitting); otherwise someone holding the role decides it like any step.

Separation of duties: the submitter decides no step, and nobody decides two steps of one
request. So that no request waits forever, submitting checks each step against the members who
hold its role: a step only the submitter could decide is refused with the reason, unless an
admin set an alternate approver for that role, who is then named on the step and may decide
it. (A workspace without any member rows takes its roles from the identity provider's groups,
which cannot be listed; its routes are not checked.) The submitter may withdraw an open
request; the version returns to draft and can be submitted again.
Decisions run in one serialised transaction that re-reads the step, so two approvers
clicking at once produce exactly one transition; the loser is told the step was decided.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, replace
from types import ModuleType

import duckdb
import pandas as pd

from planning import audit
from planning.access.entry_points import entry_point
from planning.access.policy import AccessDeniedError, Action, can
from planning.access.roles import Role
from planning.access.users import User, canonical_email, same_email
from planning.clock import now_utc
from planning.compare import change_summary, format_delta
from planning.errors import RevPlanError
from planning.overview import format_money, format_percent
from planning.store import Workspace
from planning.store import access as access_repo
from planning.store import approvals as approvals_repo
from planning.versions import (
    PlanVersion,
    read_items,
    read_version,
    set_status,
    verify_version,
)

DEFAULT_RULES: dict[str, list[dict]] = {
    "quota": [
        {"role": "finance", "when": "always", "why": "every quota version needs finance"},
        {"role": "comp", "when": "always", "why": "every quota version needs compensation",
         "submitter_signs": True},
        {"role": "sales_leader", "when": "rep_change_over", "threshold": 0.10,
         "why": "a rep's quota changes by more than 10%"},
    ],
    "territory": [
        {"role": "revops", "when": "always", "why": "every territory version needs RevOps"},
        {"role": "sales_leader", "when": "moved_share_over", "threshold": 0.05,
         "why": "more than 5% of accounts move"},
        {"role": "revops", "when": "moved_share_over", "threshold": 0.05,
         "why": "more than 5% of accounts move"},
        {"role": "sales_leader", "when": "enterprise_moved",
         "why": "an enterprise account moves"},
    ],
    "save_play": [
        {"role": "deal_desk", "when": "commercial_change",
         "why": "every concession or customer-facing commercial change needs deal desk"},
        {"role": "finance", "when": "concession_share_over", "threshold": 0.10,
         "why": "a concession above 10% of the renewing ARR"},
        {"role": "finance", "when": "concession_cents_over", "threshold": 2_500_000,
         "why": "a concession above $25K"},
    ],
    "quote": [
        {"role": "deal_desk", "when": "discount_band_over", "threshold": 0,
         "why": "a seller discount above the seller's authority"},
        {"role": "finance", "when": "discount_band_over", "threshold": 1,
         "why": "a seller discount above the finance threshold"},
        {"role": "sales_leader", "when": "discount_band_over", "threshold": 2,
         "why": "a seller discount above the sales-leadership threshold"},
        {"role": "finance", "when": "margin_below_floor", "why": "a margin below its floor"},
    ],
}
DECISIONS = ("approved", "rejected", "changes_requested")
THRESHOLD_SLACK = 1e-9
"""Shares are ratios of floats: a change of exactly 10 % must not count as more than 10 %."""
CONDITIONS = ("always", "rep_change_over", "moved_share_over", "enterprise_moved",
              "commercial_change", "concession_share_over", "concession_cents_over",
              "discount_band_over", "margin_below_floor")
SUMMARY_MODULES: dict[str, str] = {"quote": "planning.cpq.quotes"}
"""Version kinds whose approver card another module draws: its `approver_figures(cur,
version)` returns the totals, the biggest changes (text, in CHANGE_COLUMNS' keys) and what
they are compared with."""
REQUEST_SUBJECTS: dict[str, str] = {"play-": "planning.health.plays"}
"""Requests about something other than a plan version, by the prefix of the id they carry:
the module whose `approval_content_hash(cur, id)` reads the subject's content hash now and
whose `approval_closed(cur, id, status, actor=, actor_role=)` applies a closed request."""


ROLE_LABELS = {"revops": "RevOps", "sales_leader": "sales leader", "finance": "finance",
               "comp": "compensation", "admin": "admin", "manager": "manager", "rep": "rep",
               "deal_desk": "deal desk", "cs": "customer success", "viewer": "viewer"}
BIGGEST_CHANGES = 10


class DecisionError(RevPlanError):
    """A decision that may not be taken (already decided, own submission, second step…)."""


class StepRoleDeniedError(AccessDeniedError, DecisionError):
    """The person neither holds the step's role nor is its named alternate."""


class UnroutableError(RevPlanError):
    """A route with a step nobody but the submitter (or nobody at all) could decide."""


def role_label(role: str) -> str:
    """A role as people say it ("RevOps", "sales leader")."""
    return ROLE_LABELS.get(role, role)


@dataclass(frozen=True)
class RouteStep:
    """A role the policy asks, and why."""

    role: str
    reasons: tuple[str, ...]
    submitter_signs: bool = False


def check_rules(rules: dict) -> None:
    """Refuse a policy with unknown kinds, roles or conditions."""
    for kind, steps in rules.items():
        if kind not in DEFAULT_RULES:
            raise RevPlanError(f"Policy rules for unknown kind {kind!r}.")
        for step in steps:
            if step.get("role") not in {r.value for r in Role}:
                raise RevPlanError(f"Policy step with unknown role {step.get('role')!r}.")
            if step.get("when") not in CONDITIONS:
                raise RevPlanError(f"Policy step with unknown condition {step.get('when')!r}.")


def current_policy(cur: duckdb.DuckDBPyConnection) -> tuple[int, dict]:
    """The newest policy version and its rules (version 1, the default, stored on first use)."""
    latest = approvals_repo.latest_policy(cur)
    if latest is None:
        approvals_repo.insert_policy(cur, 1, json.dumps(DEFAULT_RULES, sort_keys=True),
                                     now_utc(), "system")
        return 1, DEFAULT_RULES
    return latest[0], json.loads(latest[1])


@entry_point(Action.MANAGE_APPROVALS)
def publish_policy(workspace: Workspace, rules: dict, *, user: User) -> int:
    """Store a new policy version (older ones are kept) as `user` (an admin or the system
    principal); returns its number."""
    check_rules(rules)

    def write(cur) -> int:
        version, _ = current_policy(cur)
        approvals_repo.insert_policy(cur, version + 1, json.dumps(rules, sort_keys=True),
                                     now_utc(), user.email)
        audit.record(cur, actor=user.email, actor_role=user.audit_role, action="policy.publish",
                     entity="approval_policy", entity_id=str(version + 1), after=rules)
        return version + 1

    return workspace.write(write)


@dataclass(frozen=True)
class VersionFacts:
    """What the conditions look at."""

    largest_rep_change: float
    moved_share: float
    enterprise_moved: int
    commercial_change: bool = False
    concession_share: float = 0.0
    concession_cents: int = 0
    discount_band: int = 0
    margin_below_floor: bool = False


def version_facts(cur: duckdb.DuckDBPyConnection, version_id: str) -> VersionFacts:
    """The facts of a version the policy conditions test."""
    version = read_version(cur, version_id)
    items = read_items(cur, version_id)
    if version.kind == "quota":
        if version.parent_id is not None:
            base = read_items(cur, version.parent_id).set_index("subject")["amount_cents"]
        else:
            base = approvals_repo.last_year_quotas(
                cur, version.fiscal_year or 0).set_index("subject")["amount_cents"]
        before = items["subject"].map(base).astype(float)
        after = items["amount_cents"].astype(float)
        change = (after / before - 1).abs().where(before > 0, float("inf"))
        return VersionFacts(largest_rep_change=float(change.max()) if len(change) else 0.0,
                            moved_share=0.0, enterprise_moved=0)
    moved = items[items["previous"].notna() & (items["assignee"] != items["previous"])]
    enterprise = approvals_repo.enterprise_account_count(
        cur, moved["subject"].astype(str).tolist()) if len(moved) else 0
    return VersionFacts(largest_rep_change=0.0,
                        moved_share=len(moved) / len(items) if len(items) else 0.0,
                        enterprise_moved=enterprise)


def route(rules: dict, kind: str, facts: VersionFacts) -> list[RouteStep]:
    """The steps a version's facts call for under `rules`, in rule order, one per role."""
    steps: dict[str, list[str]] = {}
    signs: set[str] = set()
    for rule in rules.get(kind, []):
        when = rule["when"]
        threshold = float(rule.get("threshold", 0.0))
        fires = (when == "always"
                 or (when == "rep_change_over"
                     and facts.largest_rep_change > threshold + THRESHOLD_SLACK)
                 or (when == "moved_share_over"
                     and facts.moved_share > threshold + THRESHOLD_SLACK)
                 or (when == "enterprise_moved" and facts.enterprise_moved > 0)
                 or (when == "commercial_change" and facts.commercial_change)
                 or (when == "concession_share_over"
                     and facts.concession_share > threshold + THRESHOLD_SLACK)
                 or (when == "concession_cents_over" and facts.concession_cents > threshold)
                 or (when == "discount_band_over" and facts.discount_band > threshold)
                 or (when == "margin_below_floor" and facts.margin_below_floor))
        if fires:
            steps.setdefault(rule["role"], []).append(rule["why"])
            if rule.get("submitter_signs"):
                signs.add(rule["role"])
    return [RouteStep(role, tuple(dict.fromkeys(reasons)), role in signs)
            for role, reasons in steps.items()]


def _role_of(user: User) -> str | None:
    return user.primary_role.value if user.primary_role else None


@entry_point(Action.SUBMIT_VERSION)
def submit_version(workspace: Workspace, version_id: str, user: User) -> str:
    """Submit a draft version for approval; returns the request id."""

    def write(cur) -> str:
        version = verify_version(cur, version_id)
        if version.kind == "quote":
            raise RevPlanError(f"{version.name} is a quote: submit it from the Quote page "
                               "(planning.cpq.quotes.submit_quote routes each line's discount).")
        if version.status not in ("draft", "changes_requested"):
            raise RevPlanError(f"Version {version_id} is {version.status}; only a draft (or "
                               "one sent back for changes) can be submitted.")
        policy_version, rules = current_policy(cur)
        steps = route(rules, version.kind, version_facts(cur, version_id))
        if not steps:
            raise RevPlanError("The approval policy asks nobody for this version.")
        held = {r.value for r in user.roles}
        assigned = routable_alternates(cur, steps, user)
        request_id = f"request-{now_utc():%Y%m%d-%H%M%S%f}"
        approvals_repo.insert_request(
            cur, request_id=request_id, version_id=version_id,
            content_hash=version.content_hash, policy_version=policy_version,
            route_json=json.dumps([{"role": s.role, "reasons": list(s.reasons),
                                    "alternate": assigned.get(s.role)} for s in steps]),
            submitted_by=user.email, submitted_at=now_utc())
        for number, step in enumerate(steps, start=1):
            signed = step.submitter_signs and step.role in held
            approvals_repo.insert_step(
                cur, request_id=request_id, step_no=number, role=step.role,
                reason="; ".join(step.reasons), status="signed" if signed else "pending",
                decided_by=user.email if signed else None,
                decided_at=now_utc() if signed else None,
                comment="signed by the submitter" if signed else None)
        everyone_signed = all(s.submitter_signs and s.role in held for s in steps)
        if everyone_signed:
            approvals_repo.set_request_status(cur, request_id, "approved")
        set_status(cur, version_id, "approved" if everyone_signed else "submitted",
                   actor=user.email, actor_role=_role_of(user))
        audit.record(cur, actor=user.email, actor_role=_role_of(user), action="approval.submit",
                     entity="approval_request", entity_id=request_id,
                     after={"version_id": version_id, "content_hash": version.content_hash,
                            "policy_version": policy_version,
                            "route": [s.role for s in steps],
                            "alternates": assigned})
        return request_id

    return workspace.write(write)


@entry_point(Action.DECIDE_APPROVAL)
def decide(workspace: Workspace, request_id: str, step_no: int, user: User, decision: str,
           comment: str = "") -> str:
    """Approve, reject or request changes on one step; returns the request's status after."""
    if decision not in DECISIONS:
        raise RevPlanError(f"Unknown decision {decision!r}.")
    comment = comment.strip()
    if decision != "approved" and len(comment) < 3:
        raise RevPlanError("Say why when rejecting or asking for changes.")

    def write(cur) -> str:
        request = approvals_repo.request_row(cur, request_id)
        if request is None:
            raise RevPlanError(f"No approval request {request_id!r}.")
        version_id, approved_hash, submitted_by, status, route_json = (
            request["version_id"], request["content_hash"], request["submitted_by"],
            request["status"], request["route"])
        step = approvals_repo.step_state(cur, request_id, step_no)
        if step is None:
            raise RevPlanError(f"Request {request_id} has no step {step_no}.")
        role, step_status = step
        if status != "pending" or step_status != "pending":
            raise DecisionError(f"Step {step_no} of {request_id} was already decided "
                                f"({step_status}); nothing changed.")
        alternate = _step_alternates(route_json).get(step_no)
        if not can(user, Action.DECIDE_APPROVAL, role) and not same_email(user.email,
                                                                           alternate):
            raise StepRoleDeniedError(f"Step {step_no} needs the {role} role"
                                + (f" or the alternate {alternate}." if alternate else "."))
        if same_email(user.email, submitted_by):
            raise DecisionError("You submitted this version; someone else must decide it.")
        if approvals_repo.steps_decided_by(cur, request_id, user.email):
            raise DecisionError("You already decided a step of this request; another person "
                                "must decide this one.")
        subject = _request_subject(version_id)
        current_hash = (verify_version(cur, version_id).content_hash if subject is None
                        else subject.approval_content_hash(cur, version_id))
        if current_hash != approved_hash:
            raise DecisionError("The version's content changed since it was submitted.")
        approvals_repo.record_decision(cur, request_id=request_id, step_no=step_no,
                                       decision=decision, decided_by=user.email,
                                       decided_at=now_utc(), comment=comment or None)
        audit.record(cur, actor=user.email, actor_role=role, action=f"approval.{decision}",
                     entity="approval_request", entity_id=request_id,
                     after={"step": step_no, "role": role, "content_hash": approved_hash,
                            "as_alternate": Role(role) not in user.roles},
                     reason=comment or None)
        pending = approvals_repo.pending_step_count(cur, request_id)
        after = decision if decision != "approved" else ("approved" if pending == 0
                                                          else "pending")
        if after != "pending":
            approvals_repo.set_request_status(cur, request_id, after)
            if after != "approved":
                approvals_repo.skip_pending_steps(cur, request_id)
            if subject is None:
                set_status(cur, version_id, after, actor=user.email, actor_role=role)
            else:
                subject.approval_closed(cur, version_id, after, actor=user, actor_role=role)
        return after

    return workspace.write(write)


def _request_subject(subject_id: str) -> ModuleType | None:
    """The module handling requests about `subject_id` when it is no plan version."""
    for prefix, module in REQUEST_SUBJECTS.items():
        if subject_id.startswith(prefix):
            return importlib.import_module(module)
    return None


@entry_point(Action.DECIDE_APPROVAL)
def waiting_for(workspace: Workspace, user: User) -> pd.DataFrame:
    """Pending steps this user may decide (their role or the step's named alternate, not
    their submission, no other step of the same request decided by them)."""
    frame = workspace.read(lambda cur: approvals_repo.open_steps_for(cur, user.email))
    roles = {r.value for r in user.roles}
    mine = [role in roles or same_email(_step_alternates(route).get(int(step)), user.email)
            for role, route, step in zip(frame["role"], frame["route"], frame["step_no"],
                                         strict=True)]
    keep = pd.Series(mine, index=frame.index, dtype=bool)
    return frame.loc[keep].drop(columns="route").reset_index(drop=True)


def requests(workspace: Workspace, submitted_by: str | None = None) -> pd.DataFrame:
    """Requests (newest first) with their steps in words and whom each open step waits for;
    only one submitter's when given."""

    def read(cur) -> pd.DataFrame:
        frame = approvals_repo.request_overview(cur, submitted_by)
        waits = _waits_for(cur, frame["request_id"].tolist())
        frame["waiting_for"] = [_waiting_words(waits.get(rid, {}))
                                for rid in frame["request_id"]]
        return frame

    return workspace.read(read)


def _step_alternates(route_json: str | None) -> dict[int, str]:
    """Step number -> the alternate named on it when the request was submitted."""
    steps = json.loads(route_json) if route_json else []
    return {number: step["alternate"] for number, step in enumerate(steps, start=1)
            if step.get("alternate")}


def _waiting_words(waits: dict[tuple[int, str], list[str]]) -> str:
    """Whom the open steps wait for, in words: "finance: Name <email>; sales leader: …"."""
    return "; ".join(f"{role_label(role)}: {', '.join(people) or 'nobody'}"
                     for (_, role), people in sorted(waits.items()))


def _person(email: str, names: dict[str, str]) -> str:
    name = names.get(email)
    return f"{name} <{email}>" if name and name.lower() != email else email


def _waits_for(cur: duckdb.DuckDBPyConnection,
               request_ids: list[str]) -> dict[str, dict[tuple[int, str], list[str]]]:
    """Per request, per open step (number, role): the people who may decide it."""
    if not request_ids:
        return {}
    steps = approvals_repo.request_steps(cur, request_ids)
    routes = approvals_repo.requests_with_route(cur, request_ids)
    holders = approvals_repo.role_holders(cur)
    names = approvals_repo.member_names(cur, holders["email"].tolist() + [
        a for _, route in routes.values() for a in _step_alternates(route).values()])
    result: dict[str, dict[tuple[int, str], list[str]]] = {}
    for rid, group in steps.groupby("request_id"):
        submitter, route = routes[rid]
        decided = {canonical_email(email) for email in group["decided_by"].dropna()}
        alternate_of = _step_alternates(route)
        for step in group[group["status"] == "pending"].itertuples():
            people = [email for email, roles in zip(holders["email"], holders["roles"],
                                                    strict=True)
                      if step.role in list(roles) and not same_email(email, submitter)
                      and canonical_email(email) not in decided]
            alternate = alternate_of.get(int(step.step_no))
            if alternate and alternate not in people and alternate not in decided:
                people.append(alternate)
            shown = [_person(email, names) + (" (alternate)" if email == alternate else "")
                     for email in people]
            if holders.empty:
                shown = [f"anyone holding {role_label(step.role)}"]
            result.setdefault(rid, {})[(int(step.step_no), step.role)] = shown
    return result


def waits_for(workspace: Workspace, request_id: str) -> dict[int, list[str]]:
    """Whom each open step of a request waits for: step number -> "Name <email>" texts."""
    found = workspace.read(lambda cur: _waits_for(cur, [request_id])).get(request_id, {})
    return {number: people for (number, _), people in found.items()}


def routable_alternates(cur: duckdb.DuckDBPyConnection, steps: list[RouteStep],
                        submitter: User) -> dict[str, str]:
    """Check that someone other than the submitter can decide every step; returns the
    alternate named for each role that needs one. Raises UnroutableError with the reason."""
    holders = approvals_repo.role_holders(cur)
    if holders.empty:
        return {}
    held = {r.value for r in submitter.roles}
    alternates = approvals_repo.alternates(cur)
    assigned: dict[str, str] = {}
    for step in steps:
        if step.submitter_signs and step.role in held:
            continue
        others = [email for email, roles in zip(holders["email"], holders["roles"],
                                                strict=True)
                  if step.role in list(roles) and not same_email(email, submitter.email)]
        if others:
            continue
        alternate = alternates.get(step.role)
        if alternate and not same_email(alternate, submitter.email):
            assigned[step.role] = alternate
            continue
        label = role_label(step.role)
        member_roles = access_repo.member_roles(cur, submitter.email) or []
        if step.role in held or step.role in member_roles:
            raise UnroutableError(
                f"The {label} step can only be decided by you, the submitter: grant {label} "
                f"to someone else or set an alternate (revplan approvals alternate --role "
                f"{step.role} --email EMAIL).")
        raise UnroutableError(
            f"Nobody in this workspace holds {label}, so the {label} step could never be "
            f"decided: grant {label} to someone or set an alternate (revplan approvals "
            f"alternate --role {step.role} --email EMAIL).")
    return assigned


def alternates(workspace: Workspace) -> dict[str, str]:
    """The alternate approver email per role."""
    return workspace.read(approvals_repo.alternates)


@entry_point(Action.MANAGE_APPROVALS)
def set_alternate(workspace: Workspace, role: str, email: str | None, actor: User,
                  *, reason: str | None = None) -> None:
    """Name (or with None clear) the alternate who may decide a role's step when nobody but
    the submitter holds the role (audited). `actor` is an admin, or the `system` principal at
    the server's command line."""
    try:
        role = Role(role.strip().lower()).value
    except ValueError:
        raise RevPlanError(f"Unknown role {role!r}; roles are: "
                           f"{', '.join(r.value for r in Role)}.") from None
    wanted = canonical_email(email) or None

    def write(cur) -> None:
        if wanted and access_repo.member(cur, wanted) is None:
            raise RevPlanError(f"{wanted} is not a member of workspace {workspace.name!r}; "
                               "grant them access first (revplan access grant).")
        before = approvals_repo.alternates(cur).get(role)
        approvals_repo.set_alternate(cur, role, wanted)
        audit.record(cur, actor=actor.email, actor_role=_role_of(actor),
                     action="approval.alternate", entity="approval_alternate", entity_id=role,
                     before={"email": before}, after={"email": wanted}, reason=reason)

    workspace.write(write)


@entry_point(Action.SUBMIT_VERSION)
def withdraw_request(workspace: Workspace, request_id: str, user: User,
                     reason: str | None = None) -> None:
    """Withdraw an open request (only its submitter, audited); the version returns to draft
    and may be submitted again."""

    def write(cur) -> None:
        request = approvals_repo.request_row(cur, request_id)
        if request is None:
            raise RevPlanError(f"No approval request {request_id!r}.")
        if not same_email(request["submitted_by"], user.email):
            raise DecisionError(f"Only the submitter ({request['submitted_by']}) can withdraw "
                                f"{request_id}.")
        if request["status"] != "pending":
            raise DecisionError(f"{request_id} is {request['status']}; only an open request "
                                "can be withdrawn.")
        approvals_repo.mark_withdrawn(cur, request_id)
        set_status(cur, request["version_id"], "draft", actor=user.email,
                   actor_role=_role_of(user), reason=f"request {request_id} withdrawn")
        audit.record(cur, actor=user.email, actor_role=_role_of(user),
                     action="approval.withdraw", entity="approval_request",
                     entity_id=request_id, before={"status": "pending"},
                     after={"status": "withdrawn", "version_id": request["version_id"]},
                     reason=reason)

    workspace.write(write)


@dataclass(frozen=True)
class SummaryFigure:
    """One total of the approver's card: this version's value, the baseline's, the change."""

    label: str
    value: str
    baseline: str | None
    change: str | None


@dataclass(frozen=True)
class ApproverSummary:
    """What an approver sees before deciding one step."""

    request_id: str
    step_no: int
    role: str
    rule: str
    """Why the policy asks this step (the rules that fired), with the policy version."""
    version_id: str
    version_name: str
    kind: str
    content_hash: str
    baseline_id: str | None
    """The published version of the same kind compared against; None: first version."""
    baseline_text: str
    totals: tuple[SummaryFigure, ...]
    biggest_changes: pd.DataFrame
    """Up to ten rows, named: territory account, from, to, revenue; quota rep, before,
    after, change."""
    compare_query: str | None
    """`?a=ID&b=ID` of the versions page for the full compare, when there is a baseline."""
    change_summary: str | None = None
    """The compare's plan-change summary against the baseline, in words (None: first
    version)."""


def approver_summary(workspace: Workspace, request_id: str, step_no: int) -> ApproverSummary:
    """Totals and change against the published version (or "first version"), the ten biggest
    changes by name, the rule behind the step and the compare link, for one open step."""

    def read(cur) -> ApproverSummary:
        request = approvals_repo.request_row(cur, request_id)
        if request is None:
            raise RevPlanError(f"No approval request {request_id!r}.")
        steps = approvals_repo.request_steps(cur, [request_id])
        step = steps[steps["step_no"] == step_no]
        if step.empty:
            raise RevPlanError(f"Request {request_id} has no step {step_no}.")
        version = read_version(cur, request["version_id"])
        module = SUMMARY_MODULES.get(version.kind)
        if module is not None:
            totals, changes, base_text = importlib.import_module(module).approver_figures(
                cur, version)
            return ApproverSummary(
                request_id=request_id, step_no=step_no, role=str(step["role"].iloc[0]),
                rule=f"{step['reason'].iloc[0]} (policy version {request['policy_version']})",
                version_id=version.version_id, version_name=version.name, kind=version.kind,
                content_hash=request["content_hash"], baseline_id=None,
                baseline_text=base_text, totals=totals, biggest_changes=changes,
                compare_query=None)
        baseline_id = approvals_repo.published_version_id(
            cur, version.kind, version.fiscal_year, version.version_id)
        items = read_items(cur, version.version_id)
        base_items = read_items(cur, baseline_id) if baseline_id else None
        if version.kind == "territory":
            totals, changes, base_text = _territory_summary(cur, items, base_items)
        else:
            totals, changes, base_text = _quota_summary(cur, items, base_items,
                                                        version.fiscal_year)
        if baseline_id:
            base_text = f"Compared with the published version {read_version(cur, baseline_id).name}"
        role = str(step["role"].iloc[0])
        return ApproverSummary(
            request_id=request_id, step_no=step_no, role=role,
            rule=f"{step['reason'].iloc[0]} (policy version {request['policy_version']})",
            version_id=version.version_id, version_name=version.name, kind=version.kind,
            content_hash=request["content_hash"], baseline_id=baseline_id,
            baseline_text=base_text, totals=totals, biggest_changes=changes,
            compare_query=(f"?a={baseline_id}&b={version.version_id}" if baseline_id
                           else None))

    summary = workspace.read_snapshot(read)
    if summary.baseline_id is None:
        return summary
    words = change_summary(workspace, summary.baseline_id, summary.version_id)
    return replace(summary, change_summary=words)


CHANGE_COLUMNS = {
    "territory": {"account": "Account", "from_rep": "From", "to_rep": "To",
                  "revenue_cents": "Annual revenue", "account_id": "CRM id"},
    "quota": {"rep": "Rep", "before_cents": "Before", "after_cents": "After",
              "change_cents": "Change", "change_share": "Change %", "rep_id": "CRM id"},
    "quote": {"line": "Line", "before": "Before", "after": "After", "change": "Net change",
              "option_id": "Option id"},
}
"""Headers of the biggest-changes table per kind; names first, the CRM id last."""


def biggest_changes_table(summary: ApproverSummary) -> pd.DataFrame:
    """The biggest changes as the approver reads them: names, money as "$21.1M" / "$456K",
    signed changes and "new" / "—" for a rep without an earlier quota (never "None" or
    "nan"), the CRM id as the last column."""
    changes = summary.biggest_changes
    headers = CHANGE_COLUMNS[summary.kind]
    if changes.empty:
        return pd.DataFrame(columns=list(headers.values()))
    if summary.kind in SUMMARY_MODULES:
        return changes[list(headers)].rename(columns=headers).reset_index(drop=True)
    shown = pd.DataFrame(index=changes.index)
    if summary.kind == "territory":
        shown["account"] = changes["account"]
        shown["from_rep"] = changes["from_rep"]
        shown["to_rep"] = changes["to_rep"]
        shown["revenue_cents"] = [format_money(int(c)) for c in changes["revenue_cents"]]
    else:
        shown["rep"] = changes["rep"]
        shown["before_cents"] = ["—" if pd.isna(c) else format_money(int(c))
                                 for c in changes["before_cents"]]
        shown["after_cents"] = [format_money(int(c)) for c in changes["after_cents"]]
        shown["change_cents"] = [format_delta(int(c) / 100, "usd")
                                 for c in changes["change_cents"]]
        shown["change_share"] = [
            "new" if pd.isna(before) else
            "—" if pd.isna(share) else format_percent(float(share), signed=True)
            for before, share in zip(changes["before_cents"], changes["change_share"],
                                     strict=True)]
    crm_id = "account_id" if summary.kind == "territory" else "rep_id"
    shown[crm_id] = changes[crm_id].astype(str)
    return shown[list(headers)].rename(columns=headers).reset_index(drop=True)


def submitted_message(workspace: Workspace, request_id: str) -> str:
    """What the submitter reads once a request is made, from the stored request (not from a
    label made before submitting): "Submitted <name> (#hash) for approval; waiting for …"."""

    def read(cur) -> tuple[dict, PlanVersion, str]:
        request = approvals_repo.request_row(cur, request_id)
        if request is None:
            raise RevPlanError(f"No approval request {request_id!r}.")
        waits = _waits_for(cur, [request_id]).get(request_id, {})
        return request, read_version(cur, request["version_id"]), _waiting_words(waits)

    request, version, whom = workspace.read(read)
    head = f"Submitted {version.name} (#{request['content_hash'][:8]}) for approval"
    if not whom:
        return f"{head}; every step is signed, the version is {version.status}."
    return f"{head}; waiting for {whom}."


def _territory_summary(cur: duckdb.DuckDBPyConnection, items: pd.DataFrame,
                       base_items: pd.DataFrame | None
                       ) -> tuple[tuple[SummaryFigure, ...], pd.DataFrame, str]:
    before = (items["subject"].map(base_items.set_index("subject")["assignee"])
              if base_items is not None else items["previous"])
    moved = items.assign(before=before)
    moved = moved[moved["before"].notna() & (moved["assignee"] != moved["before"])]
    accounts = approvals_repo.account_names_and_revenue(cur, moved["subject"].tolist())
    accounts = accounts.set_index("account_id")
    reps = approvals_repo.rep_names(cur, sorted(set(moved["assignee"].dropna())
                                                | set(moved["before"].dropna())))
    moved = moved.assign(
        account=moved["subject"].map(accounts["name"]).fillna(moved["subject"]),
        revenue_cents=moved["subject"].map(accounts["revenue_cents"]).fillna(0).astype("int64"),
        from_rep=moved["before"].map(lambda r: reps.get(r, r)),
        to_rep=moved["assignee"].map(lambda r: reps.get(r, r)))
    top = moved.sort_values(["revenue_cents", "account"], ascending=[False, True]).head(
        BIGGEST_CHANGES)
    changes = top[["account", "subject", "from_rep", "to_rep", "revenue_cents"]].rename(
        columns={"subject": "account_id"}).reset_index(drop=True)
    share = len(moved) / len(items) if len(items) else 0.0
    totals = (
        SummaryFigure("Accounts in the plan", f"{len(items):,}",
                      None if base_items is None else f"{len(base_items):,}", None),
        SummaryFigure("Reps with accounts", f"{items['assignee'].nunique():,}",
                      None if base_items is None else f"{base_items['assignee'].nunique():,}",
                      None),
        SummaryFigure("Accounts with a new rep", f"{len(moved):,}", None,
                      format_percent(share) + " of the accounts"),
        SummaryFigure("Revenue of those accounts", format_money(int(moved["revenue_cents"].sum())),
                      None, None),
    )
    text = ("First version of this kind: compared with the account owners when it was solved"
            if base_items is None else "")
    return totals, changes, text


def _quota_summary(cur: duckdb.DuckDBPyConnection, items: pd.DataFrame,
                   base_items: pd.DataFrame | None, fiscal_year: int | None
                   ) -> tuple[tuple[SummaryFigure, ...], pd.DataFrame, str]:
    if base_items is None:
        base_items = approvals_repo.last_year_quotas(cur, fiscal_year or 0)
        text = ("First version of this kind: compared with last fiscal year's quotas"
                if len(base_items) else "First version of this kind: no earlier quotas")
    else:
        text = ""
    base = base_items.set_index("subject")["amount_cents"]
    frame = items[["subject", "amount_cents"]].assign(
        before_cents=items["subject"].map(base))
    frame["change_cents"] = frame["amount_cents"] - frame["before_cents"].fillna(0)
    frame["change_share"] = [None if pd.isna(b) or b == 0 else float(a / b - 1)
                             for a, b in zip(frame["amount_cents"], frame["before_cents"],
                                             strict=True)]
    reps = approvals_repo.rep_names(cur, frame["subject"].tolist())
    frame["rep"] = frame["subject"].map(lambda r: reps.get(r, r))
    top = frame.reindex(frame["change_cents"].abs().sort_values(ascending=False).index).head(
        BIGGEST_CHANGES)
    changes = top.rename(columns={"subject": "rep_id", "amount_cents": "after_cents"})[
        ["rep", "rep_id", "before_cents", "after_cents", "change_cents", "change_share"]
    ].reset_index(drop=True)
    total = int(items["amount_cents"].sum())
    before_total = int(base_items["amount_cents"].sum()) if len(base_items) else None
    change = None if before_total is None else (
        f"{'+' if total >= before_total else ''}{format_money(total - before_total)}"
        + (f" ({format_percent(total / before_total - 1, signed=True)})"
           if before_total else ""))
    totals = (
        SummaryFigure("Total quota", format_money(total),
                      None if before_total is None else format_money(before_total), change),
        SummaryFigure("Reps with a quota", f"{len(items):,}", f"{len(base_items):,}", None),
    )
    return totals, changes, text
