"""Territory problems on real US geography, for what-if exploration, tests and benchmarks.

Units are real ZIP codes (all active ZIPs when asked for more than exist), their workload one
plus the log of the population the demo geography allocates to them (with noise); reps live
in ZIPs drawn by population, and each unit's current rep is its nearest eligible rep.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from planning.territory.problem import TerritoryProblem
from planning.territory.validation import territory_problem


def us_zip_units() -> pd.DataFrame:
    """Every active US ZIP with coordinates: zip, lat, lon, state, population (from cities)."""
    return _us_zip_units().copy()


@lru_cache(maxsize=1)
def _us_zip_units() -> pd.DataFrame:
    import zipcodes

    from planning.demo.geography import load_geography

    rows = [(z["zip_code"], float(z["lat"]), float(z["long"]), z["state"])
            for z in zipcodes.list_all() if z["active"] and z["lat"] and z["long"]]
    frame = pd.DataFrame(rows, columns=["zip", "lat", "lon", "state"])
    frame = frame[frame["lat"].between(-90, 90) & frame["lon"].between(-180, 180)]
    population = load_geography().zips.set_index("zip")["population"]
    frame["population"] = frame["zip"].map(population).fillna(0).astype(np.int64)
    return frame.drop_duplicates("zip").sort_values("zip", ignore_index=True)


def us_territory_problem(
    units: int, reps: int, *, seed: int = 0, locked_share: float = 0.0,
    segments: tuple[str, ...] = (),
) -> TerritoryProblem:
    """A problem with `units` real ZIPs (or all of them, if fewer exist) and `reps` reps."""
    rng = np.random.default_rng(seed)
    zips = us_zip_units()
    if units < len(zips):
        chosen = np.sort(rng.choice(len(zips), size=units, replace=False))
        zips = zips.iloc[chosen].reset_index(drop=True)
    weight = zips["population"].to_numpy(dtype=float) + 2_000.0
    homes = rng.choice(len(zips), size=reps, replace=False, p=weight / weight.sum())
    rep_frame = pd.DataFrame({
        "rep_id": [f"R{i + 1:04d}" for i in range(reps)],
        "lat": zips["lat"].to_numpy()[homes], "lon": zips["lon"].to_numpy()[homes],
        "capacity": np.where(rng.random(reps) < 0.1, 0.5, 1.0),
        "segment": [segments[i % len(segments)] if segments else None for i in range(reps)],
    })
    workload = np.round((1 + np.log1p(zips["population"].to_numpy(dtype=float) / 500))
                        * rng.lognormal(0.0, 0.3, len(zips)), 2)
    unit_frame = pd.DataFrame({
        "unit_id": zips["zip"], "lat": zips["lat"], "lon": zips["lon"], "workload": workload,
        "segment": [segments[i] if segments else None
                    for i in rng.integers(0, max(len(segments), 1), len(zips))],
    })
    problem = territory_problem(unit_frame, rep_frame)
    nearest = np.argmin(np.where(problem.eligible, problem.distance_km, np.inf), axis=1)
    unit_frame["current_rep_id"] = rep_frame["rep_id"].to_numpy()[nearest]
    unit_frame["locked"] = rng.random(len(zips)) < locked_share
    return territory_problem(unit_frame, rep_frame)
