"""SQL of the inbox and of model recommendations: risk alerts, their resolution, attribution."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

DEAL_RISK = "deal_risk"
OPPORTUNITY = "opportunity"
SETTING_DEFAULTS = {
    "risk_alert_min_amount_cents": "5000000",
    "risk_alert_max_win_probability": "0.25",
}


def alert_thresholds(cur: duckdb.DuckDBPyConnection) -> tuple[int, float]:
    """The workspace's minimum amount (cents) and maximum win probability for risk alerts."""
    rows = dict(cur.execute(
        "SELECT key, value FROM workspace_settings WHERE key IN (?, ?)",
        list(SETTING_DEFAULTS),
    ).fetchall())
    values = {**SETTING_DEFAULTS, **rows}
    return (int(values["risk_alert_min_amount_cents"]),
            float(values["risk_alert_max_win_probability"]))


ALERT_LOSS_PERCENTILE = 0.9
"""Without `risk_alert_min_expected_loss_cents`, the threshold is this quantile of the expected
loss of scored open deals."""
DEFAULT_MAX_ALERTS_PER_WEEK = 5


def alert_budget(cur: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The minimum expected loss (cents) of an alert and the most new alerts one assignee
    gets in 7 days: the settings `risk_alert_min_expected_loss_cents` and
    `risk_alert_max_per_week`, or the defaults (the 90th percentile of the expected loss,
    (1 - win probability) x amount, of the open deals scored by the active win model; 5)."""
    rows = dict(cur.execute(
        "SELECT key, value FROM workspace_settings WHERE key IN (?, ?)",
        ["risk_alert_min_expected_loss_cents", "risk_alert_max_per_week"],
    ).fetchall())
    try:
        per_week = max(int(rows["risk_alert_max_per_week"]), 0)
    except (KeyError, ValueError):
        per_week = DEFAULT_MAX_ALERTS_PER_WEEK
    try:
        return max(int(rows["risk_alert_min_expected_loss_cents"]), 0), per_week
    except (KeyError, ValueError):
        pass
    row = cur.execute(
        """SELECT quantile_cont((1 - s.win_probability) * o.amount_cents, ?)
           FROM deal_scores s
           JOIN model_versions v ON v.model_id = s.model_id AND v.is_active
                                 AND v.target = 'win'
           JOIN opportunities o ON o.opportunity_id = s.opportunity_id AND o.status = 'open'
           WHERE o.amount_cents IS NOT NULL""",
        [ALERT_LOSS_PERCENTILE],
    ).fetchone()
    return (0 if row is None or row[0] is None else round(row[0])), per_week


def alerts_since(cur: duckdb.DuckDBPyConnection, since: dt.datetime) -> dict[str, int]:
    """How many risk alerts each assignee (rep id, else email) was sent since a moment."""
    return dict(cur.execute(
        """SELECT coalesce(assignee_rep_id, lower(assignee_email)) AS assignee, count(*)
           FROM inbox_items WHERE kind = ? AND created_at >= ? GROUP BY ALL""",
        [DEAL_RISK, since],
    ).fetchall())


def risky_deals_without_open_item(
    cur: duckdb.DuckDBPyConnection, min_amount_cents: int, max_win_probability: float
) -> pd.DataFrame:
    """Open deals scored by the active win model at or over the amount and at or under the
    probability threshold, with no open risk item yet, with their owner's manager and their
    expected loss ((1 - win probability) x amount, cents), largest expected loss first."""
    return cur.execute(
        """SELECT o.opportunity_id, coalesce(o.name, o.opportunity_id) AS name,
                  a.name AS account_name, o.owner_id,
                  r.name AS owner_name, r.email AS owner_email, r.manager_id,
                  m.name AS manager_name, m.email AS manager_email, o.stage,
                  o.amount_cents, o.close_date, s.model_id, s.win_probability, s.reasons_json,
                  CAST(round((1 - s.win_probability) * o.amount_cents) AS BIGINT)
                      AS expected_loss_cents
           FROM deal_scores s
           JOIN model_versions v ON v.model_id = s.model_id AND v.is_active
                                 AND v.target = 'win'
           JOIN opportunities o ON o.opportunity_id = s.opportunity_id AND o.status = 'open'
           LEFT JOIN accounts a ON a.account_id = o.account_id
           LEFT JOIN reps r ON r.rep_id = o.owner_id
           LEFT JOIN reps m ON m.rep_id = r.manager_id
           WHERE o.amount_cents >= ? AND s.win_probability <= ?
             AND NOT EXISTS (
                 SELECT 1 FROM inbox_items i
                 WHERE i.kind = ? AND i.entity = ? AND i.entity_id = o.opportunity_id
                   AND i.status = 'open')
           ORDER BY expected_loss_cents DESC, o.amount_cents DESC, o.opportunity_id""",
        [min_amount_cents, max_win_probability, DEAL_RISK, OPPORTUNITY],
    ).df()


def insert_recommendation(
    cur: duckdb.DuckDBPyConnection, model_id: str | None, opportunity_id: str, kind: str,
    text: str, shown_to: str | None, shown_at: dt.datetime,
) -> int:
    """Log a recommendation shown to someone; returns its id."""
    row = cur.execute(
        """INSERT INTO recommendations (model_id, opportunity_id, kind, text, shown_to, shown_at)
           VALUES (?, ?, ?, ?, ?, ?) RETURNING recommendation_id""",
        [model_id, opportunity_id, kind, text, shown_to, shown_at],
    ).fetchone()
    return int(row[0])


def insert_item(
    cur: duckdb.DuckDBPyConnection, kind: str, entity: str, entity_id: str,
    assignee_rep_id: str | None, assignee_email: str | None, created_at: dt.datetime,
    title: str, detail_json: str,
) -> int:
    """Create an open inbox item; returns its id."""
    row = cur.execute(
        """INSERT INTO inbox_items (kind, entity, entity_id, assignee_rep_id, assignee_email,
                                    created_at, status, title, detail_json)
           VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?) RETURNING item_id""",
        [kind, entity, entity_id, assignee_rep_id, assignee_email, created_at, title,
         detail_json],
    ).fetchone()
    return int(row[0])


ITEM_COLUMNS = """i.item_id, i.kind, i.entity, i.entity_id, i.assignee_rep_id, i.assignee_email,
                  i.created_at, i.status, i.title, i.detail_json, i.resolved_at, i.resolved_by,
                  r.recommendation_id, r.kind AS recommendation_kind,
                  r.text AS recommendation, r.action, r.outcome"""
RECOMMENDATION_JOIN = """LEFT JOIN recommendations r
           ON r.recommendation_id = TRY_CAST(
               json_extract_string(i.detail_json, '$.recommendation_id') AS BIGINT)"""


def items_for(cur: duckdb.DuckDBPyConnection, email: str, rep_id: str | None) -> pd.DataFrame:
    """Items addressed to a person (by email, or by their CRM rep id), newest first, with the
    team of the deal owner named in the item (`owner_team`)."""
    return cur.execute(
        f"""SELECT {ITEM_COLUMNS}, owner.team AS owner_team
            FROM inbox_items i {RECOMMENDATION_JOIN}
            LEFT JOIN reps owner
                ON owner.rep_id = json_extract_string(i.detail_json, '$.owner_id')
            WHERE lower(i.assignee_email) = lower(?)
               OR (CAST(? AS VARCHAR) IS NOT NULL AND i.assignee_rep_id = ?)
            ORDER BY i.status = 'open' DESC, i.created_at DESC, i.item_id DESC""",
        [email, rep_id, rep_id],
    ).df()


def item(cur: duckdb.DuckDBPyConnection, item_id: int) -> dict | None:
    """One inbox item with its recommendation, as a dict, or None."""
    cur.execute(
        f"SELECT {ITEM_COLUMNS} FROM inbox_items i {RECOMMENDATION_JOIN} WHERE i.item_id = ?",
        [item_id],
    )
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def resolve_item(
    cur: duckdb.DuckDBPyConnection, item_id: int, status: str, resolved_at: dt.datetime,
    resolved_by: str, detail_json: str,
) -> None:
    """Close an open item as acted or dismissed."""
    cur.execute(
        """UPDATE inbox_items SET status = ?, resolved_at = ?, resolved_by = ?, detail_json = ?
           WHERE item_id = ? AND status = 'open'""",
        [status, resolved_at, resolved_by, detail_json, item_id],
    )


def record_action(
    cur: duckdb.DuckDBPyConnection, recommendation_id: int, action: str,
    action_at: dt.datetime, action_by: str,
) -> None:
    """Record what the person shown a recommendation did with it."""
    cur.execute(
        """UPDATE recommendations SET action = ?, action_at = ?, action_by = ?
           WHERE recommendation_id = ?""",
        [action, action_at, action_by, recommendation_id],
    )


def refresh_outcomes(cur: duckdb.DuckDBPyConnection) -> int:
    """Copy each recommended deal's current status into the recommendation's outcome; returns
    how many outcomes changed."""
    changed = cur.execute(
        """UPDATE recommendations SET outcome = o.status
           FROM opportunities o
           WHERE o.opportunity_id = recommendations.opportunity_id
             AND recommendations.outcome IS DISTINCT FROM o.status
           RETURNING recommendations.recommendation_id"""
    ).fetchall()
    return len(changed)


def attribution(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per recommendation kind: shown, accepted, overridden, pending, and the outcomes of the
    closed deals behind accepted and overridden recommendations."""
    return cur.execute(
        """SELECT kind,
                  count(*) AS shown,
                  count(*) FILTER (WHERE action = 'accepted') AS accepted,
                  count(*) FILTER (WHERE action = 'overridden') AS overridden,
                  count(*) FILTER (WHERE action IS NULL) AS pending,
                  count(*) FILTER (WHERE action = 'accepted' AND outcome IN ('won', 'lost'))
                      AS accepted_closed,
                  count(*) FILTER (WHERE action = 'accepted' AND outcome = 'won') AS accepted_won,
                  count(*) FILTER (WHERE action = 'overridden' AND outcome IN ('won', 'lost'))
                      AS overridden_closed,
                  count(*) FILTER (WHERE action = 'overridden' AND outcome = 'won')
                      AS overridden_won
           FROM recommendations GROUP BY kind ORDER BY shown DESC, kind"""
    ).df()
