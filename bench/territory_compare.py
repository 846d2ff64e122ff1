"""Territory compare of a 6,000-account plan (target < 3 s): the diff, the change summary, the
KPI cards, the charts and the changed-accounts table, as the Plan versions page builds them,
and the self-contained HTML report.

Two versions are saved on the `medium` demo (6,000 accounts): A keeps every account with its
CRM owner, B hands every twentieth account to the next rep. The median of three runs is
reported.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.large_workspace import AS_OF
from bench.report import Report
from planning.compare import (
    changed_accounts_table,
    compare_versions,
    comparison_figures,
    describe_changes,
    kpi_cards,
    report_html,
)
from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.versions import create_version

REPEATS = 3
EVERY = 20


def save_two_plans(workspace: Workspace) -> tuple[str, str]:
    """Version A (CRM owners) and B (every EVERY-th account to the next rep); their ids."""
    accounts = workspace.read(lambda cur: cur.execute(
        "SELECT account_id, owner_id FROM accounts WHERE owner_id IS NOT NULL "
        "ORDER BY account_id").df())
    reps = sorted(accounts["owner_id"].unique())
    following = {rep: reps[(i + 1) % len(reps)] for i, rep in enumerate(reps)}
    detail = [json.dumps({"workload": 1.0, "value": 10_000.0 + i % 997})
              for i in range(len(accounts))]
    moved = [following[owner] if i % EVERY == 0 else owner
             for i, owner in enumerate(accounts["owner_id"])]
    ids = []
    for name, owners in (("Today", list(accounts["owner_id"])), ("Rebalanced", moved)):
        items = pd.DataFrame({"subject": accounts["account_id"], "assignee": owners,
                              "previous": accounts["owner_id"], "detail": detail})
        ids.append(workspace.write(lambda cur, name=name, items=items: create_version(
            cur, kind="territory", name=name, items=items, parameters={"tolerance": 0.1},
            solver={}, metrics={"moved_units": 0}, author="bench@example.com",
            actor_role=None)))
    return ids[0], ids[1]


def run(report: Report) -> None:
    """Build the comparison a few times on the medium demo and report the median time."""
    with tempfile.TemporaryDirectory(prefix="revplan-bench-compare-") as scratch:
        generate_demo_workspace("medium", size=DEMO_SIZES["medium"], seed=7, as_of=AS_OF,
                                base=Path(scratch))
        close_all_workspaces()
        workspace = open_workspace("medium", base=Path(scratch))
        try:
            a, b = save_two_plans(workspace)
            page, html = [], []
            for _ in range(REPEATS):
                started = time.perf_counter()
                comparison = compare_versions(workspace, a, b)
                describe_changes(comparison)
                kpi_cards(comparison)
                comparison_figures(comparison)
                changed_accounts_table(comparison)
                page.append(time.perf_counter() - started)
                started = time.perf_counter()
                report_html(comparison)
                html.append(time.perf_counter() - started)
            report(f"territory compare {len(comparison.items):,} accounts: page "
                   f"(median of {REPEATS})", statistics.median(page), "s")
            report(f"territory compare {len(comparison.items):,} accounts: HTML report "
                   f"(median of {REPEATS})", statistics.median(html), "s")
        finally:
            workspace.close()
            close_all_workspaces()
