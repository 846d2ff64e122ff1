"""A believable B2B software company, generated deterministically from a seed.

The story (also in the README): "Northwind Cloud" sells an analytics platform in three editions
plus add-ons to US companies. Reps work in regional teams under managers, each carrying one
segment (SMB, Mid-Market, Enterprise). Accounts sit on real ZIP codes, more of them where more
people live. Every opportunity has a hidden quality; it drives what a CRM records (how busy the
deal is, how often its close date slips, whether a next step is kept, how fast it moves through
stages) and, together with the rep's skill and the deal's size against its segment, whether it
is won. So the recorded signals carry real information about the outcome, as in a real CRM,
without any rule that decides the outcome from them alone. Some reps sandbag (they forecast
deals they will win too low), some are optimistic; deals cluster at quarter end.

Everything is vectorised with NumPy so that a million opportunities and their ten million
history rows generate in minutes.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planning.demo.geography import COARSE_REGIONS, REGION_STATES, load_geography
from planning.progress import ProgressCallback, no_progress

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
SEGMENT_REP_SHARE = np.array([0.40, 0.35, 0.25])
SEGMENT_MEDIAN_AMOUNT = np.array([12_000.0, 45_000.0, 180_000.0])
SEGMENT_CYCLE_DAYS = np.array([35.0, 70.0, 120.0])
SEGMENT_WIN_INTERCEPT = np.array([-0.55, -0.85, -1.15])
SEGMENT_ACTIVITIES_PER_WEEK = np.array([1.6, 1.2, 1.0])
SEGMENT_RAMP_MONTHS = np.array([4, 6, 9])

OPEN_STAGES = ("Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation")
STAGES = (*OPEN_STAGES, "Closed Won", "Closed Lost")
FORECAST_CATEGORIES = ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")
STAGE_FORECAST_LEVEL = np.array([0, 0, 1, 1, 2])
LOST_MAX_STAGE_P = np.array([0.30, 0.27, 0.21, 0.14, 0.08])
OPPORTUNITY_TYPES = ("New Business", "Expansion", "Renewal")
TYPE_P = np.array([0.55, 0.30, 0.15])
TYPE_WIN_EFFECT = np.array([0.0, 0.45, 1.4])
ACTIVITY_KINDS = ("call", "email", "meeting")

HISTORY_FIELDS = (
    "created", "stage", "amount", "close_date", "forecast_category", "next_step", "next_step_date"
)
(F_CREATED, F_STAGE, F_AMOUNT, F_CLOSE, F_FORECAST, F_NEXT_STEP, F_NEXT_STEP_DATE) = range(7)

NEXT_STEPS = (
    "Intro call with champion",
    "Confirm budget and timeline",
    "Discovery workshop",
    "Technical deep dive",
    "Security review",
    "Send proposal",
    "Pricing review with economic buyer",
    "Legal redlines",
    "Procurement sign-off",
    "Executive sponsor call",
    "Mutual close plan review",
    "Reference call",
)
NEXT_STEPS_BY_STAGE = np.array([[0, 1], [1, 2], [3, 4], [5, 6], [7, 8]])

PRODUCTS = (
    ("PLT-STD", "Northwind Platform Standard", "Platform", 36_000),
    ("PLT-PRO", "Northwind Platform Professional", "Platform", 60_000),
    ("PLT-ENT", "Northwind Platform Enterprise", "Platform", 96_000),
    ("ADD-CON", "Data Connectors Pack", "Add-on", 18_000),
    ("ADD-SEC", "Advanced Security", "Add-on", 24_000),
    ("ADD-AI", "AI Assist", "Add-on", 30_000),
    ("SUP-PRM", "Premium Support", "Services", 12_000),
    ("SVC-ONB", "Onboarding Services", "Services", 15_000),
)
"""Product id, name, family and list price per seat-year in cents."""
PRICE_BOOK_DISCOUNT = {"List": 0.0, "SMB": 0.0, "Mid-Market": 0.08, "Enterprise": 0.15}

INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Manufacturing", "Retail", "Logistics",
    "Media", "Education", "Energy", "Professional Services", "Telecommunications", "Insurance",
)
NAME_FIRST = (
    "Blue", "North", "Silver", "Granite", "Summit", "Harbor", "Cedar", "Iron", "Bright", "Clear",
    "Pioneer", "Atlas", "Keystone", "Evergreen", "Red", "Golden", "Prairie", "Coastal", "Lake",
    "Union", "Liberty", "Frontier", "Sterling", "Crescent", "Orchard", "Beacon", "Copper",
    "Meridian", "Horizon", "Vista", "Oak", "Pine", "River", "Stone", "Maple", "Falcon",
)
NAME_SECOND = (
    "Peak", "Point", "Bridge", "Field", "Gate", "Works", "Line", "Path", "Wave", "Rock", "Light",
    "Ridge", "Bay", "Crest", "Forge", "Mark", "Stream", "Core", "Labs", "Systems", "Partners",
    "Group", "Dynamics", "Logic", "Data", "Health", "Foods", "Freight", "Capital", "Energy",
)
NAME_SUFFIX = ("Inc.", "LLC", "Corp.", "Co.", "Holdings", "Technologies", "Industries", "Ltd.")
FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Ethan", "Harper", "Mason", "Evelyn", "Logan", "Abigail", "Aiden",
    "Priya", "Wei", "Carlos", "Fatima", "Diego", "Aisha", "Kenji", "Maria", "David", "Grace",
    "Samuel", "Chloe", "Omar", "Nina", "Hannah", "Marcus", "Leah", "Andre", "Zoe", "Tomas",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill", "Adams",
    "Baker", "Nelson", "Patel", "Chen", "Kim", "Shah", "Okafor", "Novak", "Rossi", "Silva",
)

DAY_US = 86_400_000_000


@dataclass(frozen=True)
class DemoSize:
    """How big a demo company is."""

    name: str
    team_layout: str
    """'coarse' (3 regional teams), 'regions' (8) or 'pods' (8 regions x 5 teams)."""
    reps: int
    accounts: int
    opportunities: int
    closed_quarters: int = 8


DEMO_SIZES: dict[str, DemoSize] = {
    "small": DemoSize("small", "coarse", reps=15, accounts=600, opportunities=4_000),
    "medium": DemoSize("medium", "regions", reps=60, accounts=6_000, opportunities=40_000),
    "large": DemoSize("large", "pods", reps=600, accounts=150_000, opportunities=1_000_000),
}


@dataclass
class DemoCompany:
    """The generated tables as frames; ids are integers the store turns into CRM-style ids."""

    as_of: dt.date
    origin: dt.date
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)


def _days(values: np.ndarray, origin: np.datetime64) -> np.ndarray:
    """Float day offsets from origin to datetime64[us]."""
    return origin.astype("datetime64[us]") + (values * DAY_US).astype("timedelta64[us]")


def _business_time(day_offsets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move float day offsets to a time of day within US business hours (UTC 14:00-23:30)."""
    return np.floor(day_offsets) + rng.uniform(14 / 24, 23.5 / 24, size=day_offsets.shape)


def _quarter_end_day(day_offsets: np.ndarray, origin: np.datetime64) -> np.ndarray:
    """Day offset of the last day of the calendar quarter containing each offset."""
    days = origin + np.floor(day_offsets).astype("timedelta64[D]")
    months = days.astype("datetime64[M]").astype(np.int64)
    next_quarter = ((months // 3) + 1) * 3
    end = next_quarter.astype("datetime64[M]").astype("datetime64[D]") - np.timedelta64(1, "D")
    return (end - origin).astype(np.int64).astype(float)


def _quarter_start(day: dt.date, quarters_back: int) -> dt.date:
    month_index = day.year * 12 + (day.month - 1) // 3 * 3 - 3 * quarters_back
    return dt.date(month_index // 12, month_index % 12 + 1, 1)


def _teams(size: DemoSize) -> list[tuple[str, str, tuple[str, ...]]]:
    """(team name, region, states) for the company's layout."""
    if size.team_layout == "coarse":
        return [
            (name, name, tuple(s for r in regions for s in REGION_STATES[r]))
            for name, regions in COARSE_REGIONS.items()
        ]
    if size.team_layout == "regions":
        return [(region, region, states) for region, states in REGION_STATES.items()]
    pods = ("Enterprise", "Mid-Market A", "Mid-Market B", "SMB A", "SMB B")
    return [
        (f"{region} {pod}", region, states)
        for region, states in REGION_STATES.items()
        for pod in pods
    ]


def _split(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Split a whole number by weights (largest remainder), each part at least `minimum`."""
    raw = weights / weights.sum() * (total - minimum * len(weights))
    parts = np.floor(raw).astype(int)
    remainder = total - minimum * len(weights) - parts.sum()
    parts[np.argsort(-(raw - parts), kind="stable")[:remainder]] += 1
    return parts + minimum


def _person_names(rng: np.random.Generator, count: int) -> list[str]:
    first = rng.integers(0, len(FIRST_NAMES), count)
    last = rng.integers(0, len(LAST_NAMES), count)
    names = [f"{FIRST_NAMES[f]} {LAST_NAMES[x]}" for f, x in zip(first, last, strict=True)]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    return unique


def _build_reps(size: DemoSize, rng: np.random.Generator, as_of: dt.date) -> pd.DataFrame:
    """The sales org: a VP, one manager per team, reps with segments, hire dates and homes."""
    geo = load_geography()
    teams = _teams(size)
    state_population = geo.zips.groupby("state")["population"].sum()
    team_weights = np.array(
        [state_population[list(states)].sum() / sum(1 for _, r, _ in teams if r == region)
         for _, region, states in teams]
    )
    reps_per_team = _split(size.reps, np.sqrt(team_weights), minimum=3)
    rows = []
    today = np.datetime64(as_of, "D")
    for team_no, ((team, region, states), count) in enumerate(
        zip(teams, reps_per_team, strict=True)
    ):
        cities = geo.cities[geo.cities["state"].isin(states)]
        city_p = cities["population"].to_numpy(dtype=float) ** 1.3
        homes = cities.iloc[rng.choice(len(cities), size=count + 1, p=city_p / city_p.sum())]
        if size.team_layout == "pods":
            pod_segment = next((s for s in SEGMENTS if s in team), SEGMENTS[0])
            segments = np.full(count, SEGMENTS.index(pod_segment))
        else:
            segments = np.repeat(np.arange(3), _split(count, SEGMENT_REP_SHARE, minimum=1))
        tenure_days = np.where(
            rng.random(count) < 0.15,
            rng.uniform(20, 200, count),
            rng.uniform(365, 6 * 365, count),
        )
        hire = today - tenure_days.astype("timedelta64[D]")
        for i in range(count + 1):
            home = homes.iloc[i]
            is_manager = i == 0
            segment = None if is_manager else SEGMENTS[segments[i - 1]]
            rows.append({
                "team": team, "region": region, "team_no": team_no,
                "role": "manager" if is_manager else "rep",
                "segment": segment,
                "hire_date": (today - np.timedelta64(int(rng.uniform(3, 9) * 365), "D"))
                if is_manager else hire[i - 1],
                "ramp_months": 0 if is_manager else int(SEGMENT_RAMP_MONTHS[segments[i - 1]]),
                "capacity": 1.0 if is_manager or rng.random() > 0.05 else 0.5,
                "home_city": home["name"], "home_state": home["state"],
                "home_lat": float(home["lat"]), "home_lon": float(home["lon"]),
                "home_zip": geo.zips["zip"].iat[int(home["zip_rows"][0])],
            })
    reps = pd.DataFrame(rows)
    vp = pd.DataFrame([{
        "team": "Sales Leadership", "region": "US", "team_no": -1, "role": "executive",
        "segment": None, "hire_date": today - np.timedelta64(7 * 365, "D"), "ramp_months": 0,
        "capacity": 1.0, "home_city": "New York City", "home_state": "NY",
        "home_lat": 40.7484, "home_lon": -73.9967, "home_zip": "10001",
    }])
    reps = pd.concat([vp, reps], ignore_index=True)
    reps["rep_no"] = np.arange(1, len(reps) + 1)
    reps["name"] = _person_names(rng, len(reps))
    reps["email"] = [
        n.lower().replace(" ", ".") + "@northwind-demo.com" for n in reps["name"]
    ]
    manager_of_team = reps[reps["role"] == "manager"].set_index("team_no")["rep_no"]
    reps["manager_no"] = np.where(
        reps["role"] == "rep", reps["team_no"].map(manager_of_team).fillna(0).astype(int),
        np.where(reps["role"] == "manager", 1, 0),
    )
    reps["title"] = np.select(
        [reps["role"] == "executive", reps["role"] == "manager"],
        ["VP of Sales", "Regional Sales Manager"],
        default="Account Executive, " + reps["segment"].fillna(""),
    )
    reps["hire_date"] = pd.to_datetime(reps["hire_date"]).dt.date
    reps["skill"] = np.where(reps["role"] == "rep", rng.normal(0.0, 0.45, len(reps)), 0.0)
    reps["forecast_style"] = np.where(
        reps["role"] == "rep", rng.choice([-1, 0, 1], size=len(reps), p=[0.2, 0.6, 0.2]), 0
    )
    return reps


def _build_accounts(
    size: DemoSize, rng: np.random.Generator, reps: pd.DataFrame, origin: np.datetime64,
    window_days: float,
) -> pd.DataFrame:
    """Accounts on real ZIPs, more where people live, owned by a rep of their segment."""
    geo = load_geography()
    team_states = {team: states for team, _, states in _teams(size)}
    cities = geo.cities
    city_p = cities["population"].to_numpy(dtype=float) ** 0.9
    city_rows = rng.choice(len(cities), size=size.accounts, p=city_p / city_p.sum())
    zip_choice = rng.integers(0, 6, size.accounts)
    zip_rows = np.stack(cities["zip_rows"].to_numpy())[city_rows, zip_choice]
    zips = geo.zips.iloc[zip_rows].reset_index(drop=True)

    employees = np.round(np.exp(rng.normal(np.log(180), 1.6, size.accounts))).astype(int) + 5
    segment = np.where(employees < 200, 0, np.where(employees < 2000, 1, 2))
    revenue_per_employee = rng.uniform(120_000, 420_000, size.accounts)
    accounts = pd.DataFrame({
        "account_no": np.arange(1, size.accounts + 1),
        "industry": np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), size.accounts)],
        "segment_code": segment,
        "employees": employees,
        "annual_revenue_cents": (employees * revenue_per_employee * 100).astype(np.int64)
        // 100_000_00 * 100_000_00,
        "zip": zips["zip"], "city": zips["city"], "state": zips["state"],
        "county": zips["county"], "lat": zips["lat"], "lon": zips["lon"],
        "created_day": rng.uniform(-900, window_days * 0.8, size.accounts),
    })
    a = rng.integers(0, len(NAME_FIRST), size.accounts)
    b = rng.integers(0, len(NAME_SECOND), size.accounts)
    c = rng.integers(0, len(NAME_SUFFIX), size.accounts)
    names = pd.Series(
        [f"{NAME_FIRST[i]}{NAME_SECOND[j].lower()} {NAME_SUFFIX[k]}" for i, j, k in zip(a, b, c,
                                                                                        strict=True)]
    )
    duplicate_no = names.groupby(names).cumcount()
    accounts["name"] = np.where(
        duplicate_no == 0, names, names + " (" + accounts["city"] + ")"
    )
    accounts["name"] = np.where(
        accounts["name"].duplicated(), accounts["name"] + " #" + accounts["account_no"].astype(str),
        accounts["name"],
    )

    as_of = origin + np.timedelta64(int(window_days), "D")
    accounts["owner_no"] = _current_owners(size, rng, reps, accounts, team_states, as_of)
    accounts["created_at"] = _days(_business_time(accounts["created_day"].to_numpy(), rng), origin)
    return accounts.drop(columns=["created_day"])


OWNER_CANDIDATES = 8
"""Nearest reps of an account's segment that may own it today."""
OWNER_SCATTERED_SHARE = 0.1
"""Accounts owned by one of their nearest reps at random (inherited, historical picks)."""
OWNER_CROSS_REGION_KM = 300.0
"""How much farther than a rep of its own region a rep of another region must be to own it."""
OWNER_NOISE_KM = 60.0
"""Random extra distance per account and rep: books are not cut by a ruler, and reps living
in the same city split its accounts."""
KM_PER_DEGREE = 111.2
"""Kilometres per degree of latitude."""
OWNER_OUTLIER_SHARE = 0.05
"""Reps carrying a book far from their share: overloaded veterans, thin or rebuilt books."""


def _current_owners(
    size: DemoSize, rng: np.random.Generator, reps: pd.DataFrame, accounts: pd.DataFrame,
    team_states: dict[str, tuple[str, ...]], as_of: np.datetime64,
) -> np.ndarray:
    """Today's owner of every account, as a real company's books look: each rep owns accounts
    of their segment near home, mostly in their own region, with a revenue load close to
    their ramp-adjusted capacity share (most within ±40 %), a few reps far over or under it,
    and some accounts scattered to a nearby rep for history's sake."""
    sellers = reps[reps["role"] == "rep"].reset_index(drop=True)
    team_region = reps.drop_duplicates("team").set_index("team")["region"]
    state_region = {state: team_region[team] for team, states in team_states.items()
                    for state in states}
    region_code = {region: code for code, region in enumerate(sorted(set(team_region)))}
    account_region = accounts["state"].map(state_region).map(region_code).to_numpy()
    seller_region = sellers["region"].map(region_code).to_numpy()
    tenure_days = (as_of - pd.to_datetime(sellers["hire_date"]).to_numpy()
                   .astype("datetime64[D]")).astype(np.int64)
    ramp = np.where(sellers["ramp_months"] > 0,
                    np.clip(tenure_days / (30.4 * sellers["ramp_months"].clip(lower=1)), 0.1, 1),
                    1.0)
    capacity = sellers["capacity"].to_numpy(dtype=float) * ramp
    spread = np.clip(rng.normal(0.0, 0.15, len(sellers)), -0.3, 0.3)
    outliers = rng.choice(len(sellers), size=max(1, round(OWNER_OUTLIER_SHARE * len(sellers))),
                          replace=False)
    over = rng.random(outliers.size) < 0.5
    spread[outliers] = np.where(over, rng.uniform(0.55, 0.85, outliers.size),
                                -rng.uniform(0.42, 0.58, outliers.size))
    workload = accounts["annual_revenue_cents"].to_numpy(dtype=float)
    lat, lon = accounts["lat"].to_numpy(), accounts["lon"].to_numpy()
    segment = accounts["segment_code"].to_numpy()
    owner = np.zeros(len(accounts), dtype=int)
    for seg in range(3):
        rows = np.flatnonzero(segment == seg)
        pool = np.flatnonzero(sellers["segment"].to_numpy() == SEGMENTS[seg])
        if rows.size == 0:
            continue
        if pool.size == 0:
            pool = np.arange(len(sellers))
        k = min(OWNER_CANDIDATES, pool.size)
        near = np.zeros((rows.size, k), dtype=np.int64)
        near_km = np.zeros((rows.size, k))
        pool_region = seller_region[None, pool]
        pool_lat = sellers["home_lat"].to_numpy()[None, pool]
        pool_lon = sellers["home_lon"].to_numpy()[None, pool]
        for start in range(0, rows.size, 20_000):
            chunk = rows[start:start + 20_000]
            # A flat-earth distance: within a few percent of the great circle over a region,
            # and many times faster for the largest demo.
            east = (lon[chunk, None] - pool_lon) * np.cos(np.radians(lat[chunk, None]))
            km = KM_PER_DEGREE * np.hypot(lat[chunk, None] - pool_lat, east)
            km += OWNER_CROSS_REGION_KM * (account_region[chunk, None] != pool_region)
            km += rng.uniform(0.0, OWNER_NOISE_KM, km.shape)
            nearest = np.argpartition(km, k - 1, axis=1)[:, :k] if k < pool.size else (
                np.broadcast_to(np.arange(k), km.shape))
            near[start:start + chunk.size] = nearest
            near_km[start:start + chunk.size] = np.take_along_axis(km, nearest, axis=1)
        load = workload[rows]
        desired = load.sum() * capacity[pool] / capacity[pool].sum() * (1 + spread[pool])
        scattered = rng.random(rows.size) < OWNER_SCATTERED_SHARE
        pick = np.where(scattered, rng.integers(0, k, rows.size), 0)
        fixed = np.bincount(near[scattered, pick[scattered]], weights=load[scattered],
                            minlength=pool.size)
        free = ~scattered
        free_near, free_km, free_load = near[free], near_km[free], load[free]
        offset = np.zeros(pool.size)
        for step in np.linspace(60.0, 2.0, 150):
            choice = np.argmin(free_km - offset[free_near], axis=1)
            carried = fixed + np.bincount(np.take_along_axis(free_near, choice[:, None], 1)[:, 0],
                                          weights=free_load, minlength=pool.size)
            offset += step * np.clip(1 - carried / desired, -1, 1)
        pick[free] = choice
        owner[rows] = sellers["rep_no"].to_numpy()[pool[near[np.arange(rows.size), pick]]]
    return owner


@dataclass
class _Deals:
    """Per-opportunity arrays, all aligned."""

    account: np.ndarray
    owner: np.ndarray
    segment: np.ndarray
    kind: np.ndarray
    product: np.ndarray
    quality: np.ndarray
    created: np.ndarray
    closes: np.ndarray
    won: np.ndarray
    max_stage: np.ndarray
    amount0: np.ndarray


def _sample_deals(
    size: DemoSize, rng: np.random.Generator, reps: pd.DataFrame, accounts: pd.DataFrame,
    origin: np.datetime64, end_day: float,
) -> _Deals:
    """Who, what and when for every opportunity, and its hidden quality and outcome."""
    n = size.opportunities
    weight = accounts["employees"].to_numpy(dtype=float) ** 0.35
    account = rng.choice(len(accounts), size=n, p=weight / weight.sum())
    segment = accounts["segment_code"].to_numpy()[account]
    owner = accounts["owner_no"].to_numpy()[account]

    growth = 0.7
    u = rng.random(n)
    created = end_day * (np.sqrt(1 + ((1 + growth) ** 2 - 1) * u) - 1) / growth
    created = _business_time(created, rng)

    hire_day = (
        pd.to_datetime(reps["hire_date"]).to_numpy().astype("datetime64[D]") - origin
    ).astype(np.int64)
    rep_index = reps["rep_no"].to_numpy() - 1
    owner_hired = hire_day[rep_index[owner - 1]]
    before_hire = created < owner_hired
    team_of = reps["team_no"].to_numpy()
    for team_no in np.unique(team_of[owner[before_hire] - 1]):
        rows = np.flatnonzero(before_hire & (team_of[owner - 1] == team_no))
        team_reps = reps[(reps["team_no"] == team_no)]
        tenured = team_reps[
            (team_reps["role"] == "rep")
            & (hire_day[team_reps["rep_no"].to_numpy() - 1] < created[rows].min())
        ]
        pool = tenured if not tenured.empty else team_reps[team_reps["role"] == "manager"]
        owner[rows] = pool["rep_no"].to_numpy()[rng.integers(0, len(pool), rows.size)]

    kind = rng.choice(3, size=n, p=TYPE_P)
    platform = np.minimum(segment, 2)
    addon = rng.integers(3, len(PRODUCTS), n)
    product = np.where(kind == 0, platform, np.where(kind == 1, addon, platform))
    amount0 = np.exp(rng.normal(np.log(SEGMENT_MEDIAN_AMOUNT[segment]), 0.7))
    amount0 = np.where(kind == 1, amount0 * 0.45, amount0)
    amount0 = np.maximum(np.round(amount0, -2), 1_000.0)

    quality = rng.normal(0.0, 1.0, n)
    skill = reps["skill"].to_numpy()[owner - 1]
    size_ratio = np.log(amount0 / SEGMENT_MEDIAN_AMOUNT[segment])
    logit = (
        SEGMENT_WIN_INTERCEPT[segment] + 1.05 * quality + skill + TYPE_WIN_EFFECT[kind]
        - 0.35 * size_ratio
    )
    won = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    max_stage = np.where(won, 4, rng.choice(5, size=n, p=LOST_MAX_STAGE_P))
    return _Deals(
        account=account, owner=owner, segment=segment, kind=kind, product=product,
        quality=quality, created=created, closes=np.zeros(n), won=won, max_stage=max_stage,
        amount0=amount0,
    )


def _ragged(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For per-deal counts, the deal index and the position within the deal of each item."""
    deal = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(deal.size) - starts[deal]
    return deal, position


def _count_at_or_before(deal: np.ndarray, times: np.ndarray, cutoff: float, n: int) -> np.ndarray:
    """Per deal, how many of its items happened at or before the cutoff."""
    return np.bincount(deal[times <= cutoff], minlength=n)


def _build_pipeline(
    size: DemoSize, rng: np.random.Generator, reps: pd.DataFrame, accounts: pd.DataFrame,
    origin: np.datetime64, as_of_day: float, progress: ProgressCallback,
) -> dict[str, pd.DataFrame]:
    """Opportunities, their full field history and their activities."""
    deals = _sample_deals(size, rng, reps, accounts, origin, as_of_day)
    n = deals.account.size
    seg = deals.segment
    q = deals.quality
    size_ratio = np.log(deals.amount0 / SEGMENT_MEDIAN_AMOUNT[seg])

    cycle = np.exp(rng.normal(np.log(SEGMENT_CYCLE_DAYS[seg]), 0.35)) * np.exp(-0.12 * q)
    close0 = np.floor(deals.created + np.maximum(cycle, 14.0))

    push_rate = np.exp(-0.35 - 0.85 * q + 0.25 * size_ratio)
    pushes = np.minimum(rng.poisson(push_rate), 6)
    push_deal, push_pos = _ragged(pushes)
    push_delta = np.floor(rng.uniform(14, 46, push_deal.size))
    cum_delta = np.cumsum(push_delta)
    start_cum = np.concatenate([[0.0], cum_delta])[np.cumsum(pushes) - pushes][push_deal]
    push_to = close0[push_deal] + (cum_delta - start_cum)
    push_from = push_to - push_delta
    push_time = push_from - rng.uniform(-7, 6, push_deal.size)
    push_time = np.maximum(push_time, deals.created[push_deal] + 0.5 + push_pos * 1e-3)
    push_time = _monotone_within(push_deal, _business_time(push_time, rng))
    final_close = close0.copy()
    np.maximum.at(final_close, push_deal, push_to)

    qe = _quarter_end_day(final_close, origin)
    hockey = deals.won & (rng.random(n) < 0.4) & (qe - final_close < 25)
    won_close = np.where(hockey, qe - np.floor(rng.uniform(0, 6, n)), final_close)
    won_close = won_close + np.floor(rng.uniform(-4, 1, n))
    lost_close = deals.created + (final_close - deals.created) * rng.uniform(0.45, 1.05, n)
    close_time = _business_time(np.where(deals.won, won_close, lost_close), rng)
    close_time = np.maximum(close_time, deals.created + 1.0)

    keep_push = push_time < close_time[push_deal]
    push_deal = push_deal[keep_push]
    push_time, push_from, push_to = push_time[keep_push], push_from[keep_push], push_to[keep_push]
    final_close = close0.copy()
    np.maximum.at(final_close, push_deal, push_to)

    is_closed = close_time <= as_of_day
    progress(0.35, "stage progression")

    stage_deal, stage_pos = _ragged(deals.max_stage)
    stage_no = stage_pos + 1
    span = close_time[stage_deal] - deals.created[stage_deal]
    slowness = np.exp(-0.25 * q[stage_deal])
    frac = (stage_no / (deals.max_stage[stage_deal] + 1.0)) ** slowness
    jitter = rng.uniform(-0.3, 0.3, stage_deal.size) / (deals.max_stage[stage_deal] + 1.0)
    stage_time = deals.created[stage_deal] + span * np.clip(frac + jitter * 0.5, 0.02, 0.98)
    stage_time = _business_time(stage_time, rng)
    stage_time = np.minimum(stage_time, close_time[stage_deal] - 0.01)
    stage_time = _monotone_within(stage_deal, stage_time)

    amount_changes = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    amt_deal, amt_pos = _ragged(amount_changes)
    amt_time = deals.created[amt_deal] + (close_time[amt_deal] - deals.created[amt_deal]) * (
        rng.uniform(0.15, 0.95, amt_deal.size)
    )
    amt_time = _monotone_within(amt_deal, _business_time(amt_time, rng))
    cut_p = np.where(deals.won[amt_deal], 0.35, 0.7)
    factor = np.where(
        rng.random(amt_deal.size) < cut_p,
        rng.uniform(0.55, 0.95, amt_deal.size),
        rng.uniform(1.05, 1.4, amt_deal.size),
    )
    log_factor = np.log(factor)
    cum_log = np.cumsum(log_factor)
    start_log = np.concatenate([[0.0], cum_log])[np.cumsum(amount_changes) - amount_changes]
    amt_to = np.round(deals.amount0[amt_deal] * np.exp(cum_log - start_log[amt_deal]), -2)
    amt_to = np.maximum(amt_to, 500.0)
    amt_from = np.where(
        amt_pos == 0, deals.amount0[amt_deal], np.concatenate([[0.0], amt_to[:-1]])
    )

    progress(0.45, "activities and next steps")
    reps_style = reps["forecast_style"].to_numpy()[deals.owner - 1]
    level0 = np.clip(STAGE_FORECAST_LEVEL[0] + reps_style, 0, 2)
    fc_stage_level = np.clip(STAGE_FORECAST_LEVEL[stage_no] + reps_style[stage_deal], 0, 2)
    previous_level = np.where(
        stage_pos == 0, level0[stage_deal], np.concatenate([[0], fc_stage_level[:-1]])
    )
    fc_change = fc_stage_level != previous_level

    ns_p = 1.0 / (1.0 + np.exp(-(0.9 + 1.1 * q)))
    ns_events_deal = np.concatenate([np.arange(n), stage_deal])
    ns_events_time = np.concatenate([deals.created + 0.001, stage_time + 0.001])
    ns_events_stage = np.concatenate([np.zeros(n, dtype=np.int64), stage_no])
    ns_keep = rng.random(ns_events_deal.size) < ns_p[ns_events_deal]
    ns_deal = ns_events_deal[ns_keep]
    ns_time = ns_events_time[ns_keep]
    ns_text = NEXT_STEPS_BY_STAGE[ns_events_stage[ns_keep], rng.integers(0, 2, ns_deal.size)]
    ns_text = np.where(rng.random(ns_deal.size) < 0.08, rng.integers(9, 12, ns_deal.size),
                       ns_text)
    ns_due = np.floor(ns_time) + np.floor(rng.uniform(3, 22, ns_deal.size))
    order = np.lexsort((ns_time, ns_deal))
    ns_deal, ns_time, ns_text, ns_due = (
        ns_deal[order], ns_time[order], ns_text[order], ns_due[order]
    )
    ns_first = np.ones(ns_deal.size, dtype=bool)
    ns_first[1:] = ns_deal[1:] != ns_deal[:-1]

    active_end = np.where(
        deals.won, close_time, close_time - rng.uniform(8, 45, n) * np.exp(-0.3 * q)
    )
    active_end = np.maximum(active_end, deals.created + 0.5)
    weeks = (active_end - deals.created) / 7.0
    act_rate = SEGMENT_ACTIVITIES_PER_WEEK[seg] * np.exp(0.45 * q)
    act_count = np.minimum(rng.poisson(act_rate * weeks), 40)
    act_deal, _ = _ragged(act_count)
    act_time = deals.created[act_deal] + rng.random(act_deal.size) * (
        active_end[act_deal] - deals.created[act_deal]
    )
    act_time = _business_time(act_time, rng)
    act_kind = rng.choice(3, size=act_deal.size, p=[0.35, 0.45, 0.2])
    act_keep = act_time <= as_of_day
    act_deal, act_time, act_kind = act_deal[act_keep], act_time[act_keep], act_kind[act_keep]
    last_activity = np.full(n, np.nan)
    np.fmax.at(last_activity, act_deal, np.floor(act_time))

    progress(0.55, "current state of every deal")
    cutoff = as_of_day
    stage_done = _count_at_or_before(stage_deal, stage_time, cutoff, n)
    current_stage = np.where(is_closed, np.where(deals.won, 5, 6), stage_done)
    current_close = close0.copy()
    done_push = push_time <= cutoff
    np.maximum.at(current_close, push_deal[done_push], push_to[done_push])
    close_date_at_close = np.floor(close_time)
    final_close_date = np.where(is_closed, close_date_at_close, current_close)
    current_amount = deals.amount0.copy()
    amt_done = amt_time <= cutoff
    done_idx = np.flatnonzero(amt_done)
    last_amt_idx = np.full(n, -1)
    np.maximum.at(last_amt_idx, amt_deal[done_idx], done_idx)
    has_amt = last_amt_idx >= 0
    current_amount[has_amt] = amt_to[last_amt_idx[has_amt]]
    level_now = level0.copy()
    fc_done = np.flatnonzero(fc_change & (stage_time <= cutoff))
    last_fc_idx = np.full(n, -1)
    np.maximum.at(last_fc_idx, stage_deal[fc_done], fc_done)
    has_fc = last_fc_idx >= 0
    level_now[has_fc] = fc_stage_level[last_fc_idx[has_fc]]
    forecast_now = np.where(is_closed, np.where(deals.won, 3, 4), level_now)
    ns_done = np.flatnonzero(ns_time <= cutoff)
    last_ns_idx = np.full(n, -1)
    np.maximum.at(last_ns_idx, ns_deal[ns_done], ns_done)

    progress(0.6, "field history")
    hist = [
        _events(np.arange(n), deals.created, F_CREATED, np.nan, np.nan),
        _events(
            stage_deal, stage_time, F_STAGE, stage_no - 1.0, stage_no.astype(float)
        ),
        _events(
            np.arange(n), close_time, F_STAGE,
            deals.max_stage.astype(float), np.where(deals.won, 5.0, 6.0),
        ),
        _events(push_deal, push_time, F_CLOSE, push_from, push_to),
        _events(amt_deal, amt_time, F_AMOUNT, amt_from * 100, amt_to * 100),
        _events(
            stage_deal[fc_change], stage_time[fc_change], F_FORECAST,
            previous_level[fc_change].astype(float), fc_stage_level[fc_change].astype(float),
        ),
        _events(
            np.arange(n), close_time, F_FORECAST, np.nan, np.where(deals.won, 3.0, 4.0)
        ),
        _events(
            ns_deal, ns_time, F_NEXT_STEP,
            np.where(ns_first, np.nan, np.concatenate([[np.nan], ns_text[:-1].astype(float)])),
            ns_text.astype(float),
        ),
        _events(
            ns_deal, ns_time, F_NEXT_STEP_DATE,
            np.where(ns_first, np.nan, np.concatenate([[np.nan], ns_due[:-1]])), ns_due,
        ),
    ]
    closing_date_moves = close_date_at_close != final_close
    hist.append(
        _events(
            np.flatnonzero(closing_date_moves), close_time[closing_date_moves] + 1e-4, F_CLOSE,
            final_close[closing_date_moves], close_date_at_close[closing_date_moves],
        )
    )
    history = pd.concat(hist, ignore_index=True)
    closing_fc = (history["field"] == F_FORECAST) & history["old"].isna()
    history.loc[closing_fc, "old"] = level_at_close(
        history.loc[closing_fc, "opp"].to_numpy(), level0, stage_deal, fc_change, fc_stage_level
    )
    history = history[history["time"] <= cutoff]
    history = history.sort_values(["opp", "time", "field"], kind="stable", ignore_index=True)

    progress(0.7, "opportunity table")
    order = np.argsort(deals.created, kind="stable")
    opp_no = np.empty(n, dtype=np.int64)
    opp_no[order] = np.arange(1, n + 1)
    next_step = np.where(last_ns_idx >= 0, ns_text[np.maximum(last_ns_idx, 0)], -1)
    next_step_due = np.where(last_ns_idx >= 0, ns_due[np.maximum(last_ns_idx, 0)], np.nan)
    opportunities = pd.DataFrame({
        "opp_no": opp_no,
        "account_no": accounts["account_no"].to_numpy()[deals.account],
        "owner_no": deals.owner,
        "type_code": deals.kind,
        "product_code": deals.product,
        "stage_code": current_stage,
        "status_code": np.where(is_closed, np.where(deals.won, 1, 2), 0),
        "amount_cents": (current_amount * 100).astype(np.int64),
        "close_day": final_close_date,
        "created_at": _days(deals.created, origin),
        "closed_at": pd.Series(_days(close_time, origin)).where(is_closed),
        "forecast_code": forecast_now,
        "next_step_code": next_step,
        "next_step_day": next_step_due,
        "last_activity_day": last_activity,
    }).sort_values("opp_no", ignore_index=True)

    history_frame = pd.DataFrame({
        "history_no": np.arange(1, len(history) + 1),
        "opp_no": opp_no[history["opp"].to_numpy()],
        "changed_at": _days(history["time"].to_numpy(), origin),
        "field_code": history["field"].to_numpy().astype(np.int8),
        "old_num": history["old"].to_numpy(),
        "new_num": history["new"].to_numpy(),
        "actor_no": deals.owner[history["opp"].to_numpy()],
    })
    act_order = np.lexsort((act_time, opp_no[act_deal]))
    activities = pd.DataFrame({
        "activity_no": np.arange(1, act_deal.size + 1),
        "opp_no": opp_no[act_deal][act_order],
        "account_no": accounts["account_no"].to_numpy()[deals.account[act_deal]][act_order],
        "owner_no": deals.owner[act_deal][act_order],
        "kind_code": act_kind[act_order],
        "occurred_at": _days(act_time[act_order], origin),
    })
    return {
        "opportunities": opportunities,
        "opportunity_history": history_frame,
        "activities": activities,
        "_won": pd.DataFrame({
            "account_no": accounts["account_no"].to_numpy()[deals.account],
            "product_code": deals.product, "type_code": deals.kind,
            "amount": current_amount, "close_day": np.floor(close_time),
            "won": deals.won & is_closed, "quality": q,
        }),
    }


def level_at_close(
    deal: np.ndarray, level0: np.ndarray, stage_deal: np.ndarray, fc_change: np.ndarray,
    fc_stage_level: np.ndarray,
) -> np.ndarray:
    """The forecast level a deal had just before it closed (its last open-stage level)."""
    last = level0.astype(float).copy()
    idx = np.flatnonzero(fc_change)
    last_idx = np.full(level0.size, -1)
    np.maximum.at(last_idx, stage_deal[idx], idx)
    has = last_idx >= 0
    last[has] = fc_stage_level[last_idx[has]]
    return last[deal]


def _monotone_within(deal: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Sort the times of each deal's items so that position order is time order."""
    order = np.lexsort((times, deal))
    return times[order]


def _events(
    opp: np.ndarray, time_: np.ndarray, field_code: int, old: np.ndarray | float,
    new: np.ndarray | float,
) -> pd.DataFrame:
    """History rows of one field: deal index, time, field code, old and new value as numbers."""
    count = np.asarray(opp).size
    return pd.DataFrame({
        "opp": np.asarray(opp),
        "time": np.asarray(time_, dtype=float),
        "field": np.full(count, field_code, dtype=np.int8),
        "old": np.broadcast_to(np.asarray(old, dtype=float), (count,)).copy(),
        "new": np.broadcast_to(np.asarray(new, dtype=float), (count,)).copy(),
    })


CHURN_WARNED_SHARE = 0.75
"""Share of churning subscriptions whose usage and tickets show it before the end."""
WARNING_MONTHS = (5, 9)
"""A warned churn's active users start falling this many months (range) before it ends."""
CHURN_USAGE_DROP = 0.6
"""How far active users fall by the end of a warned churn (a dip falls half as far)."""
CHURN_LATE_TICKETS = 2.5
"""Mean extra tickets, mostly urgent or high, a warned churn opens in its last months."""
DIP_SHARE = 0.08
"""Share of renewing subscriptions with a three-month usage dip they recover from."""


def _build_customers(
    rng: np.random.Generator, won: pd.DataFrame, accounts: pd.DataFrame, as_of_day: float,
    origin: np.datetime64,
) -> dict[str, pd.DataFrame]:
    """Subscriptions from won deals, with monthly usage, support tickets and annual invoices.

    Each customer has a health drawn from its deals' quality and a trait of the account shared
    by all its subscriptions: healthy customers use more seats,
    open fewer urgent tickets, pay on time and renew; unhealthy ones drift toward churn. Most
    subscriptions that churn show it in their last months: active users fall from WARNING_MONTHS
    before the end and urgent or high tickets pile up; a few healthy ones dip for a while and
    recover.
    """
    deals = won[won["won"] & (won["type_code"] < 2)].reset_index(drop=True)
    n = len(deals)
    customer, customer_of_deal = np.unique(deals["account_no"].to_numpy(), return_inverse=True)
    health = (0.6 * deals["quality"].to_numpy() + rng.normal(0, 0.7, customer.size)[
        customer_of_deal] + rng.normal(0, 0.4, n))
    start = deals["close_day"].to_numpy() + 1
    years_elapsed = np.floor(np.maximum(as_of_day - start, 0) / 365.0)
    churn_year_p = 1 / (1 + np.exp(2.2 + 1.2 * health))
    survived_years = rng.geometric(np.clip(churn_year_p, 0.02, 0.98)) - 1
    churned = survived_years < years_elapsed
    terms = np.where(churned, survived_years + 1, years_elapsed + 1).astype(int)
    renewal = start + 365.0 * terms
    seats = np.maximum(
        np.round(deals["amount"].to_numpy() / np.array([p[3] for p in PRODUCTS])[
            deals["product_code"].to_numpy()] * 100), 1
    ).astype(int)
    subscriptions = pd.DataFrame({
        "subscription_no": np.arange(1, n + 1),
        "account_no": deals["account_no"].to_numpy(),
        "product_code": deals["product_code"].to_numpy(),
        "start_day": start, "renewal_day": renewal, "seats": seats,
        "arr_cents": (deals["amount"].to_numpy() * 100).astype(np.int64),
        "status_code": churned.astype(int),
    })

    first_month = np.datetime64(origin, "M")
    months_total = int((np.datetime64(origin + int(as_of_day), "M") - first_month).astype(int))
    sub_start_m = ((origin + start.astype(int).astype("timedelta64[D]")).astype("datetime64[M]")
                   - first_month).astype(int)
    sub_end_m = np.minimum(
        ((origin + renewal.astype(int).astype("timedelta64[D]")).astype("datetime64[M]")
         - first_month).astype(int),
        months_total,
    )
    live_months = np.maximum(sub_end_m - sub_start_m, 0)
    month_sub, month_pos = _ragged(live_months)
    adoption = 1 / (1 + np.exp(-(0.4 + 0.9 * health[month_sub] + rng.normal(0, 0.3,
                                                                                 month_sub.size))))
    ramp = np.minimum(1.0, (month_pos + 1) / 4)
    warned = churned & (rng.random(n) < CHURN_WARNED_SHARE)
    warning_months = rng.integers(WARNING_MONTHS[0], WARNING_MONTHS[1] + 1, n)
    into_decline = month_pos - (live_months[month_sub] - warning_months[month_sub]) + 1
    decline = np.where(warned[month_sub] & (into_decline > 0),
                       1 - CHURN_USAGE_DROP * np.minimum(into_decline / warning_months[month_sub],
                                                         1.0), 1.0)
    dipping = ~churned & (rng.random(n) < DIP_SHARE)
    dip_start = rng.integers(0, np.maximum(live_months, 1))
    dip = np.where(dipping[month_sub] & (month_pos >= dip_start[month_sub])
                   & (month_pos < dip_start[month_sub] + 3), 1 - CHURN_USAGE_DROP / 2, 1.0)
    active = np.round(seats[month_sub] * adoption * ramp * decline * dip).astype(int)
    usage = pd.DataFrame({
        "account_no": subscriptions["account_no"].to_numpy()[month_sub],
        "month": (first_month + (sub_start_m[month_sub] + month_pos)).astype("datetime64[D]"),
        "active_users": active,
        "events": (active * rng.gamma(4.0, 60.0, month_sub.size)).astype(np.int64),
    })
    usage = (
        usage.groupby(["account_no", "month"], as_index=False, sort=True)
        .agg(active_users=("active_users", "sum"), events=("events", "sum"))
    )

    ticket_rate = 0.35 * np.exp(-0.5 * health) * np.sqrt(seats)
    ticket_counts = rng.poisson(ticket_rate * np.maximum(live_months, 1) / 6)
    t_sub, _ = _ragged(ticket_counts)
    t_open = start[t_sub] + rng.random(t_sub.size) * (
        np.minimum(renewal[t_sub], as_of_day) - start[t_sub]
    )
    late_counts = np.where(warned, rng.poisson(CHURN_LATE_TICKETS, n), 0)
    late_sub, _ = _ragged(late_counts)
    late_open = renewal[late_sub] - rng.uniform(20, 30.5 * WARNING_MONTHS[1], late_sub.size)
    t_sub = np.concatenate([t_sub, late_sub])
    t_open = np.concatenate([t_open, np.maximum(late_open, start[late_sub])])
    t_open = _business_time(t_open, rng)
    urgency = (rng.random(t_sub.size) + 0.15 * np.maximum(-health[t_sub], 0)
               + 0.5 * (np.arange(t_sub.size) >= t_sub.size - late_sub.size))
    priority = np.digitize(urgency, [0.45, 0.8, 0.95])
    t_close = t_open + rng.gamma(1.5, 2.0 + priority, t_sub.size)
    t_closed = t_close <= as_of_day
    t_order = np.argsort(t_open, kind="stable")
    tickets = pd.DataFrame({
        "ticket_no": np.arange(1, t_sub.size + 1),
        "account_no": subscriptions["account_no"].to_numpy()[t_sub][t_order],
        "opened_at": _days(t_open[t_order], origin),
        "closed_at": pd.Series(_days(t_close[t_order], origin)).where(t_closed[t_order]),
        "priority_code": priority[t_order],
        "status_code": (~t_closed[t_order]).astype(int),
    })

    inv_sub, inv_year = _ragged(terms)
    issued = start[inv_sub] + 365.0 * inv_year
    keep = issued <= as_of_day
    inv_sub, issued = inv_sub[keep], issued[keep]
    due = issued + 30
    late_days = rng.exponential(4.0 * np.exp(-0.8 * health[inv_sub]))
    paid = issued + rng.uniform(5, 28, inv_sub.size) + late_days
    is_paid = paid <= as_of_day
    inv_order = np.argsort(issued, kind="stable")
    invoices = pd.DataFrame({
        "invoice_no": np.arange(1, inv_sub.size + 1),
        "account_no": subscriptions["account_no"].to_numpy()[inv_sub][inv_order],
        "subscription_no": subscriptions["subscription_no"].to_numpy()[inv_sub][inv_order],
        "issued_day": issued[inv_order], "due_day": due[inv_order],
        "paid_day": np.where(is_paid, np.floor(paid), np.nan)[inv_order],
        "amount_cents": subscriptions["arr_cents"].to_numpy()[inv_sub][inv_order],
        "status_code": np.where(is_paid, 0, np.where(due <= as_of_day, 2, 1))[inv_order],
    })
    return {"subscriptions": subscriptions, "usage": usage, "tickets": tickets,
            "invoices": invoices}


def _build_geo_units() -> pd.DataFrame:
    """Every standard US ZIP with its population and a market potential in cents.

    Potential is the ZIP's share of a $2.4 B addressable market, by population.
    """
    zips = load_geography().zips
    total = zips["population"].sum()
    potential = np.floor(zips["population"].to_numpy() / total * 2.4e9 * 100).astype(np.int64)
    return pd.DataFrame({
        "unit_id": zips["zip"], "city": zips["city"], "state": zips["state"],
        "county": zips["county"], "lat": zips["lat"], "lon": zips["lon"],
        "population": zips["population"], "potential_cents": potential,
    })


def build_demo_company(
    size: DemoSize, seed: int, as_of: dt.date, progress: ProgressCallback = no_progress
) -> DemoCompany:
    """Generate every table of a demo company as of a date, the same for the same inputs."""
    rng = np.random.default_rng(seed)
    window_start = _quarter_start(as_of, size.closed_quarters)
    origin = np.datetime64(window_start - dt.timedelta(days=180), "D")
    as_of_day = float((np.datetime64(as_of, "D") - origin).astype(int)) + 0.5
    progress(0.02, "sales organisation")
    reps = _build_reps(size, rng, as_of)
    progress(0.1, "accounts")
    accounts = _build_accounts(size, rng, reps, origin, as_of_day)
    progress(0.2, "opportunities")
    pipeline = _build_pipeline(size, rng, reps, accounts, origin, as_of_day, progress)
    progress(0.75, "customers")
    customers = _build_customers(rng, pipeline.pop("_won"), accounts, as_of_day, origin)
    company = DemoCompany(as_of=as_of, origin=origin.astype(dt.date))
    company.frames = {
        "reps": reps, "accounts": accounts, **pipeline, **customers,
        "geo_units": _build_geo_units(),
    }
    return company


DEMO_STAFF: tuple[tuple[str, str], ...] = (
    ("admin", "Alex Morgan"),
    ("revops", "Robin Ortiz"),
    ("finance", "Fran Ibsen"),
    ("comp", "Casey Compton"),
    ("deal_desk", "Drew Desai"),
    ("cs", "Chris Sato"),
    ("viewer", "Val Verma"),
)
"""Demo colleagues outside the sales org, one per role; their emails are name-based."""


@dataclass(frozen=True)
class DemoPerson:
    """Someone who can sign in to the demo workspace, with the one role they hold."""

    email: str
    name: str
    role: str
    description: str


def demo_people(company: DemoCompany) -> list[DemoPerson]:
    """One person per role: the VP as sales leader, the manager of the largest team and one
    of that manager's reps, and a colleague for each other role."""
    reps = company.frames["reps"]
    vp = reps[reps["role"] == "executive"].iloc[0]
    sellers = reps[reps["role"] == "rep"]
    largest_team = sellers["team"].value_counts().sort_index().idxmax()
    manager = reps[(reps["role"] == "manager") & (reps["team"] == largest_team)].iloc[0]
    rep = sellers[sellers["team"] == largest_team].sort_values("rep_no").iloc[0]
    people = [
        DemoPerson(vp["email"], vp["name"], "sales_leader", "VP of Sales, every team"),
        DemoPerson(manager["email"], manager["name"], "manager",
                   f"manager of the {largest_team} team"),
        DemoPerson(rep["email"], rep["name"], "rep",
                   f"{rep['segment']} rep on the {largest_team} team"),
    ]
    for role, person in DEMO_STAFF:
        email = person.lower().replace(" ", ".") + "@northwind-demo.com"
        people.append(DemoPerson(email, person, role, role.replace("_", " ")))
    return sorted(people, key=lambda p: p.role)


@dataclass
class DemoReport:
    """What a demo generation produced."""

    workspace: str
    size: str
    seed: int
    as_of: dt.date
    rows: dict[str, int]
    seconds: float
    file_bytes: int

    def to_text(self) -> str:
        """A short human-readable summary."""
        lines = [
            f"Demo workspace {self.workspace!r} ({self.size}, seed {self.seed}, "
            f"as of {self.as_of.isoformat()}) built in {self.seconds:.1f} s, "
            f"{self.file_bytes / 1e6:.1f} MB on disk."
        ]
        lines += [f"  {table:<22}{count:>12,}" for table, count in self.rows.items()]
        return "\n".join(lines)


def generate_demo_workspace(
    name: str,
    size: DemoSize = DEMO_SIZES["medium"],
    seed: int = 7,
    as_of: dt.date | None = None,
    base: Path | None = None,
    replace: bool = False,
    progress: ProgressCallback = no_progress,
) -> DemoReport:
    """Create workspace `name` filled with a demo company (as of today unless given).

    Refuses to touch an existing workspace unless `replace` is set, in which case the old file
    is deleted first.
    """
    from planning import audit
    from planning.clock import now_utc, today_utc
    from planning.errors import RevPlanError
    from planning.store import access as access_repo
    from planning.store import open_workspace, workspace_path
    from planning.store.demo_load import load_demo_tables
    from planning.store.workspace import close_workspace_file

    started = time.perf_counter()
    as_of = as_of or today_utc()
    path = workspace_path(name, base)
    if path.exists():
        if not replace:
            raise RevPlanError(f"Workspace {name!r} already exists.")
        close_workspace_file(path)
        path.unlink()
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
    company = build_demo_company(size, seed, as_of, progress)
    progress(0.8, "writing the workspace")
    workspace = open_workspace(name, create=True, base=base)
    people = demo_people(company)

    def load(cur) -> dict[str, int]:
        rows = load_demo_tables(cur, company, size.name, seed)
        now = now_utc()
        for person in people:
            access_repo.upsert_member(cur, person.email, person.name, [person.role],
                                      "revplan demo", now)
        audit.record(
            cur, actor="revplan demo", actor_role="operator", action="workspace.create_demo",
            entity="workspace", entity_id=name,
            after={"size": size.name, "seed": seed, "as_of": as_of.isoformat(), "rows": rows,
                   "members": {p.email: p.role for p in people}},
        )
        return rows

    rows = workspace.write(load)
    workspace.checkpoint()
    progress(1.0, "done")
    return DemoReport(
        workspace=name, size=size.name, seed=seed, as_of=as_of, rows=rows,
        seconds=time.perf_counter() - started, file_bytes=path.stat().st_size,
    )
