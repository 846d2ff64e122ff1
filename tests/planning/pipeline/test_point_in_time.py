"""Point-in-time correctness: a snapshot's features use nothing that happened after it.

The test builds features for deals as of a cut-off, then writes a whole "future" into the
workspace the way a CRM would record it (later stage, amount, close-date, next-step and
forecast changes with their history rows, deals closing, new activities, new deals), and
recomputes: every feature of every snapshot at or before the cut-off must be unchanged. The
same future must change features of a later snapshot, which shows the test can fail.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pandas.testing as pdt

from planning.pipeline import model as dm
from planning.store import Workspace
from planning.store import pipeline_features as pf
from tests.conftest import DEMO_AS_OF

CUTOFF = dt.datetime.combine(DEMO_AS_OF - dt.timedelta(days=90), dt.time(12))
FUTURE = dt.datetime.combine(DEMO_AS_OF + dt.timedelta(days=2), dt.time(12))
"""When the written future happens: after every recorded change, as a CRM would append it."""
LATER = FUTURE + dt.timedelta(days=3)


def _snapshots(workspace: Workspace, moment: dt.datetime) -> pd.DataFrame:
    """Deals open at `moment` (created before, not closed by then), snapshotted at it."""
    rows = workspace.read(lambda cur: cur.execute(
        """SELECT opportunity_id, CAST(? AS TIMESTAMP) AS moment FROM opportunities
           WHERE created_at < ? AND (closed_at IS NULL OR closed_at > ?)
           ORDER BY opportunity_id""", [moment, moment, moment]).df())
    rows.insert(0, "snapshot_id", range(1, len(rows) + 1))
    return rows


def _features(workspace: Workspace, snapshots: pd.DataFrame) -> pd.DataFrame:
    facts = workspace.read(lambda cur: pf.snapshot_features(cur, snapshots))
    return pd.concat([facts, dm.model_matrix(facts, 1)], axis=1)


def _write_the_future(workspace: Workspace) -> None:
    """Everything a CRM would record after the cut-off, with history for every field change."""
    def future(cur) -> None:
        cur.execute("CREATE TEMP TABLE moved AS SELECT * FROM opportunities "
                    "WHERE created_at < ? AND (closed_at IS NULL OR closed_at > ?)",
                    [CUTOFF, CUTOFF])
        at = FUTURE
        cur.execute(
            """INSERT INTO opportunity_history
               SELECT 'future-' || f.field || '-' || m.opportunity_id, m.opportunity_id, ?,
                      f.field, f.old_value, f.new_value, 'tester', 'test', now()
               FROM moved m, LATERAL (VALUES
                   ('stage', m.stage, 'Closed Lost'),
                   ('amount', CAST(m.amount_cents AS VARCHAR), '1'),
                   ('close_date', CAST(m.close_date AS VARCHAR), '2031-01-01'),
                   ('forecast_category', m.forecast_category, 'Omitted'),
                   ('next_step', m.next_step, 'A future step'),
                   ('next_step_date', CAST(m.next_step_date AS VARCHAR), '2031-01-01')
               ) f(field, old_value, new_value)""",
            [at],
        )
        cur.execute(
            """UPDATE opportunities SET stage = 'Closed Lost', status = 'lost', amount_cents = 1,
                   close_date = DATE '2031-01-01', forecast_category = 'Omitted',
                   next_step = 'A future step', next_step_date = DATE '2031-01-01',
                   closed_at = ?, last_activity_date = DATE '2031-01-01'
               WHERE opportunity_id IN (SELECT opportunity_id FROM moved)""",
            [at],
        )
        cur.execute(
            """INSERT INTO activities
               SELECT 'future-act-' || m.opportunity_id || '-' || CAST(i AS VARCHAR),
                      m.opportunity_id, m.account_id, m.owner_id, 'call',
                      ? + i * INTERVAL 1 SECOND, 'test', now()
               FROM moved m, range(5) r(i)""",
            [FUTURE - dt.timedelta(hours=1)],
        )
        cur.execute(
            """INSERT INTO opportunities (
                   opportunity_id, account_id, owner_id, name, type, product_id, stage, status,
                   amount_cents, close_date, created_at, closed_at, forecast_category,
                   next_step, next_step_date, last_activity_date, source, loaded_at)
               SELECT 'future-opp-' || opportunity_id, account_id, owner_id, name, type,
                      product_id, 'Closed Won', 'won', amount_cents * 50, close_date,
                      CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), 'Closed', NULL, NULL, NULL,
                      'test', now()
               FROM moved""",
            [CUTOFF + dt.timedelta(hours=1), CUTOFF + dt.timedelta(hours=2)],
        )

    workspace.write(future)


def test_features_at_a_moment_ignore_everything_after_it(demo_copy: Workspace) -> None:
    at_cutoff = _snapshots(demo_copy, CUTOFF)
    assert len(at_cutoff) > 100
    later = _snapshots(demo_copy, LATER)
    before = _features(demo_copy, at_cutoff)
    later_before = _features(demo_copy, later)

    _write_the_future(demo_copy)

    after = _features(demo_copy, at_cutoff)
    pdt.assert_frame_equal(before, after, check_like=False)

    later_after = _features(demo_copy, later)
    changed = [c for c in ("stage", "amount_cents_at", "pushes", "activities_14d",
                           "owner_closed_365d", "next_step", "forecast_category")
               if not later_before[c].equals(later_after[c])]
    assert len(changed) == 7, f"the future should show at a later moment; only {changed} did"


def test_training_snapshots_lie_strictly_inside_each_deal_life(demo_copy: Workspace) -> None:
    snaps = demo_copy.read(lambda cur: pf.training_snapshots(
        cur, 4, None, 3, dt.datetime.combine(DEMO_AS_OF, dt.time())))
    deals = demo_copy.read(lambda cur: cur.execute(
        "SELECT opportunity_id, created_at, closed_at FROM opportunities").df())
    joined = snaps.merge(deals, on="opportunity_id", suffixes=("", "_deal"))
    assert len(joined) == len(snaps) > 1_000
    assert (joined["moment"] > joined["created_at"]).all()
    assert (joined["moment"] < joined["closed_at_deal"]).all()
    assert joined.groupby("opportunity_id").size().max() <= 4
