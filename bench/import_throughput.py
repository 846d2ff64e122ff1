"""Benchmark: importing a 1,000,000-row Salesforce-style Opportunity export.

Generates users, accounts and opportunities in a temporary folder, imports users and accounts
into a fresh temporary workspace, then times the import of the opportunity file end to end
(reading, validation, reference checks, upsert, run record).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from planning.ingest import import_files
from planning.ingest.values import salesforce_id18
from planning.store import open_workspace

ROWS = 1_000_000
USERS = 60
ACCOUNTS = 5_000
STAGES = ("Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation", "Closed Won",
          "Closed Lost")
FORECAST = ("Pipeline", "Pipeline", "Pipeline", "Best Case", "Commit", "Closed", "Omitted")
TYPES = ("New Customer", "Existing Customer - Upgrade", "Renewal")


def _sf_id(prefix: str, number: int) -> str:
    return salesforce_id18(f"{prefix}5e{number:010d}")


def write_files(folder: Path, rows: int = ROWS) -> tuple[Path, Path, Path]:
    """Write User.csv, Account.csv and Opportunity.csv (with `rows` deals) into `folder`."""
    users = folder / "User.csv"
    with users.open("w", encoding="utf-8") as out:
        out.write("Id,Name,Email,ManagerId,Title,IsActive\n")
        for i in range(USERS):
            manager = "" if i < 6 else _sf_id("005", i % 6)
            out.write(f"{_sf_id('005', i)},Rep {i},rep{i}@example.com,{manager},"
                      "Account Executive,true\n")
    accounts = folder / "Account.csv"
    with accounts.open("w", encoding="utf-8") as out:
        out.write("Id,Name,Industry,BillingPostalCode,NumberOfEmployees,AnnualRevenue,OwnerId,"
                  "CreatedDate\n")
        for i in range(ACCOUNTS):
            out.write(f"{_sf_id('001', i)},Account {i},Software,{10000 + i % 89999:05d},"
                      f"{10 + i % 5000},{(i % 900 + 1) * 100000},{_sf_id('005', i % USERS)},"
                      "2022-01-03T09:00:00.000+0000\n")
    account_ids = [_sf_id("001", i) for i in range(ACCOUNTS)]
    user_ids = [_sf_id("005", i) for i in range(USERS)]
    suffix = salesforce_id18("0065e0000000000")[15:]
    opportunities = folder / "Opportunity.csv"
    with opportunities.open("w", encoding="utf-8") as out:
        out.write("Id,AccountId,OwnerId,Name,StageName,Amount,CloseDate,CreatedDate,"
                  "ForecastCategoryName,IsClosed,IsWon,NextStep,LastActivityDate,Type\n")
        batch = []
        for i in range(rows):
            stage = i % 7
            closed = "true" if stage >= 5 else "false"
            won = "true" if stage == 5 else "false"
            month = 1 + i % 12
            day = 1 + i % 28
            batch.append(
                f"0065e{i:010d}{suffix},{account_ids[i % ACCOUNTS]},{user_ids[i % USERS]},"
                f"Deal {i},{STAGES[stage]},{1000 + (i * 37) % 250000}.{i % 100:02d},"
                f"2025-{month:02d}-{day:02d},2024-{month:02d}-{day:02d}T10:{i % 60:02d}:00.000"
                f"+0000,{FORECAST[stage]},{closed},{won},Call back,2024-12-{day:02d},"
                f"{TYPES[i % 3]}\n")
            if len(batch) == 50_000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))
    return users, accounts, opportunities


def run(report: Callable[[str, float, str], None]) -> None:
    """Time a 1,000,000-row opportunity import into a fresh workspace and report rows/s."""
    with tempfile.TemporaryDirectory(prefix="revplan-bench-import-") as tmp:
        folder = Path(tmp)
        users, accounts, opportunities = write_files(folder)
        workspace = open_workspace("bench-import", create=True, base=folder / "workspaces")
        try:
            import_files(workspace, [users, accounts], actor="bench")
            start = time.perf_counter()
            summary = import_files(workspace, [opportunities], actor="bench")
            seconds = time.perf_counter() - start
        finally:
            workspace.close()
    if summary.totals.inserted != ROWS:
        raise RuntimeError(f"expected {ROWS:,} inserted rows, got {summary.totals.inserted:,} "
                           f"(rejected {summary.totals.rejected:,})")
    report("import rows/s", ROWS / seconds, "rows/s")
    report("import seconds", seconds, "s")
