"""The RevPlan fields an import fills, per entity: the contract behind formats and mapping files.

Field names are what a mapping file's `[columns]` table uses; most equal the table column they
fill, money fields drop the `_cents` suffix because files carry currency units. Fields without a
column (`is_closed`, `is_won`, `currency`) are read only to derive or check other values.
docs/IMPORT.md documents every field listed here; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("id", "ref", "owner", "text", "email", "date", "timestamp", "money", "int", "float",
         "bool", "enum")

STAGES = ("Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation", "Closed Won",
          "Closed Lost")
STATUSES = ("open", "won", "lost")
FORECAST_CATEGORIES = ("Pipeline", "Best Case", "Commit", "Closed", "Omitted")
ROLES = ("rep", "manager", "executive")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
HISTORY_FIELDS = ("created", "stage", "amount", "close_date", "forecast_category")
ACTIVITY_KINDS = ("call", "email", "meeting")

MAX_TEXT_LENGTH = 1000
"""Longer text values are rejected: they are almost always a broken quote swallowing lines."""


@dataclass(frozen=True)
class FieldSpec:
    """One RevPlan field: how its values are read, whether it is required, where it is stored."""

    name: str
    kind: str
    description: str
    example: str
    required: bool = False
    column: str | None = ""
    references: str | None = None
    choices: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")

    @property
    def db_column(self) -> str | None:
        """The table column this field fills, or None for input-only fields."""
        if self.column is None:
            return None
        return self.column or self.name

    @property
    def label(self) -> str:
        """The field's name in words, as used in reject reasons ("forecast category")."""
        return self.name.replace("_id", "").replace("_", " ")


@dataclass(frozen=True)
class EntitySpec:
    """A target table of the import: its key field, its fields and its dependency position."""

    name: str
    table: str
    key: str
    description: str
    fields: tuple[FieldSpec, ...]
    insert_only: bool = False

    def field(self, name: str) -> FieldSpec:
        """The field called `name`; KeyError if the entity has none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Every field name, in documentation order."""
        return tuple(spec.name for spec in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """Fields every row must have."""
        return tuple(spec.name for spec in self.fields if spec.required)


def _key(text: str) -> str:
    """Fold a value for lookups: letter case, spaces and punctuation do not matter."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def enum_aliases(choices: tuple[str, ...], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Folded spelling -> canonical value for an enumeration, the canonical names included."""
    table = {_key(choice): choice for choice in choices}
    for alias, value in (extra or {}).items():
        table[_key(alias)] = value
    return table


fold_value = _key

_ZIP = "Postal code as text; leading zeros are kept and US ZIP+4 is cut to the 5-digit ZIP."

REPS = EntitySpec(
    name="reps",
    table="reps",
    key="rep_id",
    description="Sales users: the people who own accounts and opportunities.",
    fields=(
        FieldSpec("rep_id", "id", "The user's id in the CRM; rows upsert by it.",
                  "0055e000001XyZaAAK", required=True),
        FieldSpec("name", "text", "Full name.", "Ava Patel", required=True),
        FieldSpec("email", "email", "E-mail address; also used to resolve owners by e-mail.",
                  "ava.patel@example.com"),
        FieldSpec("title", "text", "Job title.", "Account Executive"),
        FieldSpec("role", "enum",
                  "rep, manager or executive. When not given it is derived: someone with "
                  "direct reports is a manager, someone whose reports have reports is an "
                  "executive, everybody else is a rep.", "manager", choices=ROLES,
                  aliases=enum_aliases(ROLES, {"ae": "rep", "sdr": "rep", "bdr": "rep",
                                               "exec": "executive", "vp": "executive"})),
        FieldSpec("manager_id", "owner",
                  "The user's manager: an id, e-mail or name of a rep in the workspace or in "
                  "the same file. A name that matches nobody creates the manager (id "
                  "manager:<name>); any other unknown value is a warning and the user is kept "
                  "without a manager.", "0055e000001MgRaAAK", references="reps"),
        FieldSpec("team", "text", "Team name.", "West Enterprise"),
        FieldSpec("region", "text", "Sales region.", "West"),
        FieldSpec("segment", "enum", "SMB, Mid-Market or Enterprise.", "Mid-Market",
                  choices=SEGMENTS,
                  aliases=enum_aliases(SEGMENTS, {"midmarket": "Mid-Market", "mm": "Mid-Market",
                                                  "ent": "Enterprise", "smallbusiness": "SMB"})),
        FieldSpec("hire_date", "date", "First day in the job.", "2023-02-01"),
        FieldSpec("ramp_months", "int", "Months until full productivity (0 to 36).", "3",
                  minimum=0, maximum=36),
        FieldSpec("capacity", "float", "Capacity in full-time equivalents (0 to 2).", "1.0",
                  minimum=0, maximum=2),
        FieldSpec("home_zip", "text", _ZIP, "94107"),
        FieldSpec("home_lat", "float", "Latitude of the rep's home base (-90 to 90).", "37.77",
                  minimum=-90, maximum=90),
        FieldSpec("home_lon", "float", "Longitude of the rep's home base (-180 to 180).",
                  "-122.39", minimum=-180, maximum=180),
        FieldSpec("is_active", "bool", "Whether the user is active; true when not given.",
                  "true"),
    ),
)

ACCOUNTS = EntitySpec(
    name="accounts",
    table="accounts",
    key="account_id",
    description="Customer and prospect companies.",
    fields=(
        FieldSpec("account_id", "id", "The account's id in the CRM; rows upsert by it.",
                  "0015e00000AbCdEAA1", required=True),
        FieldSpec("name", "text", "Company name.", "Northwind Traders", required=True),
        FieldSpec("industry", "text", "Industry.", "Retail"),
        FieldSpec("segment", "enum",
                  "SMB, Mid-Market or Enterprise. When not given but employees is, it is "
                  "derived: under 100 employees SMB, 100 to 999 Mid-Market, 1,000 or more "
                  "Enterprise.", "Enterprise", choices=SEGMENTS,
                  aliases=enum_aliases(SEGMENTS, {"midmarket": "Mid-Market", "mm": "Mid-Market",
                                                  "ent": "Enterprise", "smallbusiness": "SMB"})),
        FieldSpec("employees", "int", "Number of employees (0 to 10,000,000).", "1200",
                  minimum=0, maximum=10_000_000),
        FieldSpec("annual_revenue", "money",
                  "Annual revenue in the workspace currency; stored as integer cents.",
                  "$4,500,000", column="annual_revenue_cents", minimum=0),
        FieldSpec("zip", "text", _ZIP, "02139"),
        FieldSpec("city", "text", "City.", "Cambridge"),
        FieldSpec("state", "text", "State or region.", "MA"),
        FieldSpec("county", "text", "County.", "Middlesex"),
        FieldSpec("country", "text", "Country name or ISO code; used for geocoding accounts "
                  "without lat/lon.", "United States"),
        FieldSpec("lat", "float", "Latitude (-90 to 90).", "42.3736", minimum=-90, maximum=90),
        FieldSpec("lon", "float", "Longitude (-180 to 180).", "-71.1097", minimum=-180,
                  maximum=180),
        FieldSpec("owner_id", "owner",
                  "Account owner: an id, e-mail or name of a rep (see owner resolution).",
                  "0055e000001XyZaAAK", references="reps"),
        FieldSpec("created_at", "timestamp", "When the account was created in the CRM.",
                  "2022-06-01T09:30:00Z"),
        FieldSpec("currency", "text",
                  "ISO currency code of the row's money values; rows in another currency than "
                  "the workspace's are rejected (RevPlan does not convert currencies).", "USD",
                  column=None),
    ),
)

OPPORTUNITIES = EntitySpec(
    name="opportunities",
    table="opportunities",
    key="opportunity_id",
    description="Deals: open pipeline and closed history.",
    fields=(
        FieldSpec("opportunity_id", "id", "The deal's id in the CRM; rows upsert by it.",
                  "0065e00000Q1w2EAAR", required=True),
        FieldSpec("account_id", "ref", "The deal's account: an account id or name known to "
                  "the workspace or imported in the same run. Empty: the deal goes to the "
                  "unknown-account bucket.", "0015e00000AbCdEAA1",
                  required=True, references="accounts"),
        FieldSpec("owner_id", "owner", "Deal owner: an id, e-mail or name of a rep.",
                  "0055e000001XyZaAAK", required=True, references="reps"),
        FieldSpec("name", "text", "Deal name.", "Northwind - Platform renewal"),
        FieldSpec("type", "text", "New Business, Expansion or Renewal (other values are kept "
                  "as given).", "New Business"),
        FieldSpec("product_id", "text", "Main product's id.", "PRD-CORE"),
        FieldSpec("stage", "text", "Sales stage, e.g. Prospecting, Qualification, Discovery, "
                  "Proposal, Negotiation, Closed Won, Closed Lost.", "Proposal", required=True),
        FieldSpec("status", "enum",
                  "open, won or lost. When not given it comes from is_closed/is_won, else "
                  "from the stage: Closed Won is won, Closed Lost is lost, anything else "
                  "open.", "open", choices=STATUSES,
                  aliases=enum_aliases(STATUSES, {"closedwon": "won", "closedlost": "lost"})),
        FieldSpec("amount", "money", "Deal value in the workspace currency, not negative; "
                  "stored as integer cents.", "12500.00", column="amount_cents", minimum=0),
        FieldSpec("close_date", "date", "Expected (open) or actual (closed) close date; not "
                  "before the created date. May be empty for open deals: it is then "
                  "estimated (flagged close_date_estimated).", "2024-06-30", required=True),
        FieldSpec("created_at", "timestamp", "When the deal was created; not in the future. "
                  "May be empty for open deals: it is then estimated (flagged "
                  "created_estimated).", "2024-01-15T10:02:11Z", required=True),
        FieldSpec("closed_at", "timestamp", "When the deal was closed. When not given, closed "
                  "deals get their close date (midnight UTC) and open deals none.",
                  "2024-06-28T16:00:00Z"),
        FieldSpec("forecast_category", "enum", "Pipeline, Best Case, Commit, Closed or Omitted.",
                  "Best Case", choices=FORECAST_CATEGORIES,
                  aliases=enum_aliases(FORECAST_CATEGORIES, {
                      "forecast": "Commit", "bestcase": "Best Case", "omit": "Omitted",
                      "notforecasted": "Omitted", "closedwon": "Closed"})),
        FieldSpec("next_step", "text", "Next step text.", "Send security questionnaire"),
        FieldSpec("next_step_date", "date", "Date of the next step.", "2024-05-02"),
        FieldSpec("last_activity_date", "date", "Date of the last logged activity.",
                  "2024-04-28"),
        FieldSpec("is_closed", "bool", "Whether the deal is closed (with is_won it decides "
                  "status when status is not given).", "false", column=None),
        FieldSpec("is_won", "bool", "Whether the deal is won; a won deal must be closed.",
                  "false", column=None),
        FieldSpec("currency", "text", "ISO currency code of the row's amount; rows in another "
                  "currency than the workspace's are rejected.", "USD", column=None),
    ),
)

OPPORTUNITY_HISTORY = EntitySpec(
    name="opportunity_history",
    table="opportunity_history",
    key="history_id",
    description="One row per change of a deal's stage, amount, close date or forecast "
    "category. Rows are insert-only: a history id already in the workspace is left as it is.",
    insert_only=True,
    fields=(
        FieldSpec("history_id", "id", "The change's id in the CRM.", "0085e00001HiStAAAQ",
                  required=True),
        FieldSpec("opportunity_id", "ref", "The deal that changed: known to the workspace or "
                  "imported in the same run.", "0065e00000Q1w2EAAR", required=True,
                  references="opportunities"),
        FieldSpec("changed_at", "timestamp", "When the change happened.",
                  "2024-02-01T15:04:05Z", required=True),
        FieldSpec("field", "enum", "What changed: created, stage, amount, close_date or "
                  "forecast_category. Rows about other fields are counted as skipped.", "stage",
                  required=True, choices=HISTORY_FIELDS,
                  aliases=enum_aliases(HISTORY_FIELDS, {
                      "stagename": "stage", "closedate": "close_date",
                      "forecastcategoryname": "forecast_category",
                      "forecastcategory": "forecast_category",
                      "opportunitycreatedfromlead": "created"})),
        FieldSpec("old_value", "text", "Value before the change (amounts become cents, dates "
                  "ISO dates).", "Qualification"),
        FieldSpec("new_value", "text", "Value after the change.", "Proposal"),
        FieldSpec("changed_by", "text", "Who made the change (a CRM user id; not checked).",
                  "0055e000001XyZaAAK"),
    ),
)

ACTIVITIES = EntitySpec(
    name="activities",
    table="activities",
    key="activity_id",
    description="Calls, e-mails and meetings logged against deals and accounts.",
    fields=(
        FieldSpec("activity_id", "id", "The activity's id in the CRM; rows upsert by it.",
                  "00T5e00000TaSkAAAQ", required=True),
        FieldSpec("opportunity_id", "ref", "Related deal, if any (must be known).",
                  "0065e00000Q1w2EAAR", references="opportunities"),
        FieldSpec("account_id", "ref", "Related account, if any (must be known).",
                  "0015e00000AbCdEAA1", references="accounts"),
        FieldSpec("owner_id", "owner", "Who did it: an id, e-mail or name of a rep.",
                  "ava.patel@example.com", references="reps"),
        FieldSpec("kind", "enum", "call, email or meeting.", "call", required=True,
                  choices=ACTIVITY_KINDS,
                  aliases=enum_aliases(ACTIVITY_KINDS, {"e-mail": "email", "event": "meeting",
                                                        "phonecall": "call"})),
        FieldSpec("occurred_at", "timestamp", "When it happened.", "2024-03-05T10:00:00Z",
                  required=True),
    ),
)

ENTITIES: tuple[EntitySpec, ...] = (REPS, ACCOUNTS, OPPORTUNITIES, OPPORTUNITY_HISTORY,
                                    ACTIVITIES)
"""Every importable entity, in dependency order: files are processed in this order."""

ENTITY_BY_NAME: dict[str, EntitySpec] = {entity.name: entity for entity in ENTITIES}
