"""Plan versions: every saved territory or quota plan is an immutable, content-hashed version.

A version's content (its items), parameters, fiscal year and parent are written once; the
SHA-256 hash over them is stored with it and recomputed whenever the version is approved or
published, so a changed row is detected and refused. Status moves (draft → submitted →
approved → published → superseded) and tags are kept beside the content, never in it.
Editing a plan saves a child version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace

import duckdb
import pandas as pd

from planning import audit
from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.store import Workspace
from planning.store import plan_versions as version_queries

KINDS = ("territory", "quota", "quote")
STATUSES = ("draft", "submitted", "approved", "rejected", "changes_requested", "published",
            "superseded")
ITEM_COLUMNS = ("subject", "assignee", "previous", "amount_cents", "detail")


class VersionIntegrityError(RevPlanError):
    """A version's stored content no longer matches its hash."""


class DuplicateVersionError(RevPlanError):
    """A new version repeats an existing version's name or content."""


@dataclass(frozen=True)
class PlanVersion:
    """A version's header (its items are read separately)."""

    version_id: str
    kind: str
    name: str
    parent_id: str | None
    fiscal_year: int | None
    parameters: dict
    solver: dict
    metrics: dict
    content_hash: str
    author: str
    created_at: dt.datetime
    status: str
    tags: tuple[str, ...] = ()


def content_hash(kind: str, parameters: dict, items: pd.DataFrame,
                 fiscal_year: int | None = None, parent_id: str | None = None) -> str:
    """SHA-256 over the kind, fiscal year, parent, parameters and items (sorted by subject),
    in canonical JSON: everything that decides what is approved and published."""
    rows = items.loc[:, list(ITEM_COLUMNS)].sort_values("subject", kind="stable")
    payload = {
        "kind": kind, "fiscal_year": fiscal_year, "parent_id": parent_id,
        "parameters": parameters,
        "items": [[_primitive(v) for v in row] for row in rows.itertuples(index=False,
                                                                            name=None)],
    }
    return hashlib.sha256(audit.to_json(payload).encode("utf-8")).hexdigest()


def _primitive(value: object) -> object:
    """None, int or str: the same JSON whatever pandas dtype carried the value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    return int(value)


def _normalised_items(items: pd.DataFrame) -> pd.DataFrame:
    frame = items.copy()
    for column in ITEM_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame.loc[:, list(ITEM_COLUMNS)]
    frame["subject"] = frame["subject"].astype(str)
    if frame["subject"].duplicated().any():
        raise RevPlanError("A version lists the same subject twice.")
    frame["amount_cents"] = frame["amount_cents"].astype("Int64")
    for column in ("assignee", "previous", "detail"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame.reset_index(drop=True)


def checked_name(name: str) -> str:
    """A version name, trimmed; RevPlanError unless it has 1 to 120 characters."""
    name = name.strip()
    if not name or len(name) > 120:
        raise RevPlanError("A plan version needs a name of 1 to 120 characters.")
    return name


def name_key(name: str) -> str:
    """The form two names are compared in: trimmed, lower case, inner spaces collapsed, so
    "FY27  Plan" and "fy27 plan" count as the same name."""
    return " ".join(name.split()).casefold()


def describe_existing(name: str, author: str, created_at: dt.datetime, version_id: str) -> str:
    """How a refusal points at an existing version: name, author, saved time and id."""
    return f'"{name}" by {author}, saved {created_at:%d %b %Y %H:%M} UTC ({version_id})'


def check_unique(cur: duckdb.DuckDBPyConnection, *, kind: str, name: str,
                 fiscal_year: int | None, digest: str) -> None:
    """Refuse a version whose name is taken for its kind and fiscal year, or whose content
    hash is already saved for its kind, so no two versions can be mistaken for each other."""
    same_content = version_queries.version_with_hash(cur, kind, digest)
    if same_content is not None:
        raise DuplicateVersionError(
            f"This {kind} plan is already saved as version {describe_existing(*same_content)}; "
            "change the plan before saving, or use that version.")
    year_text = f"FY{fiscal_year}" if fiscal_year is not None else "any fiscal year"
    wanted = name_key(name)
    for existing in version_queries.versions_of_year(cur, kind, fiscal_year):
        if name_key(existing[0]) == wanted:
            raise DuplicateVersionError(
                f"A {kind} version for {year_text} is already named "
                f"{describe_existing(*existing)}; choose another name.")


def taken_names(workspace: Workspace, kind: str, fiscal_year: int | None) -> set[str]:
    """The compared forms (`name_key`) of the names used by `kind` versions of a fiscal year."""
    rows = workspace.read(lambda cur: version_queries.versions_of_year(cur, kind, fiscal_year))
    return {name_key(row[0]) for row in rows}


def suggested_name(workspace: Workspace, kind: str, fiscal_year: int | None, base: str) -> str:
    """`base`, or `base (2)`, `base (3)` ... : the first form not yet taken, for the save
    field to offer (the person may still edit it)."""
    base = " ".join(base.split())[:110] or f"{kind.capitalize()} plan"
    taken = taken_names(workspace, kind, fiscal_year)
    candidate, number = base, 2
    while name_key(candidate) in taken:
        candidate, number = f"{base} ({number})", number + 1
    return candidate


def version_label(name: str, author: str, created_at: dt.datetime, status: str,
                  content_hash: str) -> str:
    """What every version picker shows: name · author · saved time · status · short hash."""
    return (f"{name} · {author} · {created_at:%d %b %Y %H:%M} UTC · {status} · "
            f"#{content_hash[:8]}")


def version_labels(versions: pd.DataFrame) -> dict[str, str]:
    """Picker labels by version id, for a `list_versions` frame (pickers pass the id)."""
    return {row.version_id: version_label(row.name, row.author, row.created_at, row.status,
                                          row.content_hash)
            for row in versions.itertuples()}


def version_digest(kind: str, parameters: dict, items: pd.DataFrame,
                   fiscal_year: int | None = None, parent_id: str | None = None) -> str:
    """The hash `create_version` will record for this content (to name things after it)."""
    return content_hash(kind, parameters, _normalised_items(items), fiscal_year, parent_id)


def create_version(
    cur: duckdb.DuckDBPyConnection, *, kind: str, name: str, items: pd.DataFrame,
    parameters: dict, solver: dict, metrics: dict, author: str, actor_role: str | None,
    fiscal_year: int | None = None, parent_id: str | None = None,
    version_id: str | None = None,
) -> str:
    """Write a new version inside the caller's transaction (audited); returns its id."""
    if kind not in KINDS:
        raise RevPlanError(f"Unknown version kind {kind!r}.")
    name = checked_name(name)
    if parent_id is not None and version_queries.version_kind(cur, parent_id) != kind:
        raise RevPlanError(f"Parent version {parent_id!r} is not a {kind} version.")
    frame = _normalised_items(items)
    digest = content_hash(kind, parameters, frame, fiscal_year, parent_id)
    check_unique(cur, kind=kind, name=name, fiscal_year=fiscal_year, digest=digest)
    created = now_utc()
    version_id = version_id or f"{kind}-{created:%Y%m%d-%H%M%S%f}-{digest[:8]}"
    version_queries.insert_version(
        cur, version_id=version_id, kind=kind, name=name, parent_id=parent_id,
        fiscal_year=fiscal_year, parameters=audit.to_json(parameters),
        solver=json.dumps(solver, sort_keys=True, default=str),
        metrics=json.dumps(metrics, sort_keys=True, default=str), content_hash=digest,
        author=author, created_at=created, items=frame)
    audit.record(cur, actor=author, actor_role=actor_role, action="version.create",
                 entity="plan_version", entity_id=version_id,
                 after={"kind": kind, "name": name, "content_hash": digest,
                        "parent_id": parent_id, "items": len(frame)})
    return version_id


@dataclass(frozen=True)
class ScenarioContent:
    """What a solved scenario saves, whatever its kind: settings, solver figures, metrics and
    the plan's items (one row per subject, as `create_version` takes them)."""

    kind: str
    name: str
    parameters: dict
    solver: dict
    metrics: dict
    items: pd.DataFrame
    fiscal_year: int | None = None


@dataclass(frozen=True)
class ScenarioStamp:
    """The id, checked name, time and content hash a saved scenario and its version share."""

    scenario_id: str
    name: str
    created_at: dt.datetime
    content_hash: str

    def row(self, content: ScenarioContent, actor: str) -> dict:
        """The scenario-result row every kind stores: id, name, when, who, its settings,
        solver figures and metrics as JSON, and the content hash."""
        return {"scenario_id": self.scenario_id, "name": self.name,
                "created_at": self.created_at, "created_by": actor,
                "parameters": json.dumps(content.parameters, sort_keys=True, default=str),
                "solver": json.dumps(content.solver, sort_keys=True, default=str),
                "metrics": json.dumps(content.metrics, sort_keys=True, default=str),
                "content_hash": self.content_hash}


def save_scenario_version(
    workspace: Workspace, content: ScenarioContent, *, actor: str, actor_role: str | None,
    parent_id: str | None, store_result: Callable[[duckdb.DuckDBPyConnection, ScenarioStamp],
                                                  None],
    audit_after: dict | None = None,
) -> str:
    """Save a solved scenario as its kind's result row (through `store_result`) and as a plan
    version with the same id (optionally the child of `parent_id`), in one audited
    transaction; refused when the name or the content is already saved. Territory and quota
    scenarios both save through here, so ids, hashes, uniqueness and audit agree.
    Returns the id."""
    content = replace(content, name=checked_name(content.name))
    digest = version_digest(content.kind, content.parameters, content.items,
                            content.fiscal_year, parent_id)
    created = now_utc()
    stamp = ScenarioStamp(scenario_id=f"{content.kind}-{created:%Y%m%d-%H%M%S}-{digest[:8]}",
                          name=content.name, created_at=created, content_hash=digest)

    def store(cur: duckdb.DuckDBPyConnection) -> None:
        check_unique(cur, kind=content.kind, name=content.name,
                     fiscal_year=content.fiscal_year, digest=digest)
        store_result(cur, stamp)
        create_version(cur, kind=content.kind, name=content.name, items=content.items,
                       parameters=content.parameters, solver=content.solver,
                       metrics=content.metrics, author=actor, actor_role=actor_role,
                       fiscal_year=content.fiscal_year, parent_id=parent_id,
                       version_id=stamp.scenario_id)
        audit.record(cur, actor=actor, actor_role=actor_role, action=f"{content.kind}.save",
                     entity=f"{content.kind}_scenario", entity_id=stamp.scenario_id,
                     after={"name": content.name, "content_hash": digest, **content.solver,
                            **(audit_after or {})})

    workspace.write(store)
    return stamp.scenario_id


def _version_from(data: dict, tags: tuple[str, ...]) -> PlanVersion:
    data = dict(data)
    for key in ("parameters", "solver", "metrics"):
        data[key] = json.loads(data[key])
    return PlanVersion(**data, tags=tags)


def read_version(cur: duckdb.DuckDBPyConnection, version_id: str) -> PlanVersion:
    """One version's header; RevPlanError when it does not exist."""
    header = version_queries.version_header(cur, version_id)
    if header is None:
        raise RevPlanError(f"No version {version_id!r}.")
    return _version_from(header, version_queries.version_tags(cur, version_id))


def read_items(cur: duckdb.DuckDBPyConnection, version_id: str) -> pd.DataFrame:
    """A version's items, by subject."""
    return version_queries.version_items(cur, version_id)


def verify_version(cur: duckdb.DuckDBPyConnection, version_id: str) -> PlanVersion:
    """The version, after checking its stored content still hashes to its recorded hash."""
    version = read_version(cur, version_id)
    items = _normalised_items(read_items(cur, version_id))
    if content_hash(version.kind, version.parameters, items, version.fiscal_year,
                    version.parent_id) != version.content_hash:
        raise VersionIntegrityError(
            f"Version {version_id} was modified after it was saved: its content no longer "
            "matches its hash. It cannot be approved or published.")
    return version


def list_versions(workspace: Workspace, kind: str | None = None) -> pd.DataFrame:
    """Versions newest first: id, kind, name, parent, status, author, created, hash, tags."""
    return workspace.read(lambda cur: version_queries.version_list(cur, kind))


def lineage(workspace: Workspace, version_id: str) -> list[str]:
    """The version and its ancestors, newest first."""
    chain: list[str] = []

    def read(cur) -> None:
        current: str | None = version_id
        while current is not None and current not in chain:
            chain.append(current)
            current = version_queries.parent_of(cur, current)

    workspace.read(read)
    return chain


def set_status(cur: duckdb.DuckDBPyConnection, version_id: str, status: str, *, actor: str,
               actor_role: str | None, reason: str | None = None) -> None:
    """Move a version to `status` (audited), inside the caller's transaction."""
    if status not in STATUSES:
        raise RevPlanError(f"Unknown version status {status!r}.")
    before = read_version(cur, version_id).status
    version_queries.update_status(cur, version_id, status)
    audit.record(cur, actor=actor, actor_role=actor_role, action="version.status",
                 entity="plan_version", entity_id=version_id, before={"status": before},
                 after={"status": status}, reason=reason)


@entry_point(Action.SUBMIT_VERSION)
def tag_version(workspace: Workspace, version_id: str, tag: str, *, user: User) -> None:
    """Attach a tag ("FY27 plan of record") as `user`; audited."""
    tag = tag.strip()
    if not tag or len(tag) > 60:
        raise RevPlanError("A tag has 1 to 60 characters.")

    def write(cur) -> None:
        read_version(cur, version_id)
        version_queries.add_tag(cur, version_id, tag, user.email, now_utc())
        audit.record(cur, actor=user.email, actor_role=user.audit_role, action="version.tag",
                     entity="plan_version", entity_id=version_id, after={"tag": tag})

    workspace.write(write)
