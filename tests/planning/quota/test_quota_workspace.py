"""Quota inputs read from the demo workspace, checked against direct SQL; saved scenarios and
audited overrides."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import numpy as np
import pytest

from planning import audit
from planning.access.policy import system_principal
from planning.access.roles import Role
from planning.errors import RevPlanError
from planning.quota.model import QuotaScenario, solve_quotas
from planning.quota.workspace import (
    productive_share,
    quota_inputs,
    record_override,
    save_quota_scenario,
    saved_quota_scenarios,
)
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import demo_user


def query(workspace: Workspace, sql: str, params: list | None = None) -> list[tuple]:
    return workspace.read(lambda cur: cur.execute(sql, params or []).fetchall())


def test_quota_inputs_match_the_workspace(demo_copy: Workspace) -> None:
    inputs = quota_inputs(demo_copy, today=DEMO_AS_OF)

    assert inputs.fiscal_year == 2027
    assert [q.label for q in inputs.quarters] == [f"FY2027 Q{k}" for k in range(1, 5)]
    assert inputs.quarters[0].start == dt.date(2027, 1, 1)
    assert inputs.quarters[-1].end == dt.date(2027, 12, 31)
    assert len(inputs.seasonality) == 4
    assert sum(inputs.seasonality) == pytest.approx(1.0, abs=1e-12)
    assert all(s > 0 for s in inputs.seasonality)

    reps = inputs.reps
    (count,), = query(demo_copy, "SELECT count(*) FROM reps WHERE is_active AND role = 'rep'")
    assert count > 0 and len(reps) == count
    active = [r for (r,) in query(demo_copy, "SELECT rep_id FROM reps "
                                  "WHERE is_active AND role = 'rep' ORDER BY rep_id")]
    assert reps["rep_id"].tolist() == active

    # the trailing year ends on `today` (before the fiscal year starts)
    end = min(DEMO_AS_OF, inputs.quarters[0].start - dt.timedelta(days=1))
    start = end - dt.timedelta(days=364)
    won = dict(query(demo_copy, "SELECT owner_id, sum(amount_cents) FROM opportunities "
                     "WHERE status = 'won' AND close_date BETWEEN ? AND ? GROUP BY owner_id",
                     [start, end]))
    history = dict(zip(reps["rep_id"], reps["history"], strict=True))
    for rep in active:
        assert history[rep] * 100 == pytest.approx(won.get(rep, 0), abs=0.5), rep
    assert sum(history.values()) > 0
    prior = dict(query(demo_copy, "SELECT owner_id, sum(amount_cents) FROM opportunities "
                       "WHERE status = 'won' AND close_date BETWEEN ? AND ? GROUP BY owner_id",
                       [start - dt.timedelta(days=365), start - dt.timedelta(days=1)]))
    for rep, value in zip(reps["rep_id"], reps["prior_history"], strict=True):
        assert value * 100 == pytest.approx(prior.get(rep, 0), abs=0.5), rep

    open_cents = dict(query(demo_copy, "SELECT owner_id, sum(amount_cents) FROM opportunities "
                            "WHERE status = 'open' GROUP BY owner_id"))
    book = dict(query(demo_copy, "SELECT owner_id, sum(annual_revenue_cents) FROM accounts "
                      "GROUP BY owner_id"))
    for rep, pipeline, potential in zip(reps["rep_id"], reps["pipeline"], reps["potential"],
                                        strict=True):
        assert pipeline * 100 == pytest.approx(open_cents.get(rep, 0), abs=0.5), rep
        assert potential * 100 == pytest.approx(book.get(rep, 0), abs=0.5), rep

    # last year's quotas are those recorded for fiscal 2026 (none recorded: NaN)
    quotas = dict(query(demo_copy, "SELECT rep_id, quota_cents FROM rep_quotas "
                        "WHERE fiscal_year = 2026"))
    quotas_2025 = dict(query(demo_copy, "SELECT rep_id, quota_cents FROM rep_quotas "
                             "WHERE fiscal_year = 2025"))
    assert quotas and quotas_2025
    missing = 0
    for rep, last in zip(reps["rep_id"], reps["last_quota"], strict=True):
        if rep in quotas:
            assert last * 100 == pytest.approx(quotas[rep], abs=0.5), rep
        else:
            missing += 1
            assert math.isnan(last), rep
    assert missing == len(set(active) - set(quotas))
    assert any(quotas[rep] != quotas_2025.get(rep) for rep in quotas)

    assert ((reps["ramp"] >= 0) & (reps["ramp"] <= reps["capacity"] + 1e-12)).all()
    assert 0 < inputs.sigma < 3
    assert 0 < inputs.first_year_ramp <= 1
    assert inputs.potential_source == "current book (account revenue)"


def test_seasonality_is_the_share_of_wins_by_quarter_over_two_years(
        demo_copy: Workspace) -> None:
    inputs = quota_inputs(demo_copy, today=DEMO_AS_OF)
    rows = dict(query(demo_copy, "SELECT quarter(close_date), sum(amount_cents) "
                      "FROM opportunities WHERE status = 'won' "
                      "AND close_date BETWEEN DATE '2025-01-01' AND DATE '2026-12-31' "
                      "GROUP BY 1"))
    by_quarter = np.array([rows.get(k, 0) for k in range(1, 5)], dtype=float)
    assert np.allclose(inputs.seasonality, by_quarter / by_quarter.sum(), atol=1e-12)


def test_an_explicit_fiscal_year_reads_the_year_before_its_quotas(demo_copy: Workspace) -> None:
    inputs = quota_inputs(demo_copy, 2026, today=DEMO_AS_OF)
    assert inputs.fiscal_year == 2026
    assert inputs.quarters[0].start == dt.date(2026, 1, 1)
    quotas = dict(query(demo_copy, "SELECT rep_id, quota_cents FROM rep_quotas "
                        "WHERE fiscal_year = 2025"))
    for rep, last in zip(inputs.reps["rep_id"], inputs.reps["last_quota"], strict=True):
        if rep in quotas:
            assert last * 100 == pytest.approx(quotas[rep], abs=0.5)
        else:
            assert math.isnan(last)


def test_an_unknown_territory_scenario_is_refused(demo_copy: Workspace) -> None:
    with pytest.raises(RevPlanError, match="No saved territory scenario 'no-such-plan'"):
        quota_inputs(demo_copy, today=DEMO_AS_OF, territory_scenario="no-such-plan")


def test_productive_share_limits() -> None:
    first = dt.date(2027, 1, 1)
    assert productive_share(None, 6, 0.5, first) == 0.5
    assert productive_share(dt.date(2020, 1, 1), 6, 1.0, first) == 1.0
    assert productive_share(dt.date(2028, 6, 1), 6, 1.0, first) == 0.0
    assert productive_share(dt.date(2026, 12, 1), 0, 1.0, first) == 1.0
    # hired halfway through the year with no ramp: productive about half of it
    assert productive_share(dt.date(2027, 7, 1), 0, 1.0, first) == pytest.approx(0.5, abs=0.01)
    # ramping linearly over 12 months from the first day: about half productive on average
    assert productive_share(first, 12, 1.0, first) == pytest.approx(0.5, abs=0.02)


# --- saving and overrides -------------------------------------------------------------------

def solved(workspace: Workspace):
    inputs = quota_inputs(workspace, today=DEMO_AS_OF)
    scenario = QuotaScenario(target_cents=4_000_000_000, over_assign=0.1, max_increase=0.5,
                             seasonality=inputs.seasonality)
    return inputs, solve_quotas(inputs.reps, scenario)


def test_an_override_beyond_a_demo_reps_cap_names_them_with_compact_money(
        demo_copy: Workspace) -> None:
    inputs = quota_inputs(demo_copy, today=DEMO_AS_OF)
    capped = inputs.reps[inputs.reps["last_quota"] > 0].iloc[0]
    scenario = QuotaScenario(target_cents=4_000_000_000, max_increase=0.5,
                             overrides={capped["rep_id"]: 2_079_000_00},
                             seasonality=inputs.seasonality)
    with pytest.raises(RevPlanError) as caught:
        solve_quotas(inputs.reps, scenario)
    message = str(caught.value)
    assert f"Override of $2.08M for {capped['name']} ({capped['rep_id']}) is outside" in message
    assert re.search(r"\(\$0–\$[0-9.]+[KM]\)", message), message
    assert ".00" not in message and "2,079,000" not in message


def test_save_stores_the_scenario_its_allocation_and_an_audit_event(
        demo_copy: Workspace) -> None:
    user = demo_user(demo_copy, Role.REVOPS)
    inputs, result = solved(demo_copy)
    assert result.total_cents == 4_400_000_000
    scenario_id = save_quota_scenario(demo_copy, inputs, result, "  FY27 plan  ",
                                      user=user)

    (row,) = query(demo_copy, "SELECT name, fiscal_year, created_by, total_cents, parameters "
                   "FROM quota_scenarios WHERE scenario_id = ?", [scenario_id])
    name, fiscal_year, created_by, total_cents, parameters = row
    assert (name, fiscal_year, created_by) == ("FY27 plan", 2027, user.email)
    assert total_cents == result.total_cents == 4_400_000_000
    assert json.loads(parameters)["max_increase"] == 0.5

    stored = query(demo_copy, "SELECT rep_id, quota_cents, q1_cents + q2_cents + q3_cents + "
                   "q4_cents, fair_cents FROM quota_allocations WHERE scenario_id = ? "
                   "ORDER BY rep_id", [scenario_id])
    assert len(stored) == len(inputs.reps) == len(result.allocation)
    expected = result.allocation.sort_values("rep_id")
    assert [r[0] for r in stored] == expected["rep_id"].tolist()
    assert [r[1] for r in stored] == expected["quota_cents"].tolist()
    assert all(r[1] == r[2] for r in stored)
    assert sum(r[1] for r in stored) == total_cents
    assert [r[3] for r in stored] == expected["fair_cents"].tolist()

    events = audit.audit_events(demo_copy, system_principal(demo_copy.name), action="quota.save")
    assert len(events) == 1
    event = events.iloc[0]
    assert event["entity_id"] == scenario_id
    assert event["entity"] == "quota_scenario"
    assert event["actor"] == user.email
    assert event["actor_role"] == str(user.primary_role)
    after = json.loads(event["after_json"])
    assert after["total_cents"] == 4_400_000_000 and after["name"] == "FY27 plan"
    assert audit.verify_chain(demo_copy).ok

    saved = saved_quota_scenarios(demo_copy)
    assert saved["scenario_id"].tolist() == [scenario_id]
    assert saved.iloc[0]["parameters"]["fiscal_year"] == 2027
    assert saved.iloc[0]["solver"]["status"] == "optimal"


def test_save_refuses_empty_or_long_names(demo_copy: Workspace) -> None:
    inputs, result = solved(demo_copy)
    someone = demo_user(demo_copy, Role.COMP)
    with pytest.raises(RevPlanError, match="name"):
        save_quota_scenario(demo_copy, inputs, result, "   ", user=someone)
    with pytest.raises(RevPlanError, match="120 characters"):
        save_quota_scenario(demo_copy, inputs, result, "x" * 121, user=someone)
    (count,), = query(demo_copy, "SELECT count(*) FROM quota_scenarios")
    assert count == 0
    assert audit.audit_events(demo_copy, system_principal(demo_copy.name),
                              action="quota.save").empty


def test_override_is_audited_with_its_reason(demo_copy: Workspace) -> None:
    user = demo_user(demo_copy, Role.REVOPS)
    rep = quota_inputs(demo_copy, today=DEMO_AS_OF).reps["rep_id"].iat[2]
    record_override(demo_copy, rep, 123_456_78, "  Territory moved in March  ",
                    user=user)
    events = audit.audit_events(demo_copy, system_principal(demo_copy.name),
                                action="quota.override")
    assert len(events) == 1
    event = events.iloc[0]
    assert event["entity"] == "rep" and event["entity_id"] == rep
    assert event["reason"] == "Territory moved in March"
    assert json.loads(event["after_json"]) == {"quota_cents": 123_456_78}
    assert event["actor"] == user.email

    with pytest.raises(RevPlanError, match="at least 5 characters"):
        record_override(demo_copy, rep, 1_000, "  abc  ", user=user)
    assert len(audit.audit_events(demo_copy, system_principal(demo_copy.name),
                                  action="quota.override")) == 1
    assert audit.verify_chain(demo_copy).ok


def test_saving_the_same_allocation_twice_is_refused_and_stores_nothing(
        demo_copy: Workspace) -> None:
    from planning.versions import DuplicateVersionError

    user = demo_user(demo_copy, Role.COMP)
    inputs, result = solved(demo_copy)
    first = save_quota_scenario(demo_copy, inputs, result, "FY27 base", user=user)
    with pytest.raises(DuplicateVersionError, match=f'"FY27 base" by {user.email}.*{first}'):
        save_quota_scenario(demo_copy, inputs, result, "FY27 base again", user=user)
    changed = solve_quotas(inputs.reps, QuotaScenario(
        target_cents=4_000_000_000, over_assign=0.1, max_increase=0.5,
        overrides={inputs.reps["rep_id"].iloc[0]: 5_000_000}, seasonality=inputs.seasonality))
    with pytest.raises(DuplicateVersionError, match="already named"):
        save_quota_scenario(demo_copy, inputs, changed, " fy27 BASE ", user=user)
    assert query(demo_copy, "SELECT scenario_id FROM quota_scenarios") == [(first,)]
    assert len(audit.audit_events(demo_copy, system_principal(demo_copy.name),
                                  action="quota.save")) == 1
    second = save_quota_scenario(demo_copy, inputs, changed, "FY27 base with override",
                                 user=user)
    assert second != first
