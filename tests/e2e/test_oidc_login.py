"""A real OpenID Connect round trip: provider on localhost, Streamlit's st.login, Chromium.

The provider is `oidc-provider-mock` (an OpenID provider built on Authlib and Flask) started in
a thread of the test process on a free port. Streamlit is started against it through an
`[auth]` section in a secrets file of the test; Chromium signs in on the provider's own form,
lands on Home as that person with that person's pages, and signs out back to the sign-in screen.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import oidc_provider_mock
import pytest
from playwright.sync_api import Page, expect

from planning.access.policy import Action, can
from planning.access.roles import Role
from planning.access.users import User
from tests.e2e.conftest import RENDER_TIMEOUT_MS, free_port, member_emails, serve_app
from views.registry import PAGES


@dataclass(frozen=True)
class OidcApp:
    """The app served against the test's identity provider."""

    url: str
    provider: str
    manager_email: str
    stranger_email: str
    log: Path


@pytest.fixture(scope="module")
def oidc_app(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcApp]:
    folder = tmp_path_factory.mktemp("oidc-workspaces")
    shutil.copy(demo_data_dir / "demo.duckdb", folder / "demo.duckdb")
    manager = member_emails(folder)["manager"]
    stranger = "nobody@example.com"
    users = [
        oidc_provider_mock.User(
            sub=manager, claims={"email": manager, "email_verified": True, "name": "Team Lead"}
        ),
        oidc_provider_mock.User(
            sub=stranger, claims={"email": stranger, "email_verified": True, "name": "Nobody"}
        ),
    ]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as server:
        provider = f"http://localhost:{server.server_port}"
        port = free_port()
        secrets_file = folder / "secrets.toml"
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            'client_id = "revplan-tests"\n'
            'client_secret = "revplan-tests-secret"\n'
            f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        )
        with serve_app(
            folder, ("--secrets.files", str(secrets_file)), port=port
        ) as (url, log):
            yield OidcApp(url=url, provider=provider, manager_email=manager,
                          stranger_email=stranger, log=log)


def sign_in_at_provider(page: Page, app: OidcApp, email: str) -> None:
    """From the app's sign-in screen through the provider's form and back."""
    page.goto(app.url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Sign in with your company account").click(
        timeout=RENDER_TIMEOUT_MS)
    page.wait_for_url(f"{app.provider}/**", timeout=RENDER_TIMEOUT_MS)
    page.locator('input[name="sub"]').fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app.url}/**", timeout=RENDER_TIMEOUT_MS)


@pytest.mark.e2e
def test_sign_in_through_the_provider_and_out_again(
    oidc_app: OidcApp, browser_page: Page, output_dir: Path
) -> None:
    page = browser_page
    sign_in_at_provider(page, oidc_app, oidc_app.manager_email)

    expect(page.get_by_role("heading", name="RevPlan — demo")).to_be_visible(
        timeout=RENDER_TIMEOUT_MS)
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text(oidc_app.manager_email)).to_be_visible()
    expect(sidebar.get_by_text("Roles: manager")).to_be_visible()
    expect(sidebar.get_by_text("DEMO MODE")).to_have_count(0)
    manager = User(email=oidc_app.manager_email, name="m", workspace="demo",
                   roles=frozenset({Role.MANAGER}))
    expected = [e.title for e in PAGES if can(manager, Action.VIEW_PAGE, e.url_path)]
    links = sidebar.locator('[data-testid="stPageLink"]')
    expect(links).to_have_count(len(expected))
    for link, title in zip(links.all_inner_texts(), expected, strict=True):
        assert title in link
    page.screenshot(path=str(output_dir / "oidc-signed-in.png"), full_page=True)

    page.goto(f"{oidc_app.url}/import", wait_until="domcontentloaded")
    expect(page.get_by_text("Access refused")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_text("Upload")).to_have_count(0)

    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{oidc_app.provider}/**", timeout=RENDER_TIMEOUT_MS)
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{oidc_app.url}/**", timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Sign in with your company account")).to_be_visible(
        timeout=RENDER_TIMEOUT_MS)
    page.goto(oidc_app.url, wait_until="domcontentloaded")
    expect(page.get_by_role("button", name="Sign in with your company account")).to_be_visible(
        timeout=RENDER_TIMEOUT_MS)
    page.screenshot(path=str(output_dir / "oidc-signed-out.png"), full_page=True)


@pytest.mark.e2e
def test_provider_user_without_a_grant_reaches_no_workspace(
    oidc_app: OidcApp, browser_page: Page
) -> None:
    page = browser_page
    sign_in_at_provider(page, oidc_app, oidc_app.stranger_email)
    expect(page.get_by_text("has no access to any workspace")).to_be_visible(
        timeout=RENDER_TIMEOUT_MS)
    expect(page.locator('[data-testid="stMetric"]')).to_have_count(0)
