"""`save_scenario_version`, the one way territory and quota scenarios are saved as versions:
one id for the result and its version, the checked name, one audited transaction."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planning.store import Workspace
from planning.versions import (
    DuplicateVersionError,
    ScenarioContent,
    ScenarioStamp,
    read_version,
    save_scenario_version,
)

CONTENT = ScenarioContent(
    kind="quota", name="  FY27 plan  ", parameters={"target": 100.0}, solver={"status": "optimal"},
    metrics={"gini": 0.1}, items=pd.DataFrame({"subject": ["r1", "r2"],
                                               "amount_cents": [4_000, 6_000]}),
    fiscal_year=2027)


def count(workspace: Workspace, sql: str) -> int:
    return workspace.read(lambda cur: cur.execute(sql).fetchone()[0])


def test_the_result_and_its_version_share_id_name_and_hash(workspace: Workspace) -> None:
    stamps: list[tuple[ScenarioStamp, dict]] = []

    def store_result(cur, stamp: ScenarioStamp) -> None:
        stamps.append((stamp, stamp.row(CONTENT, "finance@example.com")))

    version_id = save_scenario_version(workspace, CONTENT, actor="finance@example.com",
                                       actor_role="finance", parent_id=None,
                                       store_result=store_result,
                                       audit_after={"total_cents": 10_000})
    [(stamp, row)] = stamps
    assert version_id == stamp.scenario_id and version_id.startswith("quota-")
    assert row["name"] == stamp.name == "FY27 plan" and row["content_hash"] == stamp.content_hash
    version = workspace.read(lambda cur: read_version(cur, version_id))
    assert (version.name, version.content_hash, version.fiscal_year) == (
        "FY27 plan", stamp.content_hash, 2027)
    audited = workspace.read(lambda cur: cur.execute(
        "SELECT entity, after_json FROM audit_events WHERE action = 'quota.save'").fetchall())
    assert len(audited) == 1 and audited[0][0] == "quota_scenario"
    assert json.loads(audited[0][1]) == {"name": "FY27 plan", "content_hash": stamp.content_hash,
                                         "status": "optimal", "total_cents": 10_000}

    with pytest.raises(DuplicateVersionError):
        save_scenario_version(workspace, CONTENT, actor="finance@example.com", actor_role=None,
                              parent_id=None, store_result=store_result)


def test_a_failing_result_row_saves_nothing(workspace: Workspace) -> None:
    def store_result(cur, stamp: ScenarioStamp) -> None:
        raise ValueError("the result table refused the row")

    with pytest.raises(ValueError, match="refused"):
        save_scenario_version(workspace, CONTENT, actor="finance@example.com", actor_role=None,
                              parent_id=None, store_result=store_result)
    assert count(workspace, "SELECT count(*) FROM plan_versions") == 0
    assert count(workspace, "SELECT count(*) FROM audit_events") == 0
