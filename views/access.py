"""Access (admin): who may use this workspace with which roles; grant, change and revoke them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from planning.access.membership import grant_roles, members, revoke_access
from planning.access.roles import ROLE_DESCRIPTIONS, ROLES, Role, parse_roles
from planning.access.users import User, canonical_email
from planning.store import Workspace
from views.common import current_workspace, require_page, show_failure

NOTICE_KEY = "access_notice"
FORM_KEY_PREFIXES = ("grant_", "revoke_")
# The "change the roles of" choice that starts an empty form for someone not yet a member.
NEW_PERSON = ""

MEMBER_COLUMNS = {
    "email": st.column_config.TextColumn("Email"),
    "display_name": st.column_config.TextColumn("Name"),
    "roles": st.column_config.TextColumn("Roles"),
    "rep_id": st.column_config.TextColumn("CRM rep id", help="The CRM person with this email."),
    "title": st.column_config.TextColumn("CRM title"),
    "team": st.column_config.TextColumn("CRM team"),
    "granted_by": st.column_config.TextColumn("Granted by"),
    "granted_at": st.column_config.DatetimeColumn("Granted (UTC)", format="YYYY-MM-DD HH:mm"),
    "updated_at": st.column_config.DatetimeColumn("Last change (UTC)",
                                                  format="YYYY-MM-DD HH:mm"),
}


def role_label(role: Role) -> str:
    """A role with what it is for, as the role picker shows it."""
    return f"{role.value} — {ROLE_DESCRIPTIONS[role]}"


def display_name(row: pd.Series | None) -> str:
    """A member row's display name, or "" when there is none."""
    if row is None or not isinstance(row["display_name"], str):
        return ""
    return row["display_name"]


def member_label(table: pd.DataFrame, email: str) -> str:
    """A member as pickers show them: name, email and roles."""
    if email == NEW_PERSON:
        return "A new person"
    row = table[table["email"] == email].iloc[0]
    name = display_name(row)
    return f"{name} <{email}> · {row['roles']}" if name else f"{email} · {row['roles']}"


def held_roles(row: pd.Series | None) -> list[Role]:
    """The roles in a member row, in the order the picker lists them (none for a new person)."""
    if row is None:
        return []
    names = [name for name in str(row["roles"]).split(", ") if name]
    return sorted(parse_roles(names), key=ROLES.index)


def attempt(change: Callable[[], None], doing: str, done: str) -> None:
    """Run one access change; on success empty the forms, remember `done` and redraw.

    On failure the forms keep what was typed, under the reason it was refused.
    """
    try:
        change()
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, doing)
        return
    for key in [k for k in st.session_state if str(k).startswith(FORM_KEY_PREFIXES)]:
        del st.session_state[key]
    st.session_state[NOTICE_KEY] = done
    st.rerun()


def grant_form(workspace: Workspace, user: User, table: pd.DataFrame) -> None:
    """Grant a new person access, or replace an existing member's roles."""
    st.subheader("Grant access or change roles")
    whom = st.selectbox(
        "Change the roles of", [NEW_PERSON, *table["email"]],
        format_func=lambda email: member_label(table, email), key="grant_whom",
        help="Pick a member to start from their current roles, or a new person.",
    )
    slot = whom or "new"
    current = table[table["email"] == whom].iloc[0] if whom else None
    with st.form(f"grant_{slot}"):
        email = st.text_input("Email", value=whom, key=f"grant_email_{slot}",
                              placeholder="name@company.com",
                              help="The verified email the person signs in with.")
        name = st.text_input("Display name", key=f"grant_name_{slot}",
                             value=display_name(current))
        roles = st.multiselect(
            "Roles", list(ROLES), format_func=role_label, key=f"grant_roles_{slot}",
            default=held_roles(current),
            help="The person gets exactly these roles in this workspace; the union of what "
            "they allow.",
        )
        reason = st.text_input("Reason", key=f"grant_reason_{slot}",
                               placeholder="Why, for the audit trail")
        submitted = st.form_submit_button(
            "Change roles" if whom else "Grant access", type="primary", key=f"grant_{slot}_go"
        )
    if not submitted:
        return
    address = canonical_email(email)
    attempt(
        lambda: grant_roles(workspace, user, address, roles,
                            display_name=name.strip() or None, reason=reason.strip() or None),
        "change the roles" if address in set(table["email"]) else "grant access",
        f"{address} now holds: {', '.join(r.value for r in roles)}.",
    )


def revoke_form(workspace: Workspace, user: User, table: pd.DataFrame) -> None:
    """Remove a member's access, after an explicit confirmation."""
    st.subheader("Revoke access")
    with st.form("revoke"):
        email = st.selectbox("Member", list(table["email"]), key="revoke_email",
                             format_func=lambda email: member_label(table, email))
        reason = st.text_input("Reason", key="revoke_reason",
                               placeholder="Why, for the audit trail")
        confirmed = st.checkbox("Yes, this person loses access to the workspace",
                                key="revoke_confirm")
        submitted = st.form_submit_button("Revoke access", key="revoke_go")
    if not submitted:
        return
    if not confirmed:
        st.warning("Tick the confirmation box to revoke access; nothing was changed.")
        return
    attempt(
        lambda: revoke_access(workspace, user, email, reason=reason.strip() or None),
        "revoke access", f"{email} no longer has access to this workspace.",
    )


def main() -> None:
    """Draw the Access page for an admin of the session's workspace."""
    user = require_page("access")
    workspace = current_workspace()
    st.title("Access")
    st.caption(
        "Who may open this workspace and with which roles. A member's roles are the union of "
        "the roles granted here, the roles their identity-provider groups map to under "
        "`[revplan.group_roles]` in `.streamlit/secrets.toml` (in every workspace), and admin "
        "for the emails listed as `admins` under `[revplan]` (or in `REVPLAN_ADMINS`). Roles "
        "from groups and settings are not listed here; change them in the settings. Every "
        "change on this page is recorded in the audit trail."
    )
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    try:
        table = members(workspace, user)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, "list the members")
        return
    st.subheader(f"Members ({len(table):,})")
    if table.empty:
        st.info("Nobody has been granted access to this workspace yet.")
    else:
        st.dataframe(table, hide_index=True, column_config=MEMBER_COLUMNS)
    grant_form(workspace, user, table)
    if not table.empty:
        revoke_form(workspace, user, table)


main()
