"""Session lifetime: a login older than the configured hours has expired."""

from __future__ import annotations

import datetime as dt

import pytest

from auth.session import session_expired
from auth.settings import load_auth_settings
from planning.access.users import Identity

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("age_hours", "limit", "expired"),
    [(1, "12", False), (11.99, "12", False), (12.01, "12", True), (30, "24", True),
     (0.4, "0.5", False), (0.6, "0.5", True)],
)
def test_login_older_than_the_session_lifetime_expires(
    age_hours: float, limit: str, expired: bool
) -> None:
    settings = load_auth_settings({}, {"REVPLAN_SESSION_HOURS": limit})
    identity = Identity("a@example.com", "A", "oidc",
                        issued_at=NOW - dt.timedelta(hours=age_hours))
    assert session_expired(identity, settings, NOW) is expired


def test_login_without_an_issue_time_is_not_expired_by_it() -> None:
    settings = load_auth_settings({}, {})
    assert session_expired(Identity("a@example.com", "A", "oidc"), settings, NOW) is False
