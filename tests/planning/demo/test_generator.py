"""The demo company: deterministic, the promised sizes, real geography, learnable outcomes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.store.tables import row_counts, table_fingerprints
from planning.territory.workspace import workspace_territory
from tests.conftest import DEMO_AS_OF, DEMO_SEED


def _query(workspace: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    return workspace.read(lambda cur: cur.execute(sql, params or []).fetchall())


def test_same_seed_gives_the_same_rows(demo_data_dir: Path, tmp_path: Path) -> None:
    generate_demo_workspace(
        "demo", size=DEMO_SIZES["small"], seed=DEMO_SEED, as_of=DEMO_AS_OF, base=tmp_path
    )
    again = table_fingerprints(open_workspace("demo", base=tmp_path))
    close_all_workspaces()
    original = table_fingerprints(open_workspace("demo", base=demo_data_dir, read_only=True))
    close_all_workspaces()
    assert again == original
    assert all(again.values())


def test_another_seed_gives_other_rows(demo_data_dir: Path, tmp_path: Path) -> None:
    generate_demo_workspace(
        "other", size=DEMO_SIZES["small"], seed=DEMO_SEED + 1, as_of=DEMO_AS_OF, base=tmp_path
    )
    other = table_fingerprints(open_workspace("other", base=tmp_path))
    close_all_workspaces()
    original = table_fingerprints(open_workspace("demo", base=demo_data_dir, read_only=True))
    close_all_workspaces()
    assert other["opportunities"] != original["opportunities"]
    assert other["opportunity_history"] != original["opportunity_history"]
    assert other["geo_units"] == original["geo_units"]


def test_existing_workspace_is_not_overwritten(demo_copy: Workspace) -> None:
    from planning.errors import RevPlanError

    with pytest.raises(RevPlanError, match="already exists"):
        generate_demo_workspace("demo", size=DEMO_SIZES["small"], seed=1, as_of=DEMO_AS_OF)


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A medium demo workspace (about eight seconds to build)."""
    base = tmp_path_factory.mktemp("medium")
    generate_demo_workspace("medium", size=DEMO_SIZES["medium"], seed=3, as_of=DEMO_AS_OF,
                            base=base)
    close_all_workspaces()
    workspace = open_workspace("medium", base=base, read_only=True)
    yield workspace
    close_all_workspaces()


def test_medium_has_the_promised_shape(medium: Workspace) -> None:
    counts = row_counts(medium)
    assert counts["accounts"] == 6_000
    assert counts["opportunities"] == 40_000
    assert counts["opportunity_history"] >= 8 * 40_000
    for table in ("activities", "subscriptions", "usage", "tickets", "invoices", "products",
                  "price_books", "price_book_entries"):
        assert counts[table] > 0, table

    roles = dict(_query(medium, "SELECT role, count(*) FROM reps GROUP BY role"))
    assert roles == {"rep": 60, "manager": 8, "executive": 1}
    teams = _query(medium, """
        SELECT r.team, count(*) FROM reps r JOIN reps m ON r.manager_id = m.rep_id
        WHERE r.role = 'rep' AND m.role = 'manager' AND m.team = r.team GROUP BY r.team""")
    assert len(teams) == 8
    segments = {r[0] for r in _query(medium, "SELECT DISTINCT segment FROM reps WHERE role='rep'")}
    assert segments == {"SMB", "Mid-Market", "Enterprise"}
    ramping = _query(medium, "SELECT count(*) FROM reps WHERE role = 'rep' AND hire_date > ?",
                     [DEMO_AS_OF - dt.timedelta(days=365 // 2)])[0][0]
    assert ramping >= 3


def test_medium_covers_eight_closed_quarters_and_an_open_pipeline(medium: Workspace) -> None:
    quarters = _query(medium, """
        SELECT date_trunc('quarter', close_date) AS q, count(*) FROM opportunities
        WHERE status = 'won' AND close_date < date_trunc('quarter', CAST(? AS DATE))
          AND close_date >= date_trunc('quarter', CAST(? AS DATE)) - INTERVAL 24 MONTH
        GROUP BY q""", [DEMO_AS_OF, DEMO_AS_OF])
    assert len(quarters) == 8
    assert min(count for _, count in quarters) > 500
    open_rows = _query(medium, """
        SELECT count(*), min(created_at), count(*) FILTER (WHERE close_date < ?)
        FROM opportunities WHERE status = 'open'""", [DEMO_AS_OF])[0]
    assert open_rows[0] > 1_000
    assert open_rows[1] <= dt.datetime.combine(DEMO_AS_OF, dt.time())
    assert open_rows[2] > 0, "some open deals are past their close date"
    closed_after = _query(medium, "SELECT count(*) FROM opportunities WHERE closed_at > ?",
                          [dt.datetime.combine(DEMO_AS_OF, dt.time(23, 59))])[0][0]
    assert closed_after == 0


def test_accounts_sit_on_real_zip_codes_where_people_live(medium: Workspace) -> None:
    unmatched = _query(medium, """
        SELECT count(*) FROM accounts a LEFT JOIN geo_units g ON a.zip = g.unit_id
        WHERE g.unit_id IS NULL OR abs(a.lat - g.lat) > 1e-9 OR a.county IS DISTINCT FROM g.county
    """)[0][0]
    assert unmatched == 0
    by_state = dict(_query(medium, "SELECT state, count(*) FROM accounts GROUP BY state"))
    assert by_state["CA"] > by_state.get("WY", 0) * 10
    assert by_state["NY"] > by_state.get("VT", 0) * 5
    assert _query(medium, "SELECT count(*) FROM geo_units")[0][0] > 25_000


def test_history_replays_to_the_current_state(medium: Workspace) -> None:
    mismatches = _query(medium, """
        WITH last AS (
            SELECT opportunity_id, field, arg_max(new_value, changed_at) AS value
            FROM opportunity_history WHERE field IN ('stage', 'amount', 'close_date')
            GROUP BY ALL
        )
        SELECT count(*) FROM opportunities o JOIN last l USING (opportunity_id)
        WHERE (l.field = 'stage' AND l.value <> o.stage)
           OR (l.field = 'amount' AND CAST(l.value AS BIGINT) <> o.amount_cents)
           OR (l.field = 'close_date' AND CAST(l.value AS DATE) <> o.close_date)""")[0][0]
    assert mismatches == 0
    chained = _query(medium, """
        SELECT count(*) FROM (
            SELECT old_value, lag(new_value) OVER (PARTITION BY opportunity_id ORDER BY changed_at)
                   AS previous
            FROM opportunity_history WHERE field = 'stage')
        WHERE previous IS NOT NULL AND previous <> old_value""")[0][0]
    assert chained == 0
    pushed_and_sandbagged = _query(medium, """
        SELECT
          (SELECT count(DISTINCT opportunity_id) FROM opportunity_history
           WHERE field = 'close_date' AND CAST(new_value AS DATE) > CAST(old_value AS DATE)),
          (SELECT count(*) FROM opportunities o WHERE status = 'won' AND EXISTS (
               SELECT 1 FROM opportunity_history h WHERE h.opportunity_id = o.opportunity_id
               AND h.field = 'forecast_category' AND h.new_value = 'Closed'
               AND h.old_value IN ('Pipeline', 'Best Case')))""")[0]
    assert pushed_and_sandbagged[0] > 5_000
    assert pushed_and_sandbagged[1] > 1_000


def test_outcomes_depend_on_signals_known_before_the_close(medium: Workspace) -> None:
    rows = _query(medium, """
        WITH closed AS (
            SELECT o.opportunity_id, o.status = 'won' AS won, o.closed_at,
                   (SELECT count(*) FROM opportunity_history h
                    WHERE h.opportunity_id = o.opportunity_id AND h.field = 'close_date'
                      AND h.changed_at < o.closed_at - INTERVAL 1 DAY
                      AND CAST(h.new_value AS DATE) > CAST(h.old_value AS DATE)) AS pushes,
                   date_diff('day', (SELECT max(a.occurred_at) FROM activities a
                                     WHERE a.opportunity_id = o.opportunity_id
                                       AND a.occurred_at < o.closed_at - INTERVAL 1 DAY),
                             o.closed_at) AS quiet_days
            FROM opportunities o WHERE o.status <> 'open'
        )
        SELECT
          avg(won::INT) FILTER (WHERE pushes = 0), avg(won::INT) FILTER (WHERE pushes >= 2),
          avg(won::INT) FILTER (WHERE quiet_days <= 7),
          avg(won::INT) FILTER (WHERE quiet_days > 21 OR quiet_days IS NULL)
        FROM closed""")[0]
    no_push, pushed, busy, quiet = rows
    assert no_push > pushed + 0.05
    assert busy > quiet + 0.2


def balance_deviations(workspace: Workspace) -> np.ndarray:
    """Each rep's current workload against their target, as the territory page measures it
    (default measure, targets within segments): +0.3 is 30 % over target."""
    problem = workspace_territory(workspace).problem
    owned = problem.current >= 0
    load = np.bincount(problem.current[owned], weights=problem.workload[owned],
                       minlength=problem.rep_count)
    return load / problem.target - 1


def assert_books_look_real(deviation: np.ndarray) -> None:
    """Most reps within ±40 % of their target, none wildly off, and not balanced by a ruler."""
    assert np.mean(np.abs(deviation) <= 0.40) >= 0.75
    assert deviation.max() < 1.50
    assert deviation.min() > -1.0
    assert np.abs(deviation).max() > 0.10


def test_todays_medium_books_look_like_a_real_companys(medium: Workspace) -> None:
    assert_books_look_real(balance_deviations(medium))


def test_todays_books_look_like_a_real_companys(demo_data_dir: Path) -> None:
    assert_books_look_real(balance_deviations(
        open_workspace("demo", base=demo_data_dir, read_only=True)))
