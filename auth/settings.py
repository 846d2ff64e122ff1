"""How people sign in, read from `.streamlit/secrets.toml` (and the environment).

- `[auth]` present: production sign-in through the identity provider (`st.login`). The demo
  user picker is then refused: setting `REVPLAN_DEMO_LOGIN=1` with `[auth]` stops the app.
- `[auth]` absent: demo mode, a clearly labelled picker of the workspace's members.
- `[revplan]`: `session_hours` (default 12), `groups_claim` (default "groups"),
  `admins` (emails that are admins of every workspace), and `[revplan.group_roles]` mapping an
  IdP group name to the roles it grants in every workspace.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from planning.access.membership import environment_admins
from planning.access.roles import Role, parse_roles
from planning.access.users import canonical_email
from planning.errors import RevPlanError

DEFAULT_SESSION_HOURS = 12.0
MAX_SESSION_HOURS = 24.0 * 30
"""Streamlit's identity cookie lives 30 days; a longer session could not be kept anyway."""


class AuthConfigurationError(RevPlanError):
    """The sign-in settings contradict each other or cannot be read."""


@dataclass(frozen=True)
class AuthSettings:
    """Sign-in mode and role sources."""

    mode: str
    """'oidc' or 'demo'."""
    session_hours: float = DEFAULT_SESSION_HOURS
    groups_claim: str = "groups"
    group_roles: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()

    @property
    def demo(self) -> bool:
        """True when the demo user picker is the way in."""
        return self.mode == "demo"


def _as_list(value: object) -> list[object]:
    """A settings value that may be one item or a list of them, as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    raise AuthConfigurationError(f"Expected a text or a list of texts, got {value!r}.")


def load_auth_settings(
    secrets: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> AuthSettings:
    """Read the sign-in settings; refuse demo mode when an identity provider is configured."""
    environ = os.environ if environ is None else environ
    has_provider = bool(secrets.get("auth"))
    demo_forced = environ.get("REVPLAN_DEMO_LOGIN", "").strip().lower() in {"1", "true", "yes"}
    if has_provider and demo_forced:
        raise AuthConfigurationError(
            "Demo sign-in is refused because an identity provider is configured ([auth] in "
            ".streamlit/secrets.toml). Unset REVPLAN_DEMO_LOGIN, or remove [auth] to run the "
            "demo."
        )
    revplan = secrets.get("revplan") or {}
    if not isinstance(revplan, Mapping):
        raise AuthConfigurationError("[revplan] in secrets.toml must be a table.")
    hours_text = environ.get("REVPLAN_SESSION_HOURS") or revplan.get("session_hours")
    try:
        if isinstance(hours_text, bool):
            raise TypeError
        hours = float(hours_text) if hours_text is not None else DEFAULT_SESSION_HOURS
    except (TypeError, ValueError):
        raise AuthConfigurationError(
            f"Session lifetime {hours_text!r} is not a number of hours."
        ) from None
    if not math.isfinite(hours) or hours <= 0 or hours > MAX_SESSION_HOURS:
        raise AuthConfigurationError(
            f"Session lifetime {hours_text!r} must be more than 0 and at most "
            f"{MAX_SESSION_HOURS:g} hours."
        )
    group_roles = {}
    for group, roles in dict(revplan.get("group_roles") or {}).items():
        try:
            group_roles[str(group)] = parse_roles(_as_list(roles))
        except ValueError as exc:
            raise AuthConfigurationError(f"[revplan.group_roles] {group!r}: {exc}") from None
    admins = {
        canonical_email(str(e)) for e in _as_list(revplan.get("admins", [])) if str(e).strip()
    }
    admins |= environment_admins(environ)
    return AuthSettings(
        mode="oidc" if has_provider else "demo",
        session_hours=hours,
        groups_claim=str(revplan.get("groups_claim", "groups")),
        group_roles=group_roles,
        admins=frozenset(admins),
    )
