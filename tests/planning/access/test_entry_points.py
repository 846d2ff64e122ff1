"""Every planning entry point that reads scoped data or changes state asks the policy.

The walk: every public function of `planning` (outside the store and the policy itself) that
takes a `workspace` and writes to it, or takes an acting person, is either a registered
`@entry_point` or checks the policy in its own body (`require`, `can`, `readable_owner_ids`,
`acting_identity`), or is named in NOT_YET_GUARDED with the reason. Then every registered entry
point is called on the demo workspace by a member whose roles lack its action, and by a member
of another workspace, and must raise AccessDeniedError before it does anything.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
from pathlib import Path

import pandas as pd
import pytest

import planning
from planning.access.entry_points import ENTRY_POINTS, EntryPoint
from planning.access.policy import (
    ACTION_ROLES,
    AccessDeniedError,
    Action,
    can,
    system_principal,
)
from planning.access.roles import Role
from planning.access.users import User
from planning.approvals import decide, submit_version
from planning.audit import audit_events
from planning.store import Workspace
from tests.planning.test_approvals import demo_quotas, quota_version
from tests.views.test_pages import demo_user

PLANNING = Path(planning.__file__).resolve().parent
SKIPPED_PACKAGES = {"store", "access"}
"""The store is called by the entry points; the policy is what they call."""
ACTING_PARAMETERS = {"user", "actor", "manager"}
"""Parameter names that carry the person (or principal) acting."""
SELF_CHECKS = {"require", "can", "readable_owner_ids", "acting_identity", "require_page"}
"""Calls that mean a function asks the policy in its own body."""

NOT_YET_GUARDED: dict[str, str] = {
    "planning.pipeline.accuracy.backtest_forecasts":
        "a maintenance job (revplan accuracy); actor is a name",
    "planning.pipeline.exceptions.raise_risk_alerts":
        "run after a rescore by the job that rescored; actor is a name",
    "planning.pipeline.exceptions.refresh_recommendation_outcomes":
        "run after a rescore by the job that rescored; actor is a name",
    "planning.pipeline.forecast_calls.overridable_calls":
        "reads through forecast_history, which scopes by readable_owner_ids; without "
        "OVERRIDE_CALL the list is empty rather than refused",
    "planning.pipeline.training.store_deal_models":
        "called by train_deal_models after its check; actor is a name",
    "planning.pipeline.training.train_deal_models":
        "a maintenance job (revplan train); actor is a name",
    "planning.pipeline.training.score_open_deals":
        "a maintenance job run after training; takes no person",
    "planning.versions.save_scenario_version":
        "the one writer behind save_scenario and save_quota_scenario; actor is an email",
    "planning.health.training.store_health_model":
        "called by train_health_model after its check; actor is a name",
}
"""Entry points still guarded only by the page or command that calls them, with the reason.
The list only shrinks: a name that is guarded or gone must be removed."""

OUTSIDE_THE_POLICY: dict[str, str] = {
    "planning.telemetry.record_event":
        "records that the acting person did something (their own page view or action); "
        "reading telemetry is the guarded usage_report",
}
"""Functions the walk finds that are no access decision at all, with the reason."""


def _import_every_module() -> None:
    for module in pkgutil.walk_packages([str(PLANNING)], "planning."):
        importlib.import_module(module.name)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PLANNING.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _calls(function: ast.FunctionDef) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute)
                      else func.id if isinstance(func, ast.Name) else "")
    return names


def _decorated_as_entry_point(function: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "entry_point"
               for d in function.decorator_list)


def _checking_functions(tree: ast.Module) -> set[str]:
    """Names of a module's functions that ask the policy, directly or through another
    function of the same module."""
    functions = {node.name: _calls(node) for node in tree.body
                 if isinstance(node, ast.FunctionDef)}
    checking = {name for name, calls in functions.items() if calls & SELF_CHECKS}
    while True:
        more = {name for name, calls in functions.items() if calls & checking} - checking
        if not more:
            return checking
        checking |= more


def scoped_or_stateful() -> dict[str, tuple[ast.FunctionDef, bool]]:
    """Public functions taking a workspace that write to it or take the person acting, each
    with whether it asks the policy in its own module."""
    found = {}
    for path in sorted(PLANNING.rglob("*.py")):
        relative = path.relative_to(PLANNING)
        if relative.parts[0] in SKIPPED_PACKAGES or "__pycache__" in relative.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        checking = _checking_functions(tree)
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            arguments = node.args
            names = {a.arg for a in [*arguments.posonlyargs, *arguments.args,
                                     *arguments.kwonlyargs]}
            if "workspace" not in names:
                continue
            if "write" in _calls(node) or names & ACTING_PARAMETERS:
                found[f"{_module_name(path)}.{node.name}"] = (node, node.name in checking)
    return found


def test_every_scoped_or_stateful_function_asks_the_policy() -> None:
    _import_every_module()
    unguarded = []
    for name, (_, checks_itself) in scoped_or_stateful().items():
        if name in ENTRY_POINTS or name in NOT_YET_GUARDED or name in OUTSIDE_THE_POLICY:
            continue
        if not checks_itself:
            unguarded.append(name)
    assert unguarded == [], (
        "these planning functions read scoped data or change state without asking the "
        "policy; mark them @entry_point(Action.X) (or check in the body):\n"
        + "\n".join(unguarded))


def test_the_not_yet_guarded_list_only_shrinks() -> None:
    _import_every_module()
    candidates = scoped_or_stateful()
    stale = sorted(name for name in NOT_YET_GUARDED
                   if name not in candidates or name in ENTRY_POINTS or candidates[name][1])
    assert stale == [], f"guarded or gone, remove from NOT_YET_GUARDED: {stale}"


def test_every_decorated_function_is_registered() -> None:
    _import_every_module()
    decorated = {name for name, (function, _) in scoped_or_stateful().items()
                 if _decorated_as_entry_point(function)}
    assert decorated <= set(ENTRY_POINTS)
    assert len(ENTRY_POINTS) >= 8


def _registered() -> list[EntryPoint]:
    _import_every_module()
    return sorted(ENTRY_POINTS.values(), key=lambda entry: entry.name)


def _call(entry: EntryPoint, workspace: Workspace, user: User) -> None:
    """Call the entry point with the workspace and the user; every other required argument
    is a placeholder, since the policy must refuse before the function looks at it."""
    arguments = {}
    for name, parameter in inspect.signature(entry.function).parameters.items():
        if name == "workspace":
            arguments[name] = workspace
        elif name == entry.principal:
            arguments[name] = user
        elif parameter.default is inspect.Parameter.empty:
            arguments[name] = None
    entry.function(**arguments)


def _member_without(workspace: Workspace, action: Action) -> User:
    for role in Role:
        user = demo_user(workspace, role)
        if not can(user, action):
            return user
    raise AssertionError(f"every demo member may {action.value}")


@pytest.mark.parametrize("entry", _registered(), ids=lambda entry: entry.name)
def test_an_entry_point_refuses_a_member_without_the_right(demo_copy: Workspace,
                                                           entry: EntryPoint) -> None:
    if ACTION_ROLES[entry.action] == frozenset(Role):
        pytest.skip(f"{entry.action.value} is open to every role; refused per resource and "
                    "per workspace below")
    system = system_principal(demo_copy.name)
    before = len(audit_events(demo_copy, system, limit=None))
    user = _member_without(demo_copy, entry.action)
    with pytest.raises(AccessDeniedError, match=entry.action.value):
        _call(entry, demo_copy, user)
    assert len(audit_events(demo_copy, system, limit=None)) == before


@pytest.mark.parametrize("entry", _registered(), ids=lambda entry: entry.name)
def test_an_entry_point_refuses_a_member_of_another_workspace(demo_copy: Workspace,
                                                              entry: EntryPoint) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    outsider = dataclasses.replace(admin, workspace="elsewhere", roles=frozenset(Role))
    with pytest.raises(AccessDeniedError, match="no access to workspace 'demo'"):
        _call(entry, demo_copy, outsider)


@pytest.mark.parametrize("entry", _registered(), ids=lambda entry: entry.name)
def test_an_entry_point_refuses_nobody(demo_copy: Workspace, entry: EntryPoint) -> None:
    with pytest.raises(AccessDeniedError, match="Sign in first"):
        _call(entry, demo_copy, None)


@pytest.mark.parametrize("entry", _registered(), ids=lambda entry: entry.name)
def test_the_system_principal_is_refused_a_persons_act(demo_copy: Workspace,
                                                        entry: EntryPoint) -> None:
    system = system_principal(demo_copy.name)
    if can(system, entry.action):
        pytest.skip(f"{entry.action.value} is maintenance the system principal may do")
    with pytest.raises(AccessDeniedError, match="system principal may not"):
        _call(entry, demo_copy, system)


def test_a_step_is_decided_only_by_a_holder_of_its_role(demo_copy: Workspace) -> None:
    """DECIDE_APPROVAL is open to every role as an action; the step's row of the policy table
    (its role) refuses everyone else, with the same AccessDeniedError."""
    base = demo_quotas(demo_copy, 2026)
    items = pd.DataFrame({"subject": base["rep_id"],
                          "amount_cents": [int(q) * 105 // 100 for q in base["quota_cents"]]})
    request_id = submit_version(demo_copy, quota_version(demo_copy, items),
                                demo_user(demo_copy, Role.REVOPS))
    steps = demo_copy.read(lambda cur: cur.execute(
        "SELECT step_no, role FROM approval_steps WHERE request_id = ? AND status = 'pending' "
        "ORDER BY step_no", [request_id]).fetchall())
    step_no, role = steps[0]
    rep = demo_user(demo_copy, Role.REP)
    assert not can(rep, Action.DECIDE_APPROVAL, role)
    with pytest.raises(AccessDeniedError, match=f"needs the {role} role"):
        decide(demo_copy, request_id, step_no, rep, "approved")
    holder = demo_user(demo_copy, Role(role))
    assert can(holder, Action.DECIDE_APPROVAL, role)
    assert decide(demo_copy, request_id, step_no, holder, "approved") in ("pending", "approved")
