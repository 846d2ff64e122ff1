"""Planning entry points that read scoped data or change state, each guarded by the policy.

`@entry_point(Action.X)` marks a public planning function as one: before it runs, its acting
user (the parameter named `user`, else `actor`) must be allowed `Action.X` and, when the
function takes a `workspace`, must belong to that workspace; otherwise AccessDeniedError. The
function may check more itself (a step's role, a field, its own submission). The registry
lets a test walk every entry point and prove each refuses a user without the right.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from planning.access.policy import Action, require

Function = TypeVar("Function", bound=Callable[..., Any])
PRINCIPAL_PARAMETERS = ("user", "actor")
"""Names an entry point's acting-user parameter may have, in order of preference."""


@dataclass(frozen=True)
class EntryPoint:
    """One guarded planning function and the action it needs."""

    name: str
    """'module.function'."""
    action: Action
    function: Callable[..., Any]
    principal: str
    """The name of its acting-user parameter."""


ENTRY_POINTS: dict[str, EntryPoint] = {}
"""Every guarded entry point by 'module.function', filled as planning modules are imported."""


def entry_point(action: Action) -> Callable[[Function], Function]:
    """Guard a planning function by `action` and register it (see the module docstring)."""

    def decorate(function: Function) -> Function:
        signature = inspect.signature(function)
        principal = next((name for name in PRINCIPAL_PARAMETERS
                          if name in signature.parameters), None)
        if principal is None:
            raise TypeError(f"{function.__qualname__} takes no acting user "
                            f"({' or '.join(PRINCIPAL_PARAMETERS)}).")

        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs).arguments
            user = arguments.get(principal)
            require(user, action)
            workspace = arguments.get("workspace")
            if workspace is not None:
                require(user, Action.OPEN_WORKSPACE, workspace.name)
            return function(*args, **kwargs)

        name = f"{function.__module__}.{function.__qualname__}"
        ENTRY_POINTS[name] = EntryPoint(name, action, guarded, principal)
        return guarded  # type: ignore[return-value]

    return decorate
