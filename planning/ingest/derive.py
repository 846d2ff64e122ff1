"""Values derived after every import, where the export lacks them.

Runs inside the import's transaction, after every file is loaded:

1. **Owners.** An account without an owner gets the owner of most of its deals; on a tie the
   tied owner whose latest deal was created most recently. Marked derived (`owner_derived`)
   and recomputed on every import, until a file gives the account an owner.
2. **Locations.** An account without latitude/longitude is geocoded offline from its ZIP,
   city + state, city + country, US state or country (`planning.geocode`), and its
   `geo_precision` says which. Coordinates a file gives are kept and marked `given`; derived
   ones are recomputed from the current address on every import.
3. **Rep homes.** An active rep without a home gets the workload-weighted centre of their
   located accounts (`home_derived`, recomputed on every import); a home a file gives is never
   overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import duckdb
import pyarrow.compute as pc

from planning.geocode import geocode_frame
from planning.ingest.fields import ACCOUNTS, REPS
from planning.ingest.normalize import UNKNOWN_ACCOUNT_ID, Prepared
from planning.store import locations as repo


@dataclass
class Derivations:
    """What the derivation step filled in: counts for the run summary and audit event."""

    owners_derived: int = 0
    located_by_precision: dict[str, int] = field(default_factory=dict)
    """Accounts located by zip, city, region or country in this run's workspace state."""
    not_located: int = 0
    rep_homes_derived: int = 0

    def as_dict(self) -> dict[str, object]:
        """The counts by name (JSON-ready)."""
        return asdict(self)


def _ids_with(item: Prepared, key: str, fields: tuple[str, ...]) -> list[str]:
    """Keys of the file's rows that carry a value in every one of `fields`."""
    if key not in item.values or any(name not in item.values for name in fields):
        return []
    present = None
    for name in fields:
        mask = pc.is_valid(item.values[name])
        present = mask if present is None else pc.and_(present, mask)
    ids = pc.filter(item.values[key], present).cast("string").to_pylist()
    return [i for i in ids if i is not None]


def derive_after_load(cur: duckdb.DuckDBPyConnection,
                      loaded: Sequence[Prepared] = ()) -> Derivations:
    """Derive owners, account locations and rep homes where the data lack them (see the
    module docstring); `loaded` are the run's files, whose given values are kept."""
    for item in loaded:
        if item.binding.entity is ACCOUNTS:
            repo.mark_given(cur, "accounts", _ids_with(item, "account_id", ("lat", "lon")))
            repo.mark_given(cur, "owners", _ids_with(item, "account_id", ("owner_id",)))
        elif item.binding.entity is REPS:
            repo.mark_given(cur, "reps", _ids_with(item, "rep_id", ("home_lat", "home_lon")))
    owners = repo.derive_owners(cur, unowned=[UNKNOWN_ACCOUNT_ID])
    repo.mark_given_coordinates(cur)
    addresses = repo.addresses_to_locate(cur)
    if not addresses.empty:
        located = geocode_frame(addresses)
        repo.write_locations(cur, addresses[["account_id"]].join(located))
    homes = repo.derive_rep_homes(cur)
    counts = repo.located_accounts_by_precision(cur)
    return Derivations(
        owners_derived=owners,
        located_by_precision={k: v for k, v in counts.items() if k in repo.DERIVED_PRECISIONS},
        not_located=counts.get("none", 0), rep_homes_derived=homes)
