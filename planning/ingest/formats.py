"""Known CRM export formats (Salesforce, HubSpot) and how a file's header binds to fields.

A file is recognised by its header row: each format has signature columns that must all be
present, and the format that recognises the most columns wins. Header names are compared
ignoring letter case and surrounding spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from planning.ingest.fields import (
    ACCOUNTS,
    OPPORTUNITIES,
    OPPORTUNITY_HISTORY,
    REPS,
    EntitySpec,
    fold_value,
)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file's values; mapping files set these, known formats use the defaults."""

    delimiter: str | None = None
    day_first: bool | None = None
    date_formats: tuple[str, ...] = ()
    decimal_separator: str | None = None
    money_unit: str = "units"
    timezone: str | None = None
    missing_values: tuple[str, ...] = ()
    open_deal_close_date: date | None = None
    """Close date given to open deals that have none (instead of the estimated one)."""


@dataclass(frozen=True)
class FileBinding:
    """What a file is: its entity, source label, which header feeds which field, value maps."""

    entity: EntitySpec
    label: str
    source: str
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    strict: dict[str, str] = field(default_factory=dict)
    status_from_stage: dict[str, str] | None = None
    id_style: str = "any"
    options: ReadOptions = ReadOptions()


@dataclass(frozen=True)
class FormatSpec:
    """A known export: signature headers, accepted headers per field, value translations."""

    label: str
    source: str
    entity: EntitySpec
    signature: tuple[tuple[str, ...], ...]
    columns: dict[str, tuple[str, ...]]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    strict: dict[str, str] = field(default_factory=dict)
    id_style: str = "any"


def header_key(name: str) -> str:
    """How header names are compared: case-insensitive, surrounding spaces ignored."""
    return " ".join(name.split()).casefold()


def _folded(table: dict[str, str]) -> dict[str, str]:
    return {fold_value(source): target for source, target in table.items()}


HUBSPOT_STAGES = _folded({
    "appointmentscheduled": "Prospecting", "Appointment Scheduled": "Prospecting",
    "qualifiedtobuy": "Qualification", "Qualified To Buy": "Qualification",
    "presentationscheduled": "Discovery", "Presentation Scheduled": "Discovery",
    "decisionmakerboughtin": "Proposal", "Decision Maker Bought-In": "Proposal",
    "contractsent": "Negotiation", "Contract Sent": "Negotiation",
    "closedwon": "Closed Won", "Closed Won": "Closed Won",
    "closedlost": "Closed Lost", "Closed Lost": "Closed Lost",
})
"""HubSpot's default sales pipeline, internal ids and labels, to RevPlan stages."""

SALESFORCE_TYPES = _folded({
    "New Customer": "New Business", "New Business": "New Business",
    "Existing Customer - Upgrade": "Expansion", "Existing Business": "Expansion",
    "Upsell": "Expansion", "Expansion": "Expansion",
    "Existing Customer - Renewal": "Renewal", "Renewal": "Renewal",
})
HUBSPOT_TYPES = _folded({
    "newbusiness": "New Business", "New Business": "New Business",
    "existingbusiness": "Expansion", "Existing Business": "Expansion",
    "renewal": "Renewal",
})

FORMATS: tuple[FormatSpec, ...] = (
    FormatSpec(
        label="Salesforce User export", source="salesforce", entity=REPS,
        signature=(("Id",), ("Name",), ("Email",),
                   ("Username", "ManagerId", "IsActive", "UserRoleId", "ProfileId", "Title")),
        columns={
            "rep_id": ("Id",), "name": ("Name",), "email": ("Email",), "title": ("Title",),
            "manager_id": ("ManagerId",), "is_active": ("IsActive",),
            "team": ("Department",), "region": ("Division",), "home_zip": ("PostalCode",),
            "home_lat": ("Latitude",), "home_lon": ("Longitude",),
        },
        id_style="salesforce",
    ),
    FormatSpec(
        label="Salesforce Account export", source="salesforce", entity=ACCOUNTS,
        signature=(("Id",), ("Name",),
                   ("BillingPostalCode", "BillingCity", "BillingState", "Industry",
                    "NumberOfEmployees", "AnnualRevenue", "BillingLatitude")),
        columns={
            "account_id": ("Id",), "name": ("Name",), "industry": ("Industry",),
            "zip": ("BillingPostalCode",), "city": ("BillingCity",),
            "state": ("BillingState", "BillingStateCode"),
            "country": ("BillingCountry", "BillingCountryCode"),
            "lat": ("BillingLatitude",), "lon": ("BillingLongitude",),
            "employees": ("NumberOfEmployees",), "annual_revenue": ("AnnualRevenue",),
            "owner_id": ("OwnerId",), "created_at": ("CreatedDate",),
            "currency": ("CurrencyIsoCode",),
        },
        id_style="salesforce",
    ),
    FormatSpec(
        label="Salesforce Opportunity export", source="salesforce", entity=OPPORTUNITIES,
        signature=(("Id",), ("StageName",), ("CloseDate",)),
        columns={
            "opportunity_id": ("Id",), "account_id": ("AccountId",), "owner_id": ("OwnerId",),
            "name": ("Name",), "type": ("Type",), "stage": ("StageName",),
            "amount": ("Amount",), "close_date": ("CloseDate",),
            "created_at": ("CreatedDate",),
            "forecast_category": ("ForecastCategoryName", "ForecastCategory"),
            "next_step": ("NextStep",), "last_activity_date": ("LastActivityDate",),
            "is_closed": ("IsClosed",), "is_won": ("IsWon",), "currency": ("CurrencyIsoCode",),
        },
        values={"type": SALESFORCE_TYPES},
        id_style="salesforce",
    ),
    FormatSpec(
        label="Salesforce OpportunityFieldHistory export", source="salesforce",
        entity=OPPORTUNITY_HISTORY,
        signature=(("OpportunityId",), ("Field",), ("NewValue",)),
        columns={
            "history_id": ("Id",), "opportunity_id": ("OpportunityId",),
            "changed_at": ("CreatedDate",), "field": ("Field",), "old_value": ("OldValue",),
            "new_value": ("NewValue",), "changed_by": ("CreatedById",),
        },
        id_style="salesforce",
    ),
    FormatSpec(
        label="HubSpot deals export", source="hubspot", entity=OPPORTUNITIES,
        signature=(("Record ID", "Deal ID"), ("Deal Name",), ("Deal Stage",)),
        columns={
            "opportunity_id": ("Record ID", "Deal ID"),
            "account_id": ("Associated Company IDs (Primary)", "Associated Company ID (Primary)",
                           "Associated Company IDs", "Associated Company ID"),
            "owner_id": ("Deal owner", "HubSpot Owner"), "name": ("Deal Name",),
            "type": ("Deal Type",), "stage": ("Deal Stage",), "amount": ("Amount",),
            "close_date": ("Close Date",), "created_at": ("Create Date",),
            "forecast_category": ("Forecast category",), "next_step": ("Next step",),
            "last_activity_date": ("Last Activity Date",), "currency": ("Currency",),
        },
        values={"stage": HUBSPOT_STAGES, "type": HUBSPOT_TYPES},
        strict={"stage": "unknown deal stage"},
        id_style="hubspot",
    ),
    FormatSpec(
        label="HubSpot companies export", source="hubspot", entity=ACCOUNTS,
        signature=(("Record ID", "Company ID"), ("Company name",)),
        columns={
            "account_id": ("Record ID", "Company ID"), "name": ("Company name",),
            "owner_id": ("Company owner", "HubSpot Owner"), "zip": ("Postal Code",),
            "city": ("City",), "state": ("State/Region",), "country": ("Country/Region",),
            "industry": ("Industry",),
            "employees": ("Number of Employees",), "annual_revenue": ("Annual Revenue",),
            "created_at": ("Create Date",), "currency": ("Currency",),
        },
        id_style="hubspot",
    ),
)


def header_keys(header: list[str]) -> dict[str, str]:
    """Compared form -> the header as written (its first occurrence)."""
    keys: dict[str, str] = {}
    for name in header:
        if name:
            keys.setdefault(header_key(name), name)
    return keys


def _bind_columns(spec: FormatSpec, keys: dict[str, str]) -> dict[str, str]:
    columns = {}
    for field_name, accepted in spec.columns.items():
        for header in accepted:
            if header_key(header) in keys:
                columns[field_name] = keys[header_key(header)]
                break
    return columns


def detect_format(header: list[str]) -> tuple[FormatSpec, dict[str, str]] | None:
    """The known format a header belongs to with its field->header binding, or None."""
    keys = header_keys(header)
    best: tuple[int, FormatSpec, dict[str, str]] | None = None
    for spec in FORMATS:
        if not all(any(header_key(h) in keys for h in group) for group in spec.signature):
            continue
        columns = _bind_columns(spec, keys)
        if best is None or len(columns) > best[0]:
            best = (len(columns), spec, columns)
    return None if best is None else (best[1], best[2])


def binding_for(spec: FormatSpec, columns: dict[str, str]) -> FileBinding:
    """The binding of a file recognised as `spec`."""
    return FileBinding(entity=spec.entity, label=spec.label, source=spec.source,
                       columns=columns, values=spec.values, strict=spec.strict,
                       id_style=spec.id_style)


_VALUE_LIKE = re.compile(r"^[-+$€£]?[0-9][0-9.,:/ -]*$|^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$|@")


def looks_like_data(header: list[str]) -> bool:
    """True when the first line holds values (numbers, dates, ids, e-mails), not names."""
    cells = [h for h in header if h]
    if not cells:
        return True
    data_like = sum(1 for cell in cells if _VALUE_LIKE.search(cell)
                    and any(c.isdigit() or c == "@" for c in cell))
    return data_like * 2 >= len(cells)
