"""Audit trail (admin, revops): filter the hash-chained events, export them, verify the chain."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from planning.access.policy import Action
from planning.access.users import User
from planning.audit import audit_events, audit_export_csv, audit_filter_values, verify_chain
from planning.store import Workspace
from planning.telemetry import record_event
from views.common import allowed, current_workspace, require_page, show_failure

DEFAULT_DAYS = 90
ROW_LIMIT = 50_000
SHOWN_COLUMNS = (
    "seq", "occurred_at", "actor", "actor_role", "action", "entity", "entity_id", "reason",
    "before_json", "after_json",
)
EVENT_COLUMNS = {
    "seq": st.column_config.NumberColumn("Event #", format="%d"),
    "occurred_at": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
    "actor": st.column_config.TextColumn("Actor"),
    "actor_role": st.column_config.TextColumn("Role"),
    "action": st.column_config.TextColumn("Action"),
    "entity": st.column_config.TextColumn("Entity"),
    "entity_id": st.column_config.TextColumn("Id"),
    "reason": st.column_config.TextColumn("Reason"),
    "before_json": st.column_config.JsonColumn("Before", width="medium"),
    "after_json": st.column_config.JsonColumn("After", width="medium"),
}


@dataclass(frozen=True)
class AuditFilters:
    """What the reader narrowed the trail to; None means no restriction."""

    since: dt.datetime | None
    until: dt.datetime | None
    actor: str | None
    action: str | None
    entity: str | None
    text: str | None


def utc_today() -> dt.date:
    """Today's date in UTC, the time zone of every stored event."""
    return dt.datetime.now(dt.UTC).date()


def period_bounds(picked: tuple[dt.date, ...]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Start and exclusive end (UTC) of the picked days; a half-picked range is that one day."""
    if not picked:
        return None, None
    first, last = picked[0], picked[-1]
    start = dt.datetime.combine(first, dt.time())
    return start, dt.datetime.combine(last, dt.time()) + dt.timedelta(days=1)


def record_export(workspace: Workspace, user_email: str, rows: int) -> None:
    """Record that the filtered events were downloaded (download button callback)."""
    record_event(workspace, "export", "audit_csv", user_email=user_email, detail={"rows": rows})


def show_filters(workspace: Workspace) -> AuditFilters | None:
    """The filter widgets; None (after explaining why) when the trail cannot be read."""
    try:
        values = audit_filter_values(workspace)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, "read the audit trail")
        return None
    today = utc_today()
    period, actor, action, entity = st.columns(4)
    picked = period.date_input(
        "Occurred between (UTC)", value=(today - dt.timedelta(days=DEFAULT_DAYS), today),
        key="audit_period", help="Both days included.",
    )
    since, until = period_bounds(tuple(picked))
    return AuditFilters(
        since=since,
        until=until,
        actor=actor.selectbox("Actor", values["actor"], index=None, placeholder="Anyone",
                              key="audit_actor"),
        action=action.selectbox("Action", values["action"], index=None,
                                placeholder="Any action", key="audit_action"),
        entity=entity.selectbox("Entity", values["entity"], index=None,
                                placeholder="Any entity", key="audit_entity"),
        text=st.text_input("Search", key="audit_text",
                           placeholder="Text in the id, reason, before or after values").strip()
        or None,
    )


def show_events(workspace: Workspace, user: User, events: pd.DataFrame) -> None:
    """The filtered events as a table, with the CSV download."""
    shown = len(events)
    if shown >= ROW_LIMIT:
        st.caption(f"The newest {shown:,} matching events; narrow the filters to see older ones.")
    else:
        st.caption(f"{shown:,} matching events, newest first.")
    if events.empty:
        st.info("No audit events match these filters. Widen the dates or clear a filter.")
        return
    st.dataframe(events[list(SHOWN_COLUMNS)], hide_index=True, column_config=EVENT_COLUMNS)
    if allowed(user, Action.EXPORT_AUDIT):
        st.download_button(
            "Download these events (CSV)", data=audit_export_csv(workspace, user, events),
            file_name=f"audit-{workspace.name}-{utc_today():%Y%m%d}.csv", mime="text/csv",
            on_click=record_export, args=(workspace, user.email, shown),
            icon=":material/download:", key="audit_download",
            help="Every column, including each event's hash and the hash before it, so the "
            "chain can be checked outside RevPlan.",
        )


def show_verification(workspace: Workspace) -> None:
    """Recompute the whole chain on request and say whether it is intact."""
    st.subheader("Chain integrity")
    st.caption("Each event carries the SHA-256 of the event before it. Verifying recomputes "
               "every hash, so a changed, removed or reordered event is found.")
    if not st.button("Verify chain", icon=":material/verified_user:", key="audit_verify"):
        return
    try:
        with st.spinner("Recomputing the hash of every event…"):
            result = verify_chain(workspace)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, "verify the audit chain")
        return
    if result.ok:
        st.success(result.to_text(), icon=":material/verified:")
    else:
        st.error(f"{result.to_text()}. Events from there on cannot be trusted: the workspace "
                 "file was changed outside RevPlan. Restore it from a backup and find out who "
                 "had access to the file.", icon=":material/gpp_bad:")


def main() -> None:
    """Draw the Audit trail page."""
    user = require_page("audit")
    workspace = current_workspace()
    st.title("Audit trail")
    st.caption("Every change to access, imports and plans, with who made it, in which role, "
               "why, and the values before and after. Times are UTC.")
    filters = show_filters(workspace)
    if filters is None:
        return
    try:
        events = audit_events(workspace, user, filters.since, filters.until, filters.actor,
                              filters.action, filters.entity, filters.text, limit=ROW_LIMIT)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, "read the audit trail")
        return
    show_events(workspace, user, events)
    show_verification(workspace)


main()
