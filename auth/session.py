"""The signed-in session in the Streamlit app: identity from `st.user` or the demo picker.

Streamlit keeps the identity provider's login in a cookie for 30 days and does not check token
expiry itself; here a session ends `session_hours` after the provider issued the login (its
`iat` claim), or after the demo sign-in, whichever applies.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from auth.settings import AuthSettings, load_auth_settings
from planning.access.users import Identity, canonical_email

DEMO_IDENTITY_KEY = "demo_identity"
EXPIRED_NOTICE_KEY = "session_expired_notice"
DEMO_QUERY_PARAM = "as"
"""In demo mode the chosen person also rides in the URL, so a reload or a shared link keeps
them signed in (the demo has no passwords; anyone may pick anyone)."""


def read_settings() -> AuthSettings:
    """Sign-in settings from `.streamlit/secrets.toml` and the environment."""
    secrets = st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}
    return load_auth_settings(secrets)


def _issued_at(value: object) -> dt.datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def current_identity(settings: AuthSettings) -> Identity | None:
    """Who is signed in this browser session, or None."""
    if settings.demo:
        identity = st.session_state.get(DEMO_IDENTITY_KEY)
        if not isinstance(identity, Identity):
            email = st.query_params.get(DEMO_QUERY_PARAM)
            if not email:
                return None
            identity = Identity(email=email, name=canonical_email(email), method="demo",
                                issued_at=dt.datetime.now(dt.UTC))
            st.session_state[DEMO_IDENTITY_KEY] = identity
        if st.query_params.get(DEMO_QUERY_PARAM) != identity.email:
            st.query_params[DEMO_QUERY_PARAM] = identity.email
        return identity
    if not st.user.is_logged_in:
        return None
    email = st.user.get("email")
    if not isinstance(email, str) or not email:
        return None
    if st.user.get("email_verified") is False:
        return None
    groups = st.user.get(settings.groups_claim) or ()
    if isinstance(groups, str):
        groups = (groups,)
    name = st.user.get("name")
    return Identity(
        email=email, name=name if isinstance(name, str) and name else canonical_email(email),
        method="oidc", groups=tuple(str(g) for g in groups),
        issued_at=_issued_at(st.user.get("iat")),
    )


def unverified_email() -> bool:
    """True when the provider signed someone in but said their email is not verified."""
    return bool(st.user.is_logged_in and st.user.get("email_verified") is False)


def session_expired(identity: Identity, settings: AuthSettings, now: dt.datetime | None = None
                    ) -> bool:
    """True when the login is older than the configured session lifetime."""
    if identity.issued_at is None:
        return False
    now = now or dt.datetime.now(dt.UTC)
    return now - identity.issued_at > dt.timedelta(hours=settings.session_hours)


def demo_sign_in(email: str, name: str) -> None:
    """Start a demo session as a workspace member (demo mode only)."""
    st.session_state[DEMO_IDENTITY_KEY] = Identity(
        email=email, name=name, method="demo", issued_at=dt.datetime.now(dt.UTC)
    )
    st.query_params[DEMO_QUERY_PARAM] = canonical_email(email)


def sign_out(settings: AuthSettings, *, expired: bool = False) -> None:
    """End the session: forget the demo identity, or log out of the identity provider.

    With `expired`, the sign-in screen that follows says the session expired.
    """
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.query_params.clear()
    if expired:
        st.session_state[EXPIRED_NOTICE_KEY] = True
    if not settings.demo:
        st.logout()
    else:
        st.rerun()
