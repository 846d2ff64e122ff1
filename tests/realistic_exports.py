"""Realistic CRM exports written from code, shaped like the public "CRM sales opportunities" data.

Three files, as such an export arrives: `sales_teams.csv` (sales_agent, manager, regional_office;
managers exist only as names there), `accounts.csv` (the account name is its id; a country name
as the location, no owner, no coordinates) and `sales_pipeline.csv` (deals from 2016-10 to
2017-12; open deals without a close date, Prospecting deals without an engage date and some
without an account; `close_value` is the booked value, 0 on every lost deal). Each trait the
importer must cope with is a keyword option, so tests can build exactly the file they need.
Nothing is shipped: every file is generated from a seeded random source.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DateStyle = Literal["iso", "us", "dmy2", "eu"]
Locations = Literal["country", "city_state", "mixed"]

DATE_FORMATS: dict[str, str] = {
    "iso": "%Y-%m-%d",
    "us": "%m/%d/%Y",
    "dmy2": "%d-%m-%y",
    "eu": "%d.%m.%Y",
}

PRODUCTS: dict[str, int] = {
    "GTX Basic": 550,
    "GTX Pro": 4821,
    "MG Special": 55,
    "MG Advanced": 3393,
    "GTX Plus Pro": 5482,
    "GTX Plus Basic": 1096,
    "GTK 500": 26768,
}

SECTORS = ("technolgy", "medical", "retail", "software", "entertainment", "marketing",
           "telecommunications", "finance", "services", "employment")
COUNTRIES = ("United States",) * 8 + ("Philippines", "Kenya", "Norway", "Japan", "Germany",
                                      "Brazil", "Italy", "Panama", "Poland", "Belgium")
US_CITIES = (("Cambridge", "MA"), ("Austin", "TX"), ("Denver", "CO"), ("Seattle", "WA"),
             ("Chicago", "IL"), ("Atlanta", "GA"), ("Phoenix", "AZ"), ("Portland", "OR"),
             ("Columbus", "OH"), ("Raleigh", "NC"), ("San Diego", "CA"), ("Miami", "FL"))
OFFICES = ("Central", "East", "West")
FIRST_NAMES = ("Anna", "Cecily", "Darcel", "Boris", "Maureen", "Vicki", "Wilburn", "Elease",
               "Hayden", "Cassey", "Corliss", "Versie", "Gladys", "Kami", "Jonathan", "Lajuana",
               "Moses", "Donn", "Zane", "Reed", "Rosalina", "Daniell", "Markita", "James",
               "Violet", "Niesha", "Garret", "Marty", "Hulda", "Rosie", "Celia", "Dustin",
               "Summer", "Melvin", "Melissa", "Rocco", "Dalia", "Cara", "Lon", "Summer")
LAST_NAMES = ("Snelling", "Frye", "Swenson", "Faz", "Stiver", "Laflamme", "Farden", "Gillespie",
              "Pedigo", "Cordon", "Wu", "Hamilton", "Wartman", "Bawden", "Berube", "Vankirk",
              "Frase", "Cumming", "Levitt", "Krohn", "Mcgillis", "Dewitt", "Selby", "Carraway",
              "Emard", "Belcher", "Rohrer", "Erickson", "Neuhaus", "Dagenhart", "Cadwell")
NAME_PARTS = ("Acme", "Bubba", "Cancity", "Codehow", "Condax", "Conecom", "Dalttechnology",
              "Dambase", "Domzoom", "Doncon", "Dontechi", "Finhigh", "Fixdintex", "Funholding",
              "Ganjaflex", "Gogozoom", "Golddex", "Goodsilron", "Groovestreet", "Hatfan",
              "Hottechi", "Iselectrics", "Isdom", "Kan-code", "Kinnamplus", "Konex", "Lexiqvolax",
              "Mathtouch", "Nam-zim", "Newex", "Ontomedia", "Opentech", "Plussunin", "Rangreen",
              "Rantouch", "Rundofase", "Scotfind", "Singletechno", "Sonron", "Stanredtax",
              "Statholdings", "Streethex", "Sumace", "Sunnamplex", "Toughzap", "Treequote",
              "Umbrella", "Xx-holding", "Y-corporation", "Zathunicon", "Zencorporation",
              "Zoomit", "Zotware", "Zumgoity", "Betasoloin", "Blackzim", "Bioholding")
NAME_SUFFIXES = ("", "", " Corporation", " Inc", " Systems", " Holding", " Labs", " Group")

FIRST_DAY = dt.date(2016, 10, 20)
LAST_DAY = dt.date(2017, 12, 31)


@dataclass(frozen=True)
class RealisticExport:
    """Where a generated export was written, and the counts tests check the import against."""

    folder: Path
    sales_teams: Path
    accounts: Path
    sales_pipeline: Path
    mapping: Path
    reps: int
    managers: int
    account_count: int
    deals: int
    won: int
    lost: int
    open_deals: int
    open_without_account: int
    newest_close: dt.date

    @property
    def files(self) -> list[Path]:
        """The three CSV files, in the order an import takes them."""
        return [self.sales_teams, self.accounts, self.sales_pipeline]


def _person_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct full names."""
    names: set[str] = set()
    while len(names) < count:
        names.add(f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}")
    return sorted(names)


def _account_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct company names."""
    names: set[str] = set()
    while len(names) < count:
        names.add(f"{rng.choice(NAME_PARTS)}{rng.choice(NAME_SUFFIXES)}")
    return sorted(names)


def _opportunity_id(rng: random.Random, taken: set[str]) -> str:
    """An 8-character id like the data set's `1C1I7A6R`, unique within `taken`."""
    while True:
        value = "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
        if value not in taken:
            taken.add(value)
            return value


def _number(value: float, decimal_comma: bool, places: int) -> str:
    """A number written with `places` decimals, with a decimal comma for European files."""
    text = f"{value:.{places}f}"
    return text.replace(".", ",") if decimal_comma else text


def write_mapping(path: Path, *, locations: Locations = "country", decimal_comma: bool = False,
                  force_date_format: str | None = None) -> Path:
    """Write the column-mapping TOML that maps the three files onto reps, accounts and deals."""
    options = []
    if decimal_comma:
        options.append('decimal_separator = ","')
    if force_date_format:
        options.append(f'date_formats = ["{force_date_format}"]')
    location_columns = {
        "country": 'country = "office_location"\n',
        "city_state": 'city = "city"\nstate = "state"\n',
        "mixed": 'country = "office_location"\ncity = "city"\nstate = "state"\n',
    }[locations]
    text = (
        "# Column mapping for the CRM sales opportunities export (sales teams, accounts,\n"
        "# pipeline). Import with:\n"
        "#   revplan import --mapping mapping.toml sales_teams.csv accounts.csv "
        "sales_pipeline.csv\n"
        + "".join(f"{line}\n" for line in options)
        + "\n[[mapping]]\nentity = \"reps\"\nfiles = [\"sales_teams*.csv\"]\n\n"
        "[mapping.columns]\nrep_id = \"sales_agent\"\nname = \"sales_agent\"\n"
        "manager_id = \"manager\"\nteam = \"regional_office\"\n"
        "\n[[mapping]]\nentity = \"accounts\"\nfiles = [\"accounts*.csv\"]\n\n"
        "[mapping.columns]\naccount_id = \"account\"\nname = \"account\"\n"
        "industry = \"sector\"\nemployees = \"employees\"\n" + location_columns
        + "\n[[mapping]]\nentity = \"opportunities\"\nfiles = [\"sales_pipeline*.csv\"]\n\n"
        "[mapping.columns]\nopportunity_id = \"opportunity_id\"\nowner_id = \"sales_agent\"\n"
        "account_id = \"account\"\nstage = \"deal_stage\"\nproduct_id = \"product\"\n"
        "created_at = \"engage_date\"\nclose_date = \"close_date\"\namount = \"close_value\"\n"
        "\n[mapping.values.stage]\n\"Won\" = \"Closed Won\"\n\"Lost\" = \"Closed Lost\"\n"
        "\n[mapping.values.status]\n\"Won\" = \"won\"\n\"Lost\" = \"lost\"\n\"*\" = \"open\"\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def write_crm_export(
    folder: Path,
    *,
    deals: int = 600,
    seed: int = 11,
    date_style: DateStyle = "iso",
    delimiter: Literal[",", ";"] = ",",
    locations: Locations = "country",
    lost_value_zero: bool = True,
    open_without_account_share: float = 0.3,
    force_date_format: bool = False,
) -> RealisticExport:
    """Write sales_teams.csv, accounts.csv, sales_pipeline.csv and mapping.toml into `folder`.

    `deals` rows of pipeline (300 to 2,000 is realistic) over 2016-10 to 2017-12. `date_style`
    picks how dates are written (`iso` Y-m-d, `us` m/d/Y, `dmy2` d-m-y with two-digit years,
    `eu` d.m.Y); `delimiter=";"` writes a European file with decimal commas. `locations` says
    what accounts carry: only a country (`country`, as in the data set), only US city and state
    (`city_state`), or a country with city and state on the US rows (`mixed`).
    `lost_value_zero=False` writes the lost deal's value instead of 0 (no label leak).
    `open_without_account_share` of the Prospecting deals have no account.
    `force_date_format=True` names the date format in the mapping instead of leaving it to
    detection.
    """
    if delimiter not in (",", ";"):
        raise ValueError("delimiter must be ',' or ';'")
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    decimal_comma = delimiter == ";"
    date_format = DATE_FORMATS[date_style]

    def day_text(day: dt.date | None) -> str:
        return "" if day is None else day.strftime(date_format)

    people = _person_names(rng, 36)
    managers, agents = people[:6], people[6:]
    team_of = {manager: OFFICES[index % len(OFFICES)] for index, manager in enumerate(managers)}
    teams_rows = []
    for index, agent in enumerate(agents):
        manager = managers[index % len(managers)]
        teams_rows.append({"sales_agent": agent, "manager": manager,
                           "regional_office": team_of[manager]})

    account_names = _account_names(rng, max(30, min(85, deals // 8)))
    account_rows = []
    for name in account_names:
        row: dict[str, str] = {
            "account": name,
            "sector": rng.choice(SECTORS),
            "year_established": str(rng.randint(1979, 2017)),
            "revenue": _number(rng.uniform(4.5, 11700.0), decimal_comma, 2),
            "employees": str(rng.randint(9, 34288)),
        }
        country = rng.choice(COUNTRIES)
        city, state = rng.choice(US_CITIES)
        if locations == "country":
            row["office_location"] = country
        elif locations == "city_state":
            row["city"], row["state"] = city, state
        else:
            row["office_location"] = country
            us_with_city = country == "United States" and rng.random() < 0.7
            row["city"], row["state"] = (city, state) if us_with_city else ("", "")
        account_rows.append(row)

    taken: set[str] = set()
    pipeline_rows = []
    counts = {"won": 0, "lost": 0, "open": 0, "no_account": 0}
    newest_close = FIRST_DAY
    span = (LAST_DAY - FIRST_DAY).days
    for _ in range(deals):
        stage = rng.choices(("Won", "Lost", "Engaging", "Prospecting"), (48, 29, 14, 9))[0]
        product = rng.choice(list(PRODUCTS))
        account = rng.choice(account_names)
        engage: dt.date | None = FIRST_DAY + dt.timedelta(days=rng.randint(0, span - 20))
        close: dt.date | None = None
        value = ""
        if stage in ("Won", "Lost"):
            assert engage is not None
            close = min(LAST_DAY, engage + dt.timedelta(days=rng.randint(1, 138)))
            newest_close = max(newest_close, close)
            booked = PRODUCTS[product] * rng.uniform(0.8, 1.2)
            if stage == "Lost" and lost_value_zero:
                booked = 0
            value = _number(round(booked), decimal_comma, 2 if decimal_comma else 0)
            counts["won" if stage == "Won" else "lost"] += 1
        else:
            counts["open"] += 1
            if stage == "Prospecting":
                engage = None
                if rng.random() < open_without_account_share:
                    account = ""
                    counts["no_account"] += 1
        pipeline_rows.append({
            "opportunity_id": _opportunity_id(rng, taken),
            "sales_agent": rng.choice(agents),
            "product": product,
            "account": account,
            "deal_stage": stage,
            "engage_date": day_text(engage),
            "close_date": day_text(close),
            "close_value": value,
        })

    def write(name: str, rows: list[dict[str, str]]) -> Path:
        path = folder / name
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter,
                                    lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return path

    return RealisticExport(
        folder=folder,
        sales_teams=write("sales_teams.csv", teams_rows),
        accounts=write("accounts.csv", account_rows),
        sales_pipeline=write("sales_pipeline.csv", pipeline_rows),
        mapping=write_mapping(folder / "mapping.toml", locations=locations,
                              decimal_comma=decimal_comma,
                              force_date_format=date_format if force_date_format else None),
        reps=len(agents),
        managers=len(managers),
        account_count=len(account_rows),
        deals=deals,
        won=counts["won"],
        lost=counts["lost"],
        open_deals=counts["open"],
        open_without_account=counts["no_account"],
        newest_close=newest_close,
    )
