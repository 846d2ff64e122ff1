"""Run every benchmark and print its figures: `make bench` (or `python -m bench.run NAME...`)."""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import sys
import tempfile
import time

from bench.large_workspace import LARGE_DIR_VARIABLE

BENCHMARKS = (
    "demo_generation", "import_throughput", "app_cold_start", "first_run", "deal_models",
    "forecast_monte_carlo", "inspection_latency", "territory_solve", "territory_time_limit",
    "quota_solve", "territory_compare", "customer_health", "churn_telco", "cpq",
)


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default) and print one line per figure."""
    chosen = argv or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    print(f"RevPlan benchmarks on {platform.machine()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores")

    def report(name: str, value: float, unit: str) -> None:
        shown = f"{value:>14,.0f}" if float(value).is_integer() else f"{value:>14,.2f}"
        print(f"  {name:<58} {shown} {unit}", flush=True)

    shared = None
    if LARGE_DIR_VARIABLE not in os.environ:
        shared = tempfile.mkdtemp(prefix="revplan-bench-large-")
        os.environ[LARGE_DIR_VARIABLE] = shared
    try:
        for name in chosen:
            print(f"{name}:", flush=True)
            started = time.perf_counter()
            importlib.import_module(f"bench.{name}").run(report)
            print(f"  ({name} took {time.perf_counter() - started:.1f} s)", flush=True)
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
