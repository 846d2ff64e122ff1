"""Offline geocoding: ZIPs, US cities, cities abroad, states and countries, and misses."""

from __future__ import annotations

import pandas as pd
import pytest

from planning.geo import haversine_km
from planning.geocode import country_code, geocode, geocode_frame, weighted_centre


def km_from(point, lat: float, lon: float) -> float:
    return float(haversine_km(point.lat, point.lon, lat, lon))


@pytest.mark.parametrize(("address", "precision", "lat", "lon", "within_km"), [
    ({"zip_code": "02139"}, "zip", 42.365, -71.104, 3),
    ({"zip_code": "2139", "country": "US"}, "zip", 42.365, -71.104, 3),
    ({"zip_code": "78701-1234"}, "zip", 30.27, -97.74, 5),
    ({"city": "Austin", "state": "Texas"}, "city", 30.267, -97.743, 10),
    ({"city": "cambridge", "state": "ma", "country": "USA"}, "city", 42.375, -71.106, 10),
    ({"city": "Paris", "country": "France"}, "city", 48.857, 2.352, 10),
    ({"city": "Nairobi", "country": "KE"}, "city", -1.286, 36.817, 10),
    ({"city": "Munich", "country": "DEU"}, "city", 48.137, 11.575, 10),
    ({"state": "Colorado"}, "region", 39.3, -105.3, 250),
    ({"country": "Kenya"}, "country", -0.5, 37.0, 400),
    ({"country": "Philippines"}, "country", 12.5, 122.5, 500),
    ({"country": "united states"}, "country", 38.5, -93.0, 900),
    ({"country": "NOR"}, "country", 61.0, 10.0, 700),
])
def test_known_places(address: dict, precision: str, lat: float, lon: float,
                      within_km: float) -> None:
    point = geocode(**address)
    assert point is not None and point.precision == precision
    assert km_from(point, lat, lon) < within_km


def test_a_zip_abroad_is_not_read_as_a_us_zip() -> None:
    point = geocode(zip_code="10115", city="Berlin", country="Germany")
    assert point is not None and point.precision == "city"
    assert km_from(point, 52.52, 13.40) < 10


@pytest.mark.parametrize("name", ["United States", "USA", "usa", "US", "United States of "
                                  "America", "USA ", "u.s.a."])
def test_country_names_and_codes(name: str) -> None:
    assert country_code(name) == "US"


def test_other_country_codes() -> None:
    assert [country_code(c) for c in ("Philippines", "PHL", "ph", "Korea", "UK", "Narnia")] == [
        "PH", "PH", "PH", "KR", "GB", None]


@pytest.mark.parametrize("address", [{}, {"country": "Narnia"}, {"city": "Atlantis"},
                                     {"zip_code": "00000"}, {"state": "Middle Earth"}])
def test_unknown_places_are_none(address: dict) -> None:
    assert geocode(**address) is None


def test_a_frame_is_geocoded_by_distinct_address() -> None:
    frame = pd.DataFrame({"zip": ["02139", None, None, None] * 1000,
                          "city": [None, "Paris", None, None] * 1000,
                          "state": [None] * 4000,
                          "country": [None, "FR", "Kenya", "Narnia"] * 1000})
    located = geocode_frame(frame)
    assert list(located["precision"][:3]) == ["zip", "city", "country"]
    assert pd.isna(located["precision"][3])
    assert located["lat"].notna().sum() == 3000
    assert located.index.equals(frame.index)


def test_the_centre_crosses_the_antimeridian() -> None:
    lat, lon = weighted_centre([0.0, 0.0], [179.0, -179.0], [1.0, 1.0])
    assert abs(lat) < 1e-9 and abs(abs(lon) - 180.0) < 1e-6
