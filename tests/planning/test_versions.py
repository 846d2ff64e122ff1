"""Plan versions: content hashing, integrity checks against raw SQL edits, lineage, listing."""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest

from planning.access.roles import Role
from planning.access.users import User
from planning.errors import RevPlanError
from planning.store import Workspace
from planning.versions import (
    DuplicateVersionError,
    VersionIntegrityError,
    create_version,
    lineage,
    list_versions,
    read_items,
    read_version,
    suggested_name,
    tag_version,
    verify_version,
    version_digest,
    version_labels,
)

AUTHOR = "planner@example.com"
TAGGER = User(AUTHOR, "Planner", "test", roles=frozenset({Role.REVOPS}))
DRAFT_NUMBERS = itertools.count(1)
QUOTA_PARAMETERS = {"fiscal_year": 2027, "growth": 0.12, "method": "potential", "floor": 0.8}


def quota_items(order: list[int] | None = None) -> pd.DataFrame:
    rows = [
        {"subject": "rep-a", "amount_cents": 120_000_000, "detail": json.dumps({"q1": 30})},
        {"subject": "rep-b", "amount_cents": 95_500_000, "detail": json.dumps({"q1": 20})},
        {"subject": "rep-c", "amount_cents": 143_250_000, "detail": None},
        {"subject": "rep-d", "amount_cents": 80_000_000, "detail": json.dumps({"q1": 10})},
    ]
    if order is not None:
        rows = [rows[i] for i in order]
    return pd.DataFrame(rows)


def territory_items(moved: int = 1) -> pd.DataFrame:
    accounts = [f"acct-{i:03d}" for i in range(10)]
    previous = [f"rep-{i % 3}" for i in range(10)]
    assignee = list(previous)
    for i in range(moved):
        assignee[i] = "rep-9"
    return pd.DataFrame({"subject": accounts, "assignee": assignee, "previous": previous})


def save(ws: Workspace, *, kind: str = "quota", name: str | None = None,
         items: pd.DataFrame | None = None, parameters: dict | None = None,
         parent_id: str | None = None) -> str:
    """A version; without a name it gets a fresh one (names are unique per kind and year)."""
    if name is None:
        name = f"FY27 draft {next(DRAFT_NUMBERS)}"
    if items is None:
        items = quota_items() if kind == "quota" else territory_items()
    if parameters is None:
        parameters = dict(QUOTA_PARAMETERS) if kind == "quota" else {"balance": "workload"}
    return ws.write(lambda cur: create_version(
        cur, kind=kind, name=name, items=items, parameters=parameters,
        solver={"status": "optimal", "gap": 0.0}, metrics={"gini": 0.21}, author=AUTHOR,
        actor_role=None, fiscal_year=2027 if kind == "quota" else None, parent_id=parent_id))


def stored_hash(ws: Workspace, version_id: str) -> str:
    return ws.read(lambda cur: read_version(cur, version_id).content_hash)


def verify(ws: Workspace, version_id: str):
    return ws.read(lambda cur: verify_version(cur, version_id))


# ----------------------------------------------------------------------------- hashing


def test_same_content_in_another_row_order_has_the_same_hash(workspace: Workspace) -> None:
    first = save(workspace, items=quota_items())
    shuffled = version_digest("quota", dict(QUOTA_PARAMETERS),
                              quota_items(order=[3, 1, 0, 2]), 2027)
    assert stored_hash(workspace, first) == shuffled
    assert len(shuffled) == 64
    with pytest.raises(DuplicateVersionError, match="already saved as version"):
        save(workspace, items=quota_items(order=[3, 1, 0, 2]))


def test_parameter_key_order_does_not_change_the_hash(workspace: Workspace) -> None:
    reordered = dict(reversed(list(QUOTA_PARAMETERS.items())))
    assert list(reordered) != list(QUOTA_PARAMETERS)
    a = save(workspace, parameters=dict(QUOTA_PARAMETERS))
    assert stored_hash(workspace, a) == version_digest("quota", reordered, quota_items(), 2027)


def test_changing_one_amount_changes_the_hash(workspace: Workspace) -> None:
    items = quota_items()
    changed = items.copy()
    changed.loc[changed["subject"] == "rep-b", "amount_cents"] = 95_500_001
    base = save(workspace, items=items)
    other = save(workspace, items=changed)
    assert stored_hash(workspace, base) != stored_hash(workspace, other)


def test_changing_one_parameter_changes_the_hash(workspace: Workspace) -> None:
    base = save(workspace, parameters=dict(QUOTA_PARAMETERS))
    other = save(workspace, parameters={**QUOTA_PARAMETERS, "growth": 0.13})
    assert stored_hash(workspace, base) != stored_hash(workspace, other)


def test_changing_one_assignee_changes_a_territory_hash(workspace: Workspace) -> None:
    base = save(workspace, kind="territory", items=territory_items(moved=1))
    other = save(workspace, kind="territory", items=territory_items(moved=2))
    assert stored_hash(workspace, base) != stored_hash(workspace, other)


# ----------------------------------------------------------------------------- integrity


@pytest.mark.parametrize("kind", ["quota", "territory"])
def test_a_stored_version_verifies_and_keeps_its_items(workspace: Workspace, kind: str) -> None:
    version_id = save(workspace, kind=kind)
    version = verify(workspace, version_id)
    assert version.version_id == version_id
    assert version.kind == kind
    assert version.status == "draft"
    assert version.author == AUTHOR
    assert version.solver == {"status": "optimal", "gap": 0.0}
    assert version.metrics == {"gini": 0.21}
    stored = workspace.read(lambda cur: read_items(cur, version_id))
    expected = quota_items() if kind == "quota" else territory_items()
    assert sorted(stored["subject"]) == sorted(expected["subject"])
    if kind == "quota":
        amounts = dict(zip(stored["subject"], stored["amount_cents"], strict=True))
        assert amounts == dict(zip(expected["subject"], expected["amount_cents"], strict=True))
        assert version.fiscal_year == 2027
        assert version.parameters == QUOTA_PARAMETERS
    else:
        owners = dict(zip(stored["subject"], stored["assignee"], strict=True))
        assert owners == dict(zip(expected["subject"], expected["assignee"], strict=True))
        assert version.fiscal_year is None


def test_raw_sql_update_of_an_item_amount_is_detected(workspace: Workspace) -> None:
    version_id = save(workspace)
    other = save(workspace, name="untouched", parameters={**QUOTA_PARAMETERS, "growth": 0.2})
    workspace.write(lambda cur: cur.execute(
        "UPDATE plan_version_items SET amount_cents = amount_cents + 1 "
        "WHERE version_id = ? AND subject = 'rep-a'", [version_id]))
    with pytest.raises(VersionIntegrityError, match=version_id):
        verify(workspace, version_id)
    assert verify(workspace, other).version_id == other


def test_raw_sql_update_of_a_territory_assignee_is_detected(workspace: Workspace) -> None:
    version_id = save(workspace, kind="territory")
    verify(workspace, version_id)
    workspace.write(lambda cur: cur.execute(
        "UPDATE plan_version_items SET assignee = 'rep-7' WHERE version_id = ? "
        "AND subject = 'acct-005'", [version_id]))
    with pytest.raises(VersionIntegrityError):
        verify(workspace, version_id)


def test_raw_sql_update_of_parameters_is_detected(workspace: Workspace) -> None:
    version_id = save(workspace)
    tampered = json.dumps({**QUOTA_PARAMETERS, "growth": 0.5})
    workspace.write(lambda cur: cur.execute(
        "UPDATE plan_versions SET parameters = ? WHERE version_id = ?", [tampered, version_id]))
    with pytest.raises(VersionIntegrityError):
        verify(workspace, version_id)


def test_raw_sql_delete_of_an_item_is_detected(workspace: Workspace) -> None:
    version_id = save(workspace)
    workspace.write(lambda cur: cur.execute(
        "DELETE FROM plan_version_items WHERE version_id = ? AND subject = 'rep-d'",
        [version_id]))
    with pytest.raises(VersionIntegrityError):
        verify(workspace, version_id)


def test_status_and_tags_are_outside_the_hash(workspace: Workspace) -> None:
    version_id = save(workspace)
    workspace.write(lambda cur: cur.execute(
        "UPDATE plan_versions SET status = 'submitted' WHERE version_id = ?", [version_id]))
    tag_version(workspace, version_id, "FY27 plan of record", user=TAGGER)
    version = verify(workspace, version_id)
    assert version.status == "submitted"
    assert version.tags == ("FY27 plan of record",)


# ----------------------------------------------------------------------------- audit


def test_create_version_is_audited_with_its_hash(workspace: Workspace) -> None:
    version_id = save(workspace, name="  Audited plan  ")
    events = workspace.read(lambda cur: cur.execute(
        "SELECT actor, entity, after_json FROM audit_events WHERE action = 'version.create' "
        "AND entity_id = ?", [version_id]).fetchall())
    assert len(events) == 1
    actor, entity, after_json = events[0]
    assert actor == AUTHOR
    assert entity == "plan_version"
    after = json.loads(after_json)
    assert after["content_hash"] == stored_hash(workspace, version_id)
    assert after["kind"] == "quota"
    assert after["name"] == "Audited plan"
    assert after["items"] == len(quota_items())
    assert after["parent_id"] is None


def test_a_refused_version_writes_nothing(workspace: Workspace) -> None:
    items = pd.concat([quota_items(), quota_items().iloc[[0]]], ignore_index=True)
    with pytest.raises(RevPlanError, match="same subject twice"):
        save(workspace, items=items)
    counts = workspace.read(lambda cur: cur.execute(
        "SELECT (SELECT count(*) FROM plan_versions), (SELECT count(*) FROM plan_version_items),"
        " (SELECT count(*) FROM audit_events WHERE action = 'version.create')").fetchone())
    assert counts == (0, 0, 0)


# ----------------------------------------------------------------------------- lineage


def test_a_child_records_its_parent_and_lineage_is_newest_first(workspace: Workspace) -> None:
    parent = save(workspace, name="first cut")
    edited = quota_items()
    edited.loc[0, "amount_cents"] = 125_000_000
    child = save(workspace, name="second cut", items=edited, parent_id=parent)
    grandchild = save(workspace, name="third cut", items=quota_items(order=[1, 0, 2, 3]),
                      parent_id=child)
    assert workspace.read(lambda cur: read_version(cur, child)).parent_id == parent
    assert workspace.read(lambda cur: read_version(cur, parent)).parent_id is None
    assert lineage(workspace, child) == [child, parent]
    assert lineage(workspace, grandchild) == [grandchild, child, parent]
    assert lineage(workspace, parent) == [parent]
    after = json.loads(workspace.read(lambda cur: cur.execute(
        "SELECT after_json FROM audit_events WHERE action = 'version.create' AND entity_id = ?",
        [child]).fetchone()[0]))
    assert after["parent_id"] == parent


def test_a_parent_of_another_kind_is_refused(workspace: Workspace) -> None:
    territory = save(workspace, kind="territory")
    with pytest.raises(RevPlanError, match="not a quota version"):
        save(workspace, kind="quota", parent_id=territory)
    assert len(list_versions(workspace, kind="quota")) == 0


def test_a_missing_parent_is_refused(workspace: Workspace) -> None:
    with pytest.raises(RevPlanError, match="not a quota version"):
        save(workspace, parent_id="quota-does-not-exist")
    assert len(list_versions(workspace)) == 0


# ----------------------------------------------------------------------------- listing


def test_list_versions_filters_by_kind_and_shows_tags(workspace: Workspace) -> None:
    q1 = save(workspace, name="quota one")
    t1 = save(workspace, kind="territory", name="territory one")
    q2 = save(workspace, name="quota two", parent_id=q1)
    tag_version(workspace, q2, "plan of record", user=TAGGER)
    tag_version(workspace, q2, "board deck", user=TAGGER)
    tag_version(workspace, t1, "FY27", user=TAGGER)

    everything = list_versions(workspace)
    assert set(everything["version_id"]) == {q1, q2, t1}

    quotas = list_versions(workspace, kind="quota")
    assert set(quotas["version_id"]) == {q1, q2}
    assert set(quotas["kind"]) == {"quota"}
    assert list(quotas["version_id"]) == [q2, q1]  # newest first

    territories = list_versions(workspace, kind="territory")
    assert list(territories["version_id"]) == [t1]

    tags = {v: list(t) for v, t in zip(everything["version_id"], everything["tags"],
                                       strict=True)}
    assert tags == {q1: [], q2: ["board deck", "plan of record"], t1: ["FY27"]}
    parents = dict(zip(quotas["version_id"], quotas["parent_id"], strict=True))
    assert parents[q2] == q1
    assert workspace.read(lambda cur: read_version(cur, q2)).tags == (
        "board deck", "plan of record")


def test_tagging_is_audited_and_a_tag_is_not_duplicated(workspace: Workspace) -> None:
    version_id = save(workspace)
    tag_version(workspace, version_id, "FY27", user=TAGGER)
    tag_version(workspace, version_id, "FY27", user=TAGGER)
    assert workspace.read(lambda cur: read_version(cur, version_id)).tags == ("FY27",)
    events = workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM audit_events WHERE action = 'version.tag' AND entity_id = ?",
        [version_id]).fetchone()[0])
    assert events == 2
    with pytest.raises(RevPlanError):
        tag_version(workspace, version_id, "   ", user=TAGGER)
    with pytest.raises(RevPlanError):
        tag_version(workspace, "quota-missing", "FY27", user=TAGGER)


def test_duplicate_subjects_are_refused(workspace: Workspace) -> None:
    items = pd.DataFrame({"subject": ["acct-1", "acct-2", "acct-1"],
                          "assignee": ["rep-1", "rep-2", "rep-3"],
                          "previous": ["rep-1", "rep-1", "rep-1"]})
    with pytest.raises(RevPlanError, match="same subject twice"):
        save(workspace, kind="territory", items=items)
    assert len(list_versions(workspace)) == 0


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
def test_bad_names_and_kinds_are_refused(workspace: Workspace, name: str) -> None:
    with pytest.raises(RevPlanError):
        save(workspace, name=name)
    with pytest.raises(RevPlanError, match="Unknown version kind"):
        workspace.write(lambda cur: create_version(
            cur, kind="forecast", name="x", items=quota_items(), parameters={}, solver={},
            metrics={}, author=AUTHOR, actor_role=None))
    assert len(list_versions(workspace)) == 0


# ----------------------------------------------------------------------------- telling apart


@pytest.mark.parametrize("taken", ["FY27 quotas", "  fy27   QUOTAS ", "Fy27 Quotas"])
def test_a_name_taken_for_the_kind_and_year_is_refused_naming_the_version(
    workspace: Workspace, taken: str,
) -> None:
    first = save(workspace, name="FY27 quotas")
    with pytest.raises(DuplicateVersionError) as refused:
        save(workspace, name=taken, parameters={**QUOTA_PARAMETERS, "growth": 0.2})
    message = str(refused.value)
    assert "\n" not in message
    assert '"FY27 quotas"' in message and AUTHOR in message and first in message
    assert "FY2027" in message
    assert len(list_versions(workspace)) == 1


def test_the_same_name_is_free_for_another_kind(workspace: Workspace) -> None:
    save(workspace, name="Plan of record")
    save(workspace, kind="territory", name="Plan of record")
    assert sorted(list_versions(workspace)["kind"]) == ["quota", "territory"]


def test_saving_content_already_saved_is_refused_naming_the_existing_version(
    workspace: Workspace,
) -> None:
    first = save(workspace, name="FY27 base")
    created = workspace.read(lambda cur: read_version(cur, first)).created_at
    with pytest.raises(DuplicateVersionError) as refused:
        save(workspace, name="FY27 base again")
    message = str(refused.value)
    assert "\n" not in message
    assert '"FY27 base"' in message and AUTHOR in message and first in message
    assert f"{created:%d %b %Y %H:%M} UTC" in message
    assert list(list_versions(workspace)["version_id"]) == [first]
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM audit_events WHERE action = 'version.create'").fetchone()[0]) == 1


def test_suggested_names_skip_the_names_taken(workspace: Workspace) -> None:
    assert suggested_name(workspace, "quota", 2027, "FY27 plan") == "FY27 plan"
    save(workspace, name="fy27  plan")
    assert suggested_name(workspace, "quota", 2027, " FY27 plan ") == "FY27 plan (2)"
    save(workspace, name="FY27 plan (2)", parameters={**QUOTA_PARAMETERS, "growth": 0.2})
    assert suggested_name(workspace, "quota", 2027, "FY27 plan") == "FY27 plan (3)"
    assert suggested_name(workspace, "quota", 2028, "FY27 plan") == "FY27 plan"
    assert suggested_name(workspace, "territory", None, "") == "Territory plan"


def test_picker_labels_show_name_author_time_status_and_short_hash(
    workspace: Workspace,
) -> None:
    version_id = save(workspace, name="FY27 growth")
    version = workspace.read(lambda cur: read_version(cur, version_id))
    label = version_labels(list_versions(workspace))[version_id]
    assert label == (f"FY27 growth · {AUTHOR} · {version.created_at:%d %b %Y %H:%M} UTC · "
                     f"draft · #{version.content_hash[:8]}")
