"""Owners, locations and rep homes derived after an import of an export that lacks them."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from planning.geo import haversine_km
from planning.geocode import geocode
from planning.ingest.run import import_files, run_summary
from planning.store import Workspace
from planning.store.locations import located_accounts_by_precision

COUNTRIES = ("United States", "Philippines", "Kenya", "Norway", "JP", "DEU", "narnia")
CITIES = (("Cambridge", "MA"), ("Austin", "TX"), ("Denver", "CO"), ("Seattle", "WA"))
MAPPING = """
[[mapping]]
entity = "reps"
files = ["team*.csv"]
[mapping.columns]
rep_id = "agent_id"
name = "agent"
home_lat = "home_lat"
home_lon = "home_lon"

[[mapping]]
entity = "accounts"
files = ["accounts*.csv"]
[mapping.columns]
account_id = "account"
name = "account"
employees = "employees"
annual_revenue = "revenue"
zip = "zip"
city = "city"
state = "state"
country = "office_location"

[[mapping]]
entity = "opportunities"
files = ["pipeline*.csv"]
[mapping.columns]
opportunity_id = "deal"
owner_id = "agent"
account_id = "account"
stage = "stage"
created_at = "created"
close_date = "close"
amount = "value"
[mapping.values.status]
"Won" = "won"
"Lost" = "lost"
"*" = "open"
[mapping.values.stage]
"Won" = "Closed Won"
"Lost" = "Closed Lost"
"""


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_export(folder: Path, *, today: dt.date | None = None, revenue: bool = True,
                 accounts: int = 60, reps: int = 6) -> list[Path]:
    """A realistic export: a team file with names but no homes (one rep with a given home),
    accounts with only a country, a US city/state or a ZIP and no owner, and deals over the
    last year ending at `today`; returns [team, accounts, pipeline, mapping]."""
    today = today or dt.datetime.now(dt.UTC).date()
    folder.mkdir(parents=True, exist_ok=True)
    team = [{"agent_id": f"A{i:02d}", "agent": f"Agent {chr(65 + i)}",
             "home_lat": "47.6" if i == 0 else "", "home_lon": "-122.3" if i == 0 else ""}
            for i in range(reps)]
    account_rows = []
    for i in range(accounts):
        row = {"account": f"Account {i:03d}", "employees": 50 + 37 * i,
               "revenue": (1_000_000 + 25_000 * i) if revenue else "",
               "zip": "", "city": "", "state": "", "office_location": ""}
        if i % 3 == 0:
            row["office_location"] = COUNTRIES[(i // 3) % len(COUNTRIES)]
        elif i % 3 == 1:
            row["city"], row["state"] = CITIES[(i // 3) % len(CITIES)]
            row["office_location"] = "USA"
        else:
            row["zip"] = ("02139", "78701", "80202", "98101")[(i // 3) % 4]
        account_rows.append(row)
    deals = []
    for i in range(accounts):
        # Account i: two deals by rep i % reps, one by the next rep (majority: the first).
        for k, rep in enumerate((i % reps, i % reps, (i + 1) % reps)):
            close = today - dt.timedelta(days=10 + (37 * i + 101 * k) % 340)
            status = ("Won", "Lost", "Negotiation")[(i + k) % 3]
            if status == "Negotiation":
                close = today + dt.timedelta(days=20 + i % 60)
            deals.append({"deal": f"D{i:03d}{k}", "agent": f"Agent {chr(65 + rep)}",
                          "account": f"Account {i:03d}", "stage": status,
                          "created": (today - dt.timedelta(days=400 - k)).isoformat(),
                          "close": close.isoformat(), "value": 5_000 + 1_000 * (i % 7)})
    mapping = folder / "mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return [_write(folder / "team.csv", team), _write(folder / "accounts.csv", account_rows),
            _write(folder / "pipeline.csv", deals), mapping]


def import_export(workspace: Workspace, folder: Path, **options: object):
    """Write the export into `folder` and import it; returns the run summary."""
    *files, mapping = write_export(folder, **options)
    return import_files(workspace, files, mapping_path=mapping)


def rows(workspace: Workspace, sql: str) -> list[tuple]:
    return workspace.read(lambda cur: cur.execute(sql).fetchall())


def test_owners_locations_and_homes_are_derived(workspace: Workspace, tmp_path: Path) -> None:
    summary = import_export(workspace, tmp_path / "export")

    owners = dict(rows(workspace, "SELECT account_id, owner_id FROM accounts"))
    assert owners["Account 000"] == "A00" and owners["Account 007"] == "A01"
    assert all(owners[f"Account {i:03d}"] == f"A{i % 6:02d}" for i in range(60))
    assert rows(workspace, "SELECT bool_and(owner_derived) FROM accounts") == [(True,)]

    counts = workspace.read(located_accounts_by_precision)
    # 20 country rows of which every 7th is "narnia"; 20 city rows; 20 ZIP rows.
    narnia = sum(1 for i in range(0, 60, 3) if (i // 3) % 7 == 6)
    assert counts == {"zip": 20, "city": 20, "country": 20 - narnia, "none": narnia}
    kenya = rows(workspace, "SELECT lat, lon, geo_precision FROM accounts "
                            "WHERE account_id = 'Account 006'")[0]
    assert kenya[2] == "country" and -5 < kenya[0] < 5 and 33 < kenya[1] < 42

    homes = dict(((r, (lat, lon, d)) for r, lat, lon, d in rows(
        workspace, "SELECT rep_id, home_lat, home_lon, home_derived FROM reps")))
    assert homes["A00"] == (47.6, -122.3, False)
    assert all(homes[f"A{i:02d}"][2] for i in range(1, 6))
    assert all(-90 <= homes[f"A{i:02d}"][0] <= 90 for i in range(1, 6))

    assert summary.derived["owners_derived"] == 60
    assert summary.derived["located_by_precision"] == {"zip": 20, "city": 20,
                                                       "country": 20 - narnia}
    assert summary.derived["not_located"] == narnia
    assert summary.derived["rep_homes_derived"] == 5
    stored = run_summary(workspace, summary.run_id)
    assert stored is not None and stored.derived == summary.derived
    assert "60 account owners from their deals" in summary.to_text()
    event = rows(workspace, "SELECT after_json FROM audit_events WHERE action = 'import.run'")
    assert json.loads(event[0][0])["derived"]["rep_homes_derived"] == 5


def test_a_tie_goes_to_the_owner_of_the_latest_deal(workspace: Workspace,
                                                    tmp_path: Path) -> None:
    folder = tmp_path / "tie"
    team, accounts, _, mapping = write_export(folder, accounts=3, reps=3)
    deals = _write(folder / "pipeline.csv", [
        {"deal": "T1", "agent": "Agent A", "account": "Account 000", "stage": "Won",
         "created": "2024-01-01", "close": "2024-02-01", "value": 100},
        {"deal": "T2", "agent": "Agent B", "account": "Account 000", "stage": "Won",
         "created": "2024-03-01", "close": "2024-04-01", "value": 100},
    ])
    import_files(workspace, [team, accounts, deals], mapping_path=mapping)
    assert rows(workspace, "SELECT owner_id FROM accounts WHERE account_id = 'Account 000'"
                ) == [("A01",)]


def test_derived_values_follow_later_imports_and_given_ones_stay(workspace: Workspace,
                                                                  tmp_path: Path) -> None:
    import_export(workspace, tmp_path / "first")
    before = dict(rows(workspace, "SELECT rep_id, home_lat FROM reps"))
    import_export(workspace, tmp_path / "second")
    assert dict(rows(workspace, "SELECT rep_id, home_lat FROM reps")) == pytest.approx(before)

    workspace.write(lambda cur: cur.execute(
        "UPDATE accounts SET owner_id = 'A05', owner_derived = FALSE "
        "WHERE account_id = 'Account 000'"))
    import_export(workspace, tmp_path / "third")
    assert rows(workspace, "SELECT owner_id, owner_derived FROM accounts "
                           "WHERE account_id = 'Account 000'") == [("A05", False)]
    assert rows(workspace, "SELECT home_lat, home_lon, home_derived FROM reps "
                           "WHERE rep_id = 'A00'") == [(47.6, -122.3, False)]


def test_a_derived_home_lies_among_its_accounts(workspace: Workspace, tmp_path: Path) -> None:
    import_export(workspace, tmp_path / "export")
    home = rows(workspace, "SELECT home_lat, home_lon FROM reps WHERE rep_id = 'A01'")[0]
    located = rows(workspace, "SELECT lat, lon FROM accounts WHERE owner_id = 'A01' "
                              "AND lat IS NOT NULL")
    assert located
    lat_range = (min(p[0] for p in located), max(p[0] for p in located))
    assert lat_range[0] - 1 <= home[0] <= lat_range[1] + 1


def test_demo_workspaces_have_given_locations(demo_copy: Workspace) -> None:
    counts = demo_copy.read(located_accounts_by_precision)
    assert set(counts) == {"given"}
    point = geocode(zip_code="02139")
    assert point is not None and float(haversine_km(
        point.lat, point.lon, 42.3647, -71.1042)) < 2
