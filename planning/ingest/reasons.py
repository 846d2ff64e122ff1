"""The reasons a row is rejected, worded for the person fixing the file.

Reject rows and the run summary use these texts as they are, so counts per reason aggregate
across files and runs. `unknown <field>` reasons for enumerations are built from the field's
label (for example "unknown forecast category").
"""

from __future__ import annotations

import datetime as dt

MISSING_VALUE = "missing required value"
DUPLICATE_ID = "duplicate id in file"
INVALID_SALESFORCE_ID = "invalid Salesforce id"
INVALID_HUBSPOT_ID = "invalid HubSpot id"
WRONG_FIELD_COUNT = "wrong number of fields"
VALUE_TOO_LONG = "value too long"
INVALID_EMAIL = "invalid e-mail address"
INVALID_BOOLEAN = "invalid true/false value"
INVALID_DATE = "invalid date"
DATE_OUT_OF_RANGE = "date out of range"
INVALID_AMOUNT = "invalid amount"
INVALID_NUMBER = "invalid number"
AMBIGUOUS_NUMBER = "ambiguous number format"
NOT_WHOLE_NUMBER = "not a whole number"
NEGATIVE_AMOUNT = "negative amount"
AMOUNT_OUT_OF_RANGE = "amount out of range"
NUMBER_OUT_OF_RANGE = "number out of range"
CURRENCY_MISMATCH = "currency differs from workspace currency"
CLOSE_BEFORE_CREATED = "close date before created date"
CREATED_IN_FUTURE = "created date in the future"
WON_NOT_CLOSED = "won but not closed"
STAGE_CONTRADICTS_FLAGS = "stage contradicts closed/won flags"
UNKNOWN_DEAL_STAGE = "unknown deal stage"
SEVERAL_COMPANIES = "several associated companies"
UNKNOWN_ACCOUNT = "unknown account"
UNKNOWN_OPPORTUNITY = "unknown opportunity"
UNKNOWN_OWNER = "unknown owner"
AMBIGUOUS_OWNER = "owner matches several reps"
UNKNOWN_MANAGER = "unknown manager"
OWN_MANAGER = "rep is their own manager"
AMBIGUOUS_ACCOUNT = "account name matches several accounts"

UNKNOWN_MANAGER_DROPPED = "unknown manager, kept without one"
AMBIGUOUS_MANAGER_DROPPED = "manager matches several reps, kept without one"
OWN_MANAGER_DROPPED = "rep is their own manager, kept without one"
"""Warnings: the row is kept (without a manager) and listed in import_rejects as a warning."""


def unknown_value(label: str) -> str:
    """The reason for a value outside an enumeration, e.g. "unknown forecast category"."""
    return f"unknown {label}"


def invalid_date_expected(expected: str) -> str:
    """The reason for a date not written in the file's format, e.g. "invalid date (expected
    %d-%m-%y, like 20-10-16)"."""
    example = dt.date(2016, 10, 20).strftime(expected)
    return f"{INVALID_DATE} (expected {expected}, like {example})"


def unknown_reference(references: str, field_name: str) -> str:
    """The reason for a reference to a record the workspace does not have."""
    if references == "accounts":
        return UNKNOWN_ACCOUNT
    if references == "opportunities":
        return UNKNOWN_OPPORTUNITY
    return UNKNOWN_MANAGER if field_name == "manager_id" else UNKNOWN_OWNER
