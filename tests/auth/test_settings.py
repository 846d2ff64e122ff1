"""Sign-in settings from secrets.toml and the environment."""

from __future__ import annotations

import pytest

from auth.settings import (
    DEFAULT_SESSION_HOURS,
    AuthConfigurationError,
    AuthSettings,
    load_auth_settings,
)
from planning.access.roles import Role
from planning.errors import RevPlanError

AUTH = {
    "redirect_uri": "https://revplan.example.com/oauth2callback",
    "cookie_secret": "not-a-real-secret",
    "client_id": "client",
    "client_secret": "secret",
    "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
}


def test_demo_mode_without_auth_section() -> None:
    settings = load_auth_settings({}, {})
    assert settings.mode == "demo" and settings.demo
    assert settings.session_hours == DEFAULT_SESSION_HOURS == 12.0
    assert settings.groups_claim == "groups"
    assert dict(settings.group_roles) == {}
    assert settings.admins == frozenset()


def test_empty_auth_section_is_demo_mode() -> None:
    assert load_auth_settings({"auth": {}}, {}).demo


def test_oidc_mode_with_auth_section() -> None:
    settings = load_auth_settings({"auth": AUTH}, {})
    assert settings.mode == "oidc"
    assert not settings.demo


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " yes "])
def test_demo_login_with_auth_section_is_refused(value: str) -> None:
    with pytest.raises(AuthConfigurationError) as refused:
        load_auth_settings({"auth": AUTH}, {"REVPLAN_DEMO_LOGIN": value})
    message = str(refused.value)
    assert "REVPLAN_DEMO_LOGIN" in message and "[auth]" in message
    assert isinstance(refused.value, RevPlanError)


@pytest.mark.parametrize("value", ["1", "0", ""])
def test_demo_login_without_auth_section_is_demo(value: str) -> None:
    assert load_auth_settings({}, {"REVPLAN_DEMO_LOGIN": value}).demo


@pytest.mark.parametrize("value", ["0", "", "no", "false"])
def test_demo_login_off_keeps_oidc(value: str) -> None:
    assert load_auth_settings({"auth": AUTH}, {"REVPLAN_DEMO_LOGIN": value}).mode == "oidc"


def test_reads_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVPLAN_DEMO_LOGIN", "1")
    monkeypatch.setenv("REVPLAN_SESSION_HOURS", "3")
    monkeypatch.setenv("REVPLAN_ADMINS", "root@example.com")
    with pytest.raises(AuthConfigurationError):
        load_auth_settings({"auth": AUTH})
    settings = load_auth_settings({})
    assert settings.session_hours == 3.0
    assert settings.admins == frozenset({"root@example.com"})


# --- session lifetime -----------------------------------------------------------------------

def test_session_hours_from_secrets() -> None:
    assert load_auth_settings({"revplan": {"session_hours": 8}}, {}).session_hours == 8.0
    assert load_auth_settings({"revplan": {"session_hours": "0.5"}}, {}).session_hours == 0.5


def test_session_hours_from_environment_win_over_secrets() -> None:
    settings = load_auth_settings(
        {"revplan": {"session_hours": 8}}, {"REVPLAN_SESSION_HOURS": "2.5"}
    )
    assert settings.session_hours == 2.5


def test_empty_environment_value_falls_back_to_secrets() -> None:
    settings = load_auth_settings(
        {"revplan": {"session_hours": 8}}, {"REVPLAN_SESSION_HOURS": ""}
    )
    assert settings.session_hours == 8.0


@pytest.mark.parametrize("value", ["twelve", "12h", "1,5"])
def test_session_hours_not_a_number(value: str) -> None:
    with pytest.raises(AuthConfigurationError, match="not a number of hours"):
        load_auth_settings({}, {"REVPLAN_SESSION_HOURS": value})
    with pytest.raises(AuthConfigurationError, match="not a number of hours"):
        load_auth_settings({"revplan": {"session_hours": value}}, {})


def test_session_hours_of_wrong_type_in_secrets() -> None:
    with pytest.raises(AuthConfigurationError, match="not a number of hours"):
        load_auth_settings({"revplan": {"session_hours": [1, 2]}}, {})


@pytest.mark.parametrize("value", ["0", "-1", "-0.5"])
def test_session_hours_must_be_positive(value: str) -> None:
    with pytest.raises(AuthConfigurationError, match="must be more than 0"):
        load_auth_settings({}, {"REVPLAN_SESSION_HOURS": value})


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_session_hours_must_be_finite(value: str) -> None:
    with pytest.raises(AuthConfigurationError):
        load_auth_settings({}, {"REVPLAN_SESSION_HOURS": value})


# --- group roles ----------------------------------------------------------------------------

def test_group_roles_parsed() -> None:
    settings = load_auth_settings(
        {
            "auth": AUTH,
            "revplan": {
                "groups_claim": "roles",
                "group_roles": {
                    "revenue-ops": ["revops", "viewer"],
                    "Sales Leadership": ["Sales_Leader"],
                    "finance": ("finance",),
                },
            },
        },
        {},
    )
    assert settings.groups_claim == "roles"
    assert dict(settings.group_roles) == {
        "revenue-ops": frozenset({Role.REVOPS, Role.VIEWER}),
        "Sales Leadership": frozenset({Role.SALES_LEADER}),
        "finance": frozenset({Role.FINANCE}),
    }


def test_group_roles_unknown_role_is_refused_with_its_name() -> None:
    with pytest.raises(AuthConfigurationError) as refused:
        load_auth_settings(
            {"revplan": {"group_roles": {"ops": ["revops", "superuser"]}}}, {}
        )
    message = str(refused.value)
    assert "'ops'" in message and "'superuser'" in message
    assert "admin" in message  # lists the roles that exist


def test_group_roles_single_string_value() -> None:
    try:
        settings = load_auth_settings({"revplan": {"group_roles": {"ops": "revops"}}}, {})
    except AuthConfigurationError as exc:
        assert "Unknown role 'r'" not in str(exc)
    else:
        assert dict(settings.group_roles) == {"ops": frozenset({Role.REVOPS})}


def test_revplan_section_must_be_a_table() -> None:
    with pytest.raises(AuthConfigurationError, match="must be a table"):
        load_auth_settings({"revplan": "admins=me"}, {})


# --- admins ---------------------------------------------------------------------------------

def test_admins_from_secrets_are_normalised() -> None:
    settings = load_auth_settings(
        {"revplan": {"admins": [" Boss@Example.COM ", "ops@example.com", "  "]}}, {}
    )
    assert settings.admins == frozenset({"boss@example.com", "ops@example.com"})


def test_admins_from_environment_are_added() -> None:
    settings = load_auth_settings(
        {"revplan": {"admins": ["boss@example.com"]}},
        {"REVPLAN_ADMINS": "Root@Example.com, ops@example.com,,"},
    )
    assert settings.admins == frozenset(
        {"boss@example.com", "root@example.com", "ops@example.com"}
    )


def test_admins_only_from_environment() -> None:
    settings = load_auth_settings({}, {"REVPLAN_ADMINS": "root@example.com"})
    assert settings.admins == frozenset({"root@example.com"})


def test_admins_given_as_one_string() -> None:
    try:
        settings = load_auth_settings({"revplan": {"admins": "boss@example.com"}}, {})
    except AuthConfigurationError:
        return
    assert settings.admins == frozenset({"boss@example.com"})


def test_settings_are_immutable() -> None:
    settings = load_auth_settings({}, {})
    assert isinstance(settings, AuthSettings)
    with pytest.raises(AttributeError):
        settings.mode = "oidc"  # type: ignore[misc]
