"""Deal inspection latency on the `large` demo (1,000,000 opportunities): the first load of the
open-deal facts, then 20 different filter changes through `inspect_deals`, and one waterfall.

Set REVPLAN_BENCH_LARGE_DIR to a folder holding `large.duckdb` to skip generating it. A
workspace without a trained model is copied to a temporary folder and scored there first, so
the filters run over real scores and reasons; the given folder is never changed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import Report
from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.periods import fiscal_quarter_of
from planning.pipeline.inspection import (
    DealFilters,
    FilterChoices,
    Flag,
    RiskBand,
    filter_choices,
    inspect_deals,
    load_inspection_facts,
    pipeline_waterfall,
)
from planning.pipeline.training import score_open_deals, train_deal_models
from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.store.inspection import has_active_win_model

AS_OF = dt.date(2026, 11, 16)
NAME = "large"
TRAINING_DEALS = 3_000
FILTER_CHANGES = 20


@contextmanager
def large_workspace(report: Report) -> Iterator[Workspace]:
    """The scored `large` demo workspace: reused from REVPLAN_BENCH_LARGE_DIR or generated."""
    given = os.environ.get("REVPLAN_BENCH_LARGE_DIR")
    with tempfile.TemporaryDirectory(prefix="revplan-bench-") as scratch:
        folder = Path(scratch)
        if given and (Path(given) / f"{NAME}.duckdb").exists():
            source = open_workspace(NAME, read_only=True, base=Path(given))
            scored = source.read(has_active_win_model)
            if scored:
                try:
                    yield source
                finally:
                    close_all_workspaces()
                return
            source.close()
            shutil.copy(Path(given) / f"{NAME}.duckdb", folder / f"{NAME}.duckdb")
        else:
            started = time.perf_counter()
            generate_demo_workspace(NAME, size=DEMO_SIZES[NAME], seed=7, as_of=AS_OF, base=folder)
            report("inspection: large demo generation", time.perf_counter() - started, "s")
            close_all_workspaces()
        workspace = open_workspace(NAME, base=folder)
        moment = dt.datetime.combine(AS_OF, dt.time(12))
        started = time.perf_counter()
        train_deal_models(workspace, as_of=moment, max_deals=TRAINING_DEALS)
        score_open_deals(workspace, as_of=moment)
        report("inspection: train and score the open deals", time.perf_counter() - started, "s")
        try:
            yield workspace
        finally:
            close_all_workspaces()


def filter_changes(choices: FilterChoices) -> list[DealFilters]:
    """Twenty different filter settings, as a user clicking through the page would make."""
    quarter = choices.current_quarter
    teams, reps, stages = list(choices.teams), list(choices.reps), list(choices.stages)
    return [
        DealFilters(teams={teams[0]}),
        DealFilters(teams=set(teams[:3])),
        DealFilters(teams={teams[0]}, stages={stages[-1]}),
        DealFilters(owner_ids={reps[0]}),
        DealFilters(owner_ids=set(reps[:10]), flags={Flag.STALE}),
        DealFilters(stages={stages[0]}),
        DealFilters(stages=set(stages[-2:]), close_quarter=quarter),
        DealFilters(close_quarter=quarter),
        DealFilters(close_quarter=quarter.next()),
        DealFilters(risk_bands={RiskBand.HIGH}),
        DealFilters(risk_bands={RiskBand.HIGH, RiskBand.MEDIUM}, close_quarter=quarter),
        DealFilters(flags={Flag.STALE}),
        DealFilters(flags={Flag.PUSHED}),
        DealFilters(flags={Flag.AMOUNT_CUT}),
        DealFilters(flags={Flag.NEXT_STEP_MISSING}),
        DealFilters(flags={Flag.NEXT_STEP_OVERDUE, Flag.PUSHED}),
        DealFilters(teams={teams[1]}, risk_bands={RiskBand.HIGH}, flags={Flag.STALE}),
        DealFilters(stages={stages[1]}, flags={Flag.AMOUNT_CUT}, close_quarter=quarter),
        DealFilters(risk_bands={RiskBand.LOW}),
        DealFilters(),
    ]


def nearest_rank(values: list[float], share: float) -> float:
    """The nearest-rank percentile of a list of timings."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def run(report: Report) -> None:
    """First load, p50 and p95 of 20 filter changes (whole company), and one waterfall."""
    today = AS_OF
    with large_workspace(report) as workspace:
        started = time.perf_counter()
        facts = load_inspection_facts(workspace)
        everything = inspect_deals(workspace, None, DealFilters(), today, facts=facts)
        report("inspection: first load (facts + unfiltered list)",
               (time.perf_counter() - started) * 1000, "ms")
        report("inspection: open deals", len(everything), "deals")
        choices = filter_choices(workspace, None, today, facts=facts)
        timings, rows = [], []
        for filters in filter_changes(choices)[:FILTER_CHANGES]:
            started = time.perf_counter()
            result = inspect_deals(workspace, None, filters, today, facts=facts)
            timings.append((time.perf_counter() - started) * 1000)
            rows.append(len(result))
        report(f"inspection: filter change p50 ({len(timings)} changes)",
               statistics.median(timings), "ms")
        report(f"inspection: filter change p95 ({len(timings)} changes)",
               nearest_rank(timings, 0.95), "ms")
        report("inspection: filter change max", max(timings), "ms")
        report("inspection: median deals per filter change", statistics.median(rows), "deals")
        end = dt.datetime.combine(today, dt.time())
        started = time.perf_counter()
        pipeline_waterfall(workspace, None, end - dt.timedelta(days=7), end,
                           fiscal_quarter_of(today, facts.fiscal_year_start_month))
        report("inspection: pipeline waterfall, one week, whole company",
               (time.perf_counter() - started) * 1000, "ms")
