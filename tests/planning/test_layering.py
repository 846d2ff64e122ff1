"""SQL lives only in planning/store: no other planning module runs a query itself.

The check parses every module of `planning` outside `planning/store` and refuses a call of
`.execute(`, `.executemany(`, `.sql(`, `.register(` / `.unregister(` (a frame made queryable)
on any object, and any call of a function of the `duckdb` module (`duckdb.connect`,
`duckdb.sql`, …). Naming DuckDB types in annotations (`duckdb.DuckDBPyConnection`) or
catching its errors is no query and is allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import planning

PLANNING = Path(planning.__file__).resolve().parent
STORE = PLANNING / "store"
QUERY_METHODS = frozenset({"execute", "executemany", "sql", "register", "unregister"})
"""Methods of a DuckDB connection that run SQL or expose data to it."""
ALLOWED: frozenset[tuple[str, str]] = frozenset()
"""(module relative to planning/, the call's source) allowed outside the store: none."""


def _modules() -> list[Path]:
    return sorted(path for path in PLANNING.rglob("*.py")
                  if STORE not in path.parents and "__pycache__" not in path.parts)


def query_calls(source: str) -> list[tuple[int, str]]:
    """(line, call source) of every query call in a module's source."""
    tree = ast.parse(source)
    duckdb_names = {alias.asname or alias.name for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names
                    if alias.name == "duckdb"}
    from_duckdb = {alias.asname or alias.name for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.module == "duckdb"
                   for alias in node.names}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_query = (
            (isinstance(func, ast.Attribute) and func.attr in QUERY_METHODS)
            or (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in duckdb_names)
            or (isinstance(func, ast.Name) and func.id in from_duckdb))
        if is_query:
            found.append((node.lineno, ast.get_source_segment(source, node) or ""))
    return found


def test_no_planning_module_outside_the_store_runs_sql() -> None:
    offenders = []
    for path in _modules():
        relative = path.relative_to(PLANNING).as_posix()
        for line, call in query_calls(path.read_text(encoding="utf-8")):
            if (relative, call) not in ALLOWED:
                offenders.append(f"planning/{relative}:{line}: {call.splitlines()[0]}")
    assert offenders == [], ("SQL outside planning/store; move it into a store repository:\n"
                             + "\n".join(offenders))


def test_allowed_calls_still_exist() -> None:
    """An allowed call that is gone is removed from the list, so the list only shrinks."""
    present = {(path.relative_to(PLANNING).as_posix(), call) for path in _modules()
               for _, call in query_calls(path.read_text(encoding="utf-8"))}
    assert not ALLOWED - present, f"no longer present, remove from ALLOWED: {ALLOWED - present}"


@pytest.mark.parametrize("source", [
    'cur.execute("SELECT 1")',
    'cur.executemany("INSERT INTO t VALUES (?)", rows)',
    'workspace.connection.sql("SELECT 1")',
    'cur.register("frame", frame)',
    'import duckdb\nduckdb.connect(":memory:")',
    'import duckdb as db\ndb.sql("SELECT 1")',
    'from duckdb import connect\nconnect()',
])
def test_query_calls_are_recognised(source: str) -> None:
    assert len(query_calls(source)) == 1


@pytest.mark.parametrize("source", [
    "import duckdb\ndef f(cur: duckdb.DuckDBPyConnection) -> None: ...",
    "import duckdb\ntry:\n    pass\nexcept duckdb.Error:\n    pass",
    "repo.rows(cur, 3)",
    "tree.query(points, k=3)",
])
def test_other_code_is_not_a_query_call(source: str) -> None:
    assert query_calls(source) == []
