"""Renewal rows and point-in-time features: past anniversaries with the right labels, and
nothing written after a moment reaches the features of an earlier renewal."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from planning.health import features as hf
from planning.store import Workspace


def _subscriptions() -> pd.DataFrame:
    return pd.DataFrame({
        "subscription_id": ["S1", "S2", "S3"], "account_id": ["A", "B", "C"],
        "product_id": ["P", "P", "P"],
        "start_date": [dt.date(2023, 3, 1), dt.date(2023, 6, 1), dt.date(2025, 1, 10)],
        "renewal_date": [dt.date(2025, 3, 1), dt.date(2026, 6, 1), dt.date(2026, 1, 10)],
        "seats": [10, 20, 30], "arr_cents": [100_000, 200_000, 300_000],
        "status": ["churned", "active", "active"],
        "account_name": ["a", "b", "c"], "segment": ["SMB"] * 3, "owner_id": ["R"] * 3,
        "owner_name": ["Rae"] * 3,
    })


def test_renewal_events_label_only_the_final_renewal_of_a_churned_subscription() -> None:
    events = hf.renewal_events(_subscriptions(), dt.datetime(2025, 12, 1))
    got = {(r.subscription_id, r.renewal_on.date(), r.churned, r.renewal_number)
           for r in events.itertuples()}
    assert got == {
        ("S1", dt.date(2024, 3, 1), 0, 1), ("S1", dt.date(2025, 3, 1), 1, 2),
        ("S2", dt.date(2024, 6, 1), 0, 1), ("S2", dt.date(2025, 6, 1), 0, 2),
    }  # S2's 2026 renewal is after the as-of date; S3 has not renewed yet


def test_next_renewal_is_the_first_anniversary_after_the_moment() -> None:
    upcoming = hf.next_renewals(_subscriptions(), dt.datetime(2025, 12, 1))
    assert dict(zip(upcoming["account_id"], upcoming["renewal_on"].dt.date, strict=True)) == {
        "B": dt.date(2026, 6, 1), "C": dt.date(2026, 1, 10)}
    assert upcoming.set_index("account_id").loc["B", "renewing_arr_cents"] == 200_000


def _write_future(workspace: Workspace, cutoff: dt.datetime) -> None:
    """Everything a CRM could record after `cutoff`: renewals and churn decided, new
    subscriptions, usage, tickets opened and closed, invoices issued and paid, activities,
    NPS answers."""
    day = cutoff.date()

    def write(cur) -> None:
        cur.execute("UPDATE subscriptions SET renewal_date = renewal_date + INTERVAL 1 YEAR "
                    "WHERE renewal_date > ? AND status = 'active' "
                    "AND hash(subscription_id) % 2 = 0", [day])
        cur.execute("UPDATE subscriptions SET status = 'churned' WHERE renewal_date > ? "
                    "AND status = 'active' AND hash(subscription_id) % 2 = 1", [day])
        cur.execute("""INSERT INTO subscriptions SELECT subscription_id || '-new', account_id,
                       product_id, ?::DATE + 3, ?::DATE + 368, seats * 5, arr_cents, 'active',
                       source, loaded_at FROM subscriptions""", [day, day])
        cur.execute("""INSERT INTO usage SELECT account_id, ?::DATE + INTERVAL 1 MONTH, 99999,
                       1, 'future', now() FROM (SELECT DISTINCT account_id FROM usage)""",
                    [day.replace(day=1)])
        cur.execute("UPDATE tickets SET closed_at = ?::TIMESTAMP + INTERVAL 1 DAY "
                    "WHERE closed_at IS NULL OR closed_at > ?", [cutoff, cutoff])
        cur.execute("""INSERT INTO tickets SELECT ticket_id || '-new', account_id,
                       ?::TIMESTAMP + INTERVAL 2 HOUR, NULL, 'urgent', 'open', 'future', now()
                       FROM tickets""", [cutoff])
        cur.execute("UPDATE invoices SET paid_on = ?::DATE + 5, status = 'paid' "
                    "WHERE paid_on IS NULL OR paid_on > ?", [day, day])
        cur.execute("""INSERT INTO invoices SELECT invoice_id || '-new', account_id,
                       subscription_id, ?::DATE + 1, ?::DATE + 2, NULL, amount_cents,
                       'overdue', 'future', now() FROM invoices""", [day, day])
        cur.execute("""INSERT INTO activities SELECT activity_id || '-new', opportunity_id,
                       account_id, owner_id, kind, ?::TIMESTAMP + INTERVAL 1 HOUR, 'future',
                       now() FROM activities""", [cutoff])
        cur.execute("""INSERT INTO nps_responses SELECT account_id, ?::TIMESTAMP
                       + INTERVAL 1 HOUR, 0, 'future', now() FROM accounts""", [cutoff])

    workspace.write(write)


def test_a_future_written_into_the_workspace_changes_no_feature_of_an_earlier_renewal(
        demo_copy: Workspace) -> None:
    cutoff = dt.datetime(2026, 6, 1)
    windows = hf.FeatureWindows()
    before = hf.training_rows(demo_copy, cutoff, windows)
    assert len(before.rows) > 100 and before.rows["churned"].sum() > 10
    _write_future(demo_copy, cutoff)
    after = hf.training_rows(demo_copy, cutoff, windows)
    key = ["subscription_id", "renewal_on"]
    left = before.matrix.assign(**before.rows[key]).sort_values(key).reset_index(drop=True)
    right = after.matrix.assign(**after.rows[key]).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)
    assert (before.rows.sort_values(key)["churned"].to_numpy()
            == after.rows.sort_values(key)["churned"].to_numpy()).all()
    # the same future does reach renewals after the cutoff
    later = hf.training_rows(demo_copy, cutoff + dt.timedelta(days=400), windows)
    assert later.matrix["nps"].notna().any()


def test_features_are_taken_the_horizon_before_each_renewal(demo_copy: Workspace) -> None:
    rows = hf.training_rows(demo_copy, dt.datetime(2026, 11, 17), hf.FeatureWindows(
        horizon_days=30))
    gap = (pd.to_datetime(rows.rows["renewal_on"]) - rows.moments).dt.days
    assert set(gap) == {30}
    assert np.isfinite(rows.matrix["seat_utilisation"]).mean() > 0.9
