"""Approvals by policy: a submitted version is routed to roles by a versioned policy, each step
is decided once, and approving means approving that content hash.

Rules of a policy (JSON, `DEFAULT_RULES` is version 1): per kind, a list of steps, each a role
and a condition: `always`, `rep_change_over` (some rep's quota moves more than `threshold`
against the parent version, or last year's quota when there is no parent; a rep with neither
counts as a change), `moved_share_over` (more than `threshold` of units change owner),
`enterprise_moved` (any moved account of the Enterprise segment). A role asked by several
rules is one step, with every reason. A rule with `submitter_signs` is signed by the
submitter when they hold its role (compensation prepares quota versions and signs them by
submitting); otherwise someone holding the role decides it like any step.

Separation of duties: the submitter decides no step, and nobody decides two steps of one
request. Decisions run in one serialised transaction that re-reads the step, so two approvers
clicking at once produce exactly one transition; the loser is told the step was decided.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import duckdb
import pandas as pd

from auth.roles import Role
from auth.users import User
from planning import audit
from planning.errors import RevPlanError
from planning.store import Workspace
from planning.versions import read_items, read_version, set_status, verify_version

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
}
DECISIONS = ("approved", "rejected", "changes_requested")
THRESHOLD_SLACK = 1e-9
"""Shares are ratios of floats: a change of exactly 10 % must not count as more than 10 %."""
CONDITIONS = ("always", "rep_change_over", "moved_share_over", "enterprise_moved")


class DecisionError(RevPlanError):
    """A decision that may not be taken (already decided, own submission, second step…)."""


@dataclass(frozen=True)
class RouteStep:
    """A role the policy asks, and why."""

    role: str
    reasons: tuple[str, ...]
    submitter_signs: bool = False


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def check_rules(rules: dict) -> None:
    """Refuse a policy with unknown kinds, roles or conditions."""
    for kind, steps in rules.items():
        if kind not in ("quota", "territory"):
            raise RevPlanError(f"Policy rules for unknown kind {kind!r}.")
        for step in steps:
            if step.get("role") not in {r.value for r in Role}:
                raise RevPlanError(f"Policy step with unknown role {step.get('role')!r}.")
            if step.get("when") not in CONDITIONS:
                raise RevPlanError(f"Policy step with unknown condition {step.get('when')!r}.")


def current_policy(cur: duckdb.DuckDBPyConnection) -> tuple[int, dict]:
    """The newest policy version and its rules (version 1, the default, stored on first use)."""
    row = cur.execute("SELECT policy_version, rules FROM approval_policies "
                      "ORDER BY policy_version DESC LIMIT 1").fetchone()
    if row is None:
        cur.execute("INSERT INTO approval_policies VALUES (1, ?, ?, 'system')",
                    [json.dumps(DEFAULT_RULES, sort_keys=True), _now()])
        return 1, DEFAULT_RULES
    return int(row[0]), json.loads(row[1])


def publish_policy(workspace: Workspace, rules: dict, *, actor: str,
                   actor_role: str | None = None) -> int:
    """Store a new policy version (older ones are kept); returns its number."""
    check_rules(rules)

    def write(cur) -> int:
        version, _ = current_policy(cur)
        cur.execute("INSERT INTO approval_policies VALUES (?, ?, ?, ?)",
                    [version + 1, json.dumps(rules, sort_keys=True), _now(), actor])
        audit.record(cur, actor=actor, actor_role=actor_role, action="policy.publish",
                     entity="approval_policy", entity_id=str(version + 1), after=rules)
        return version + 1

    return workspace.write(write)


@dataclass(frozen=True)
class VersionFacts:
    """What the conditions look at."""

    largest_rep_change: float
    moved_share: float
    enterprise_moved: int


def version_facts(cur: duckdb.DuckDBPyConnection, version_id: str) -> VersionFacts:
    """The facts of a version the policy conditions test."""
    version = read_version(cur, version_id)
    items = read_items(cur, version_id)
    if version.kind == "quota":
        if version.parent_id is not None:
            base = read_items(cur, version.parent_id).set_index("subject")["amount_cents"]
        else:
            base = cur.execute(
                "SELECT rep_id, quota_cents FROM rep_quotas WHERE fiscal_year = ?",
                [(version.fiscal_year or 0) - 1]).df().set_index("rep_id")["quota_cents"]
        before = items["subject"].map(base).astype(float)
        after = items["amount_cents"].astype(float)
        change = (after / before - 1).abs().where(before > 0, float("inf"))
        return VersionFacts(largest_rep_change=float(change.max()) if len(change) else 0.0,
                            moved_share=0.0, enterprise_moved=0)
    moved = items[items["previous"].notna() & (items["assignee"] != items["previous"])]
    enterprise = int(cur.execute(
        """SELECT count(*) FROM accounts WHERE segment = 'Enterprise'
           AND account_id IN (SELECT UNNEST(?::VARCHAR[]))""",
        [moved["subject"].astype(str).tolist()]).fetchall()[0][0]) if len(moved) else 0
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
                 or (when == "enterprise_moved" and facts.enterprise_moved > 0))
        if fires:
            steps.setdefault(rule["role"], []).append(rule["why"])
            if rule.get("submitter_signs"):
                signs.add(rule["role"])
    return [RouteStep(role, tuple(dict.fromkeys(reasons)), role in signs)
            for role, reasons in steps.items()]


def _role_of(user: User) -> str | None:
    return user.primary_role.value if user.primary_role else None


def submit_version(workspace: Workspace, version_id: str, user: User) -> str:
    """Submit a draft version for approval; returns the request id."""

    def write(cur) -> str:
        version = verify_version(cur, version_id)
        if version.status not in ("draft", "changes_requested"):
            raise RevPlanError(f"Version {version_id} is {version.status}; only a draft (or "
                               "one sent back for changes) can be submitted.")
        policy_version, rules = current_policy(cur)
        steps = route(rules, version.kind, version_facts(cur, version_id))
        if not steps:
            raise RevPlanError("The approval policy asks nobody for this version.")
        request_id = f"request-{_now():%Y%m%d-%H%M%S%f}"
        cur.execute("INSERT INTO approval_requests VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                    [request_id, version_id, version.content_hash, policy_version,
                     json.dumps([{"role": s.role, "reasons": list(s.reasons)} for s in steps]),
                     user.email, _now()])
        held = {r.value for r in user.roles}
        for number, step in enumerate(steps, start=1):
            signed = step.submitter_signs and step.role in held
            cur.execute("""INSERT INTO approval_steps (request_id, step_no, role, reason,
                               status, decided_by, decided_at, comment)
                           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                        [request_id, number, step.role, "; ".join(step.reasons),
                         "signed" if signed else "pending", user.email if signed else None,
                         _now() if signed else None,
                         "signed by the submitter" if signed else None])
        everyone_signed = all(s.submitter_signs and s.role in held for s in steps)
        if everyone_signed:
            cur.execute("UPDATE approval_requests SET status = 'approved' WHERE request_id = ?",
                        [request_id])
        set_status(cur, version_id, "approved" if everyone_signed else "submitted",
                   actor=user.email, actor_role=_role_of(user))
        audit.record(cur, actor=user.email, actor_role=_role_of(user), action="approval.submit",
                     entity="approval_request", entity_id=request_id,
                     after={"version_id": version_id, "content_hash": version.content_hash,
                            "policy_version": policy_version,
                            "route": [s.role for s in steps]})
        return request_id

    return workspace.write(write)


def decide(workspace: Workspace, request_id: str, step_no: int, user: User, decision: str,
           comment: str = "") -> str:
    """Approve, reject or request changes on one step; returns the request's status after."""
    if decision not in DECISIONS:
        raise RevPlanError(f"Unknown decision {decision!r}.")
    comment = comment.strip()
    if decision != "approved" and len(comment) < 3:
        raise RevPlanError("Say why when rejecting or asking for changes.")

    def write(cur) -> str:
        request = cur.execute(
            "SELECT version_id, content_hash, submitted_by, status FROM approval_requests "
            "WHERE request_id = ?", [request_id]).fetchone()
        if request is None:
            raise RevPlanError(f"No approval request {request_id!r}.")
        version_id, approved_hash, submitted_by, status = request
        step = cur.execute("SELECT role, status FROM approval_steps WHERE request_id = ? "
                           "AND step_no = ?", [request_id, step_no]).fetchone()
        if step is None:
            raise RevPlanError(f"Request {request_id} has no step {step_no}.")
        role, step_status = step
        if status != "pending" or step_status != "pending":
            raise DecisionError(f"Step {step_no} of {request_id} was already decided "
                                f"({step_status}); nothing changed.")
        if Role(role) not in user.roles:
            raise DecisionError(f"Step {step_no} needs the {role} role.")
        if user.email == submitted_by:
            raise DecisionError("You submitted this version; someone else must decide it.")
        already = cur.execute("SELECT count(*) FROM approval_steps WHERE request_id = ? AND "
                              "decided_by = ?", [request_id, user.email]).fetchone()[0]
        if already:
            raise DecisionError("You already decided a step of this request; another person "
                                "must decide this one.")
        version = verify_version(cur, version_id)
        if version.content_hash != approved_hash:
            raise DecisionError("The version's content changed since it was submitted.")
        cur.execute("""UPDATE approval_steps SET status = ?, decided_by = ?, decided_at = ?,
                       comment = ? WHERE request_id = ? AND step_no = ?""",
                    [decision, user.email, _now(), comment or None, request_id, step_no])
        audit.record(cur, actor=user.email, actor_role=role, action=f"approval.{decision}",
                     entity="approval_request", entity_id=request_id,
                     after={"step": step_no, "role": role, "content_hash": approved_hash},
                     reason=comment or None)
        pending = cur.execute("SELECT count(*) FROM approval_steps WHERE request_id = ? AND "
                              "status = 'pending'", [request_id]).fetchone()[0]
        after = decision if decision != "approved" else ("approved" if pending == 0
                                                          else "pending")
        if after != "pending":
            cur.execute("UPDATE approval_requests SET status = ? WHERE request_id = ?",
                        [after, request_id])
            if after != "approved":
                cur.execute("UPDATE approval_steps SET status = 'skipped' WHERE request_id = ? "
                            "AND status = 'pending'", [request_id])
            set_status(cur, version_id, after, actor=user.email, actor_role=role)
        return after

    return workspace.write(write)


def waiting_for(workspace: Workspace, user: User) -> pd.DataFrame:
    """Pending steps this user may decide (their role, not their submission, no other step of
    the same request decided by them)."""
    roles = sorted(r.value for r in user.roles)
    return workspace.read(lambda cur: cur.execute(
        """SELECT s.request_id, s.step_no, s.role, s.reason, r.version_id, v.kind, v.name,
                  r.submitted_by, r.submitted_at, r.content_hash, r.policy_version
           FROM approval_steps s
           JOIN approval_requests r USING (request_id)
           JOIN plan_versions v ON v.version_id = r.version_id
           WHERE s.status = 'pending' AND r.status = 'pending'
             AND list_contains(?::VARCHAR[], s.role) AND r.submitted_by <> ?
             AND NOT EXISTS (SELECT 1 FROM approval_steps d WHERE d.request_id = s.request_id
                             AND d.decided_by = ?)
           ORDER BY r.submitted_at, s.step_no""",
        [roles, user.email, user.email]).df())


def requests(workspace: Workspace, submitted_by: str | None = None) -> pd.DataFrame:
    """Requests (newest first) with their steps in words; only one submitter's when given."""
    return workspace.read(lambda cur: cur.execute(
        """SELECT r.request_id, r.version_id, v.kind, v.name, r.status, r.submitted_by,
                  r.submitted_at, r.policy_version,
                  string_agg(s.role || ': ' || s.status
                             || coalesce(' by ' || s.decided_by, '')
                             || coalesce(' (' || s.comment || ')', ''), '; '
                             ORDER BY s.step_no) AS steps
           FROM approval_requests r JOIN plan_versions v USING (version_id)
           JOIN approval_steps s USING (request_id)
           WHERE ?::VARCHAR IS NULL OR r.submitted_by = ?
           GROUP BY ALL ORDER BY r.submitted_at DESC""", [submitted_by, submitted_by]).df())
