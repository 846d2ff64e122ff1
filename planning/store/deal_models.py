"""SQL of deal risk models: versions with their cards, activation, and per-deal scores."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd


def insert_model_version(cur: duckdb.DuckDBPyConnection, row: dict[str, object]) -> None:
    """Store a trained model with its card; it becomes the active one for its target."""
    cur.execute("UPDATE model_versions SET is_active = FALSE WHERE target = ?", [row["target"]])
    cur.execute(
        """INSERT INTO model_versions (model_id, target, trained_at, trained_by, train_from,
               train_to, test_from, test_to, rows_train, rows_test, features, metrics_json,
               reliability_json, model_blob, is_active)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE)""",
        [row["model_id"], row["target"], row["trained_at"], row["trained_by"],
         row["train_from"], row["train_to"], row["test_from"], row["test_to"],
         row["rows_train"], row["rows_test"], row["features"], row["metrics_json"],
         row["reliability_json"], row["model_blob"]],
    )


def deactivate_models(cur: duckdb.DuckDBPyConnection, target: str) -> None:
    """Leave no model of a target active (e.g. slip risk when there is nothing to learn it
    from)."""
    cur.execute("UPDATE model_versions SET is_active = FALSE WHERE target = ?", [target])


def model_exists(cur: duckdb.DuckDBPyConnection, model_id: str) -> bool:
    """Whether a model version with this id is stored."""
    return cur.execute("SELECT count(*) FROM model_versions WHERE model_id = ?",
                       [model_id]).fetchone()[0] > 0


def active_model(cur: duckdb.DuckDBPyConnection, target: str) -> tuple[str, bytes] | None:
    """The active model's id and serialised form for a target, if any."""
    row = cur.execute(
        "SELECT model_id, model_blob FROM model_versions WHERE target = ? AND is_active",
        [target],
    ).fetchone()
    return None if row is None else (row[0], bytes(row[1]))


def model_cards(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every model version's card (without the serialised model), newest first."""
    return cur.execute(
        """SELECT model_id, target, trained_at, trained_by, train_from, train_to, test_from,
                  test_to, rows_train, rows_test, features, metrics_json, reliability_json,
                  is_active
           FROM model_versions ORDER BY trained_at DESC, model_id"""
    ).df()


def replace_scores(cur: duckdb.DuckDBPyConnection, model_id: str, scores: pd.DataFrame) -> None:
    """Replace a model's scores with a new set (columns as in deal_scores)."""
    cur.execute("DELETE FROM deal_scores WHERE model_id = ?", [model_id])
    cur.register("new_scores", scores)
    try:
        cur.execute(
            """INSERT INTO deal_scores BY NAME
               SELECT model_id, opportunity_id, scored_at, win_probability, slip_probability,
                      reasons_json FROM new_scores"""
        )
    finally:
        cur.unregister("new_scores")


def current_scores(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Scores of the active win model for the deals open now."""
    return cur.execute(
        """SELECT s.opportunity_id, s.model_id, s.scored_at, s.win_probability,
                  s.slip_probability, s.reasons_json
           FROM deal_scores s JOIN model_versions m
             ON m.model_id = s.model_id AND m.is_active AND m.target = 'win'
           JOIN opportunities o ON o.opportunity_id = s.opportunity_id AND o.status = 'open'"""
    ).df()


def latest_activity_time(cur: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """The newest recorded change or activity: the moment the data describes."""
    row = cur.execute(
        """SELECT greatest((SELECT max(changed_at) FROM opportunity_history),
                           (SELECT max(occurred_at) FROM activities))"""
    ).fetchone()
    return row[0] if row else None


def scored_open_deals(
    cur: duckdb.DuckDBPyConnection, owners: list[str] | None
) -> pd.DataFrame:
    """Open deals (of the given owners, or all) with account, owner, team and current scores."""
    scope = "TRUE" if owners is None else "o.owner_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params: list[object] = [] if owners is None else [list(owners)]
    return cur.execute(
        f"""SELECT o.opportunity_id, coalesce(o.name, o.opportunity_id) AS name,
                   o.account_id, a.name AS account_name,
                   a.segment, o.owner_id, r.name AS owner_name, r.team, r.manager_id,
                   o.type, o.product_id, o.stage, o.amount_cents, o.close_date, o.created_at,
                   o.forecast_category, o.next_step, o.next_step_date, o.last_activity_date,
                   s.model_id, s.scored_at, s.win_probability, s.slip_probability,
                   s.reasons_json
            FROM opportunities o
            LEFT JOIN accounts a ON a.account_id = o.account_id
            LEFT JOIN reps r ON r.rep_id = o.owner_id
            LEFT JOIN (
                SELECT d.* FROM deal_scores d JOIN model_versions m
                  ON m.model_id = d.model_id AND m.is_active AND m.target = 'win'
            ) s ON s.opportunity_id = o.opportunity_id
            WHERE o.status = 'open' AND {scope}
            ORDER BY o.amount_cents DESC NULLS LAST, o.opportunity_id""",
        params,
    ).df()

