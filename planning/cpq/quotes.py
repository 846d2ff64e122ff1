"""Quotes as versions: a seller's quote is priced, saved as an immutable plan version of kind
`quote` (a re-quote is the child of the quote's previous version), compared with another
version, submitted for discount approval and, once approved, synced to the CRM.

A saved version records the catalog and price book versions it was priced with; both are kept
in the workspace as snapshots, so re-pricing a stored quote gives the same numbers after the
catalog or the price book changed.

Approvals ("smart approvals"): each line's approval band (see `planning.cpq.pricing`) and margin
are routed by the approval policy's `quote` rules (`planning.approvals`): by default deal desk
above the seller's authority, finance above the finance threshold or below a margin floor,
sales leadership above the leadership threshold. A re-quote re-asks only what its changed lines
need: a role needed only by lines unchanged since the nearest approved ancestor version is
carried over from that approval (step status `carried`, the comment naming the request, step
and approver). A quote within every authority needs no request and is approved at once.

Syncing an approved quote queues its header and lines in the writeback outbox (objects `Quote`
and `QuoteLineItem`), with the rule matches and the approval requests and steps as evidence,
and marks the version published.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date

import duckdb
import pandas as pd

from planning import approvals, audit
from planning.access.entry_points import entry_point
from planning.access.policy import AccessDeniedError, Action, can
from planning.access.roles import Role
from planning.access.users import User, same_email
from planning.clock import now_utc, today_utc
from planning.cpq.catalog import Bundle, Catalog, Option, Product, Rule
from planning.cpq.pricing import (
    BAND_WORDS,
    SELLER_ROLES,
    PriceBook,
    PricedQuote,
    percent_bps,
    percent_text,
    price_book_from_json,
    price_book_hash,
    price_book_json,
    price_quote,
)
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.store import Workspace
from planning.store import access as access_repo
from planning.store import approvals as approvals_repo
from planning.store import cpq_price_books as books_repo
from planning.store import cpq_quotes as quotes_repo
from planning.store import writeback_outbox as outbox_repo
from planning.versions import (
    PlanVersion,
    ScenarioContent,
    ScenarioStamp,
    read_items,
    read_version,
    save_scenario_version,
    set_status,
    verify_version,
)
from planning.writeback import idempotency_key

KIND = "quote"
"""The plan version kind and approval policy kind of quotes."""
CARRIED = "carried"
"""The status of an approval step carried over from an approved earlier version."""
SUBMITTABLE = ("draft", "changes_requested")
ON_BEHALF_ROLES = frozenset({Role.DEAL_DESK, Role.REVOPS, Role.ADMIN})
"""Who may save a quote for another seller (restructuring a deal)."""


class QuoteError(RevPlanError):
    """A quote that cannot be saved, submitted or synced as asked; the message says why."""


@dataclass(frozen=True)
class QuoteLine:
    """One line: an option, its quantity and the seller's discount in percent (12.5)."""

    option_id: str
    qty: int
    discount_pct: float = 0.0

    def __post_init__(self) -> None:
        if not self.option_id:
            raise QuoteError("A quote line needs an option.")
        if int(self.qty) != self.qty or self.qty < 1:
            raise QuoteError(f"Quote line {self.option_id}: quantity {self.qty!r} must be a "
                             "whole number of at least 1.")
        percent_bps(f"Quote line {self.option_id}: seller discount", self.discount_pct)

    @property
    def discount_bps(self) -> int:
        """The seller discount in basis points."""
        return percent_bps("seller discount", self.discount_pct)


@dataclass(frozen=True)
class Quote:
    """A quote: for an account, by a seller in a role, in a segment, region and currency.

    `quote_id` names the quote across its versions (the CRM quote record); `attributes` are
    the configuration attributes beside the region (deployment)."""

    quote_id: str
    account_id: str
    seller: str
    seller_role: str
    segment: str
    region: str
    currency: str
    lines: tuple[QuoteLine, ...]
    attributes: Mapping[str, str] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.quote_id.strip():
            raise QuoteError("A quote needs a quote id (the CRM quote it becomes).")
        if self.seller_role not in SELLER_ROLES:
            raise QuoteError(f"Seller role {self.seller_role!r} is not one of "
                             f"{', '.join(SELLER_ROLES)}.")
        if not self.lines:
            raise QuoteError(f"Quote {self.quote_id} has no lines; pick at least one option.")
        seen = [line.option_id for line in self.lines]
        twice = sorted({o for o in seen if seen.count(o) > 1})
        if twice:
            raise QuoteError(f"Quote {self.quote_id} lists {twice[0]} twice; put its whole "
                             "quantity on one line.")

    def line(self, option_id: str) -> QuoteLine:
        """The line of an option (KeyError when there is none)."""
        for line in self.lines:
            if line.option_id == option_id:
                return line
        raise KeyError(option_id)


@dataclass(frozen=True)
class QuoteVersion:
    """A saved quote version: the quote, the versions it was priced with, its place in the
    quote's lineage and its status."""

    version_id: str
    version_no: int
    name: str
    parent_id: str | None
    status: str
    content_hash: str
    quote: Quote
    catalog_version: str
    price_book_id: str
    price_book_version: int
    priced_on: date
    list_cents: int
    net_cents: int
    cost_cents: int
    created_by: str


@dataclass(frozen=True)
class LineChange:
    """A line present in both versions whose quantity, discount or net changed."""

    option_id: str
    qty_before: int
    qty_after: int
    discount_bps_before: int
    discount_bps_after: int
    net_cents_before: int
    net_cents_after: int


@dataclass(frozen=True)
class QuoteComparison:
    """What changed from version `a` to version `b` of a quote (or of two quotes)."""

    a_id: str
    b_id: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[LineChange, ...]
    unchanged: tuple[str, ...]
    net_before_cents: int
    net_after_cents: int
    price_versions_changed: bool
    """The two versions were priced with other catalog or price book versions."""

    @property
    def net_delta_cents(self) -> int:
        """Net of `b` less net of `a`."""
        return self.net_after_cents - self.net_before_cents


@dataclass(frozen=True)
class ApprovalAsk:
    """One role a submitted quote asks (or carries over from an earlier approval), and why."""

    role: str
    reasons: tuple[str, ...]
    carried_from: str | None = None
    """'request-… step N' when carried over from an earlier approval."""


@dataclass(frozen=True)
class QuoteSubmission:
    """What submitting a quote version did."""

    version_id: str
    request_id: str | None
    """None when no line needs approval (the version is approved at once)."""
    status: str
    """The version's status after submitting: submitted or approved."""
    asked: tuple[ApprovalAsk, ...]
    carried: tuple[ApprovalAsk, ...]

    @property
    def message(self) -> str:
        """The submission in one sentence."""
        if self.request_id is None:
            return "Every discount is within the seller's authority: the quote is approved."
        asked = ", ".join(approvals.role_label(a.role) for a in self.asked)
        carried = ", ".join(approvals.role_label(a.role) for a in self.carried)
        if not asked:
            return (f"Submitted ({self.request_id}); every approval carries over from the "
                    f"earlier version ({carried}): the quote is approved.")
        return (f"Submitted ({self.request_id}); waiting for {asked}"
                + (f"; carried over: {carried}." if carried else "."))


@dataclass(frozen=True)
class QuoteSync:
    """A sync of an approved quote version to the CRM through the writeback outbox."""

    version_id: str
    batch_id: str | None
    """None when every change was already queued by an earlier sync."""
    items: int
    evidence: dict


def _role_of(user: User) -> str | None:
    return user.primary_role.value if user.primary_role else None


def catalog_json(catalog: Catalog) -> str:
    """The catalog as canonical JSON (what a snapshot keeps and hashes)."""
    data = {"catalog_version": catalog.catalog_version,
            "products": [asdict(p) for p in catalog.products],
            "options": [{**asdict(o), "attributes": {k: list(v) for k, v in
                                                      sorted(o.attributes.items())}}
                        for o in catalog.options],
            "bundles": [{**asdict(b), "components": dict(b.components)}
                        for b in catalog.bundles],
            "rules": [asdict(r) for r in catalog.rules]}
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def _day(value: str | None) -> date | None:
    return None if value in (None, "None") else date.fromisoformat(value)


def catalog_from_json(text: str) -> Catalog:
    """A catalog from `catalog_json`."""
    data = json.loads(text)
    return Catalog(
        catalog_version=data["catalog_version"],
        products=tuple(Product(**{**p, "valid_from": _day(p["valid_from"]),
                                  "valid_to": _day(p["valid_to"])}) for p in data["products"]),
        options=tuple(Option(**{**o, "attributes": {k: tuple(v) for k, v in
                                                    o["attributes"].items()},
                                "provides": tuple(o["provides"])}) for o in data["options"]),
        bundles=tuple(Bundle(**b) for b in data["bundles"]),
        rules=tuple(Rule(**{**r, "subjects": tuple(r["subjects"]), "values": tuple(r["values"]),
                            "valid_from": _day(r["valid_from"]),
                            "valid_to": _day(r["valid_to"])}) for r in data["rules"]))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _keep_catalog(cur: duckdb.DuckDBPyConnection, catalog: Catalog, actor: str,
                  actor_role: str | None) -> None:
    """Snapshot a catalog version unless kept already (audited); refuse a version kept with
    other content."""
    text = catalog_json(catalog)
    stored = books_repo.catalog_snapshot(cur, catalog.catalog_version)
    if stored is not None:
        if stored[1] != _sha(text):
            raise QuoteError(f"Catalog version {catalog.catalog_version} is already kept with "
                             "other content; give the changed catalog a new version.")
        return
    books_repo.insert_catalog_snapshot(cur, catalog_version=catalog.catalog_version,
                                       content_json=text, content_hash=_sha(text),
                                       saved_by=actor, saved_at=now_utc())
    audit.record(cur, actor=actor, actor_role=actor_role, action="cpq.catalog.keep",
                 entity="cpq_catalog", entity_id=catalog.catalog_version,
                 after={"content_hash": _sha(text), "options": len(catalog.options),
                        "rules": len(catalog.rules)})


def _keep_price_book(cur: duckdb.DuckDBPyConnection, book: PriceBook, actor: str,
                     actor_role: str | None) -> bool:
    """Store a price book version unless stored already (audited); refuse a version stored
    with other content. True when it was stored now."""
    digest = price_book_hash(book)
    stored = books_repo.price_book(cur, book.price_book_id, book.version)
    if stored is not None:
        if stored[1] != digest:
            raise QuoteError(f"Price book {book.price_book_id} version {book.version} is "
                             "already stored with other content; give the changed book a new "
                             "version.")
        return False
    books_repo.insert_price_book(
        cur, price_book_id=book.price_book_id, version=book.version, name=book.name,
        segment=book.segment, region=book.region, currency=book.currency,
        valid_from=book.valid_from, valid_to=book.valid_to, content_json=price_book_json(book),
        content_hash=digest, saved_by=actor, saved_at=now_utc())
    audit.record(cur, actor=actor, actor_role=actor_role, action="cpq.price_book.store",
                 entity="cpq_price_book", entity_id=f"{book.price_book_id}@v{book.version}",
                 after={"content_hash": digest, "entries": len(book.entries),
                        "valid_from": book.valid_from, "valid_to": book.valid_to})
    return True


@entry_point(Action.MANAGE_PRICE_BOOKS)
def store_price_books(workspace: Workspace, user: User, books: list[PriceBook]) -> int:
    """Keep price book versions in the workspace (each audited; a version already kept with
    the same content is left alone, with other content refused). Returns how many were new."""
    return workspace.write(lambda cur: sum(_keep_price_book(cur, b, user.email, _role_of(user))
                                           for b in books))


@entry_point(Action.READ_QUOTES)
def stored_price_books(workspace: Workspace, user: User) -> list[PriceBook]:
    """Every price book version kept in the workspace."""
    return [price_book_from_json(text)
            for text in workspace.read(books_repo.price_book_contents)]


def _account_in_scope(cur: duckdb.DuckDBPyConnection, user: User, account_id: str) -> dict:
    """The account, when it exists and its owner is in the user's scope."""
    account = quotes_repo.account(cur, account_id)
    if account is None:
        raise QuoteError(f"No account {account_id!r} in this workspace; check the CRM id.")
    owner = account["owner_id"]
    if not user.sees_everything and (owner is None or not can(user, Action.READ_DEAL, owner)):
        raise AccessDeniedError(f"Account {account['name']} ({account_id}) belongs to someone "
                                "outside your team.")
    return account


def _snapshots(cur: duckdb.DuckDBPyConnection, row: dict) -> tuple[Catalog, PriceBook]:
    catalog = books_repo.catalog_snapshot(cur, row["catalog_version"])
    book = books_repo.price_book(cur, row["price_book_id"], int(row["price_book_version"]))
    if catalog is None or book is None:
        raise QuoteError(f"Quote version {row['version_id']} lost its catalog or price book "
                         "snapshot; it cannot be re-priced.")
    return catalog_from_json(catalog[0]), price_book_from_json(book[0])


def _line_detail(priced: PricedQuote, position: int) -> str:
    line = priced.lines[position]
    return json.dumps({"position": position, "qty": line.qty,
                       "discount_bps": line.discount_bps,
                       "unit_price_cents": line.unit_price_cents,
                       "list_cents": line.list_cents, "cost_cents": line.cost_cents,
                       "discount_band": line.discount_band, "below_floor": line.below_floor,
                       "fingerprint": line.fingerprint()}, sort_keys=True)


def _quote_parameters(quote: Quote, priced: PricedQuote) -> dict:
    return {"quote_id": quote.quote_id, "name": quote.name, "account_id": quote.account_id,
            "seller": quote.seller, "seller_role": quote.seller_role,
            "segment": quote.segment, "region": quote.region, "currency": quote.currency,
            "attributes": dict(sorted(quote.attributes.items())),
            "catalog_version": priced.catalog_version,
            "price_book_id": priced.price_book_id,
            "price_book_version": priced.price_book_version,
            "priced_on": priced.priced_on.isoformat()}


@entry_point(Action.CREATE_QUOTE)
def save_quote(workspace: Workspace, user: User, quote: Quote, catalog: Catalog,
               price_book: PriceBook, on_day: date | None = None) -> str:
    """Price `quote` with `catalog` and `price_book` on `on_day` (today) and save it as the
    next version of its quote (the child of the quote's newest version), keeping the catalog
    and price book versions it was priced with; one audited transaction. Returns the version
    id. A seller saves their own quotes in a selling role they hold, for an account in their
    scope; deal desk and RevOps may save one for a seller who holds the quote's role."""
    on_behalf = not same_email(quote.seller, user.email)
    if on_behalf and not user.has_any(ON_BEHALF_ROLES):
        raise QuoteError(f"The quote's seller is {quote.seller}; a seller saves their own "
                         "quotes (set the seller to you).")
    if not on_behalf and Role(quote.seller_role) not in user.roles:
        raise QuoteError(f"You do not hold the {quote.seller_role} role the quote prices "
                         "with; pick one of your roles.")
    day = on_day or today_utc()

    def prepare(cur) -> tuple[dict | None, int | None]:
        if on_behalf and quote.seller_role not in (
                access_repo.member_roles(cur, quote.seller) or []):
            raise QuoteError(f"{quote.seller} does not hold the {quote.seller_role} role in "
                             "this workspace; pick the seller's own role.")
        account = _account_in_scope(cur, user, quote.account_id)
        latest = quotes_repo.latest_quote_version(cur, quote.quote_id)
        if latest is not None and latest["account_id"] != quote.account_id:
            raise QuoteError(f"Quote {quote.quote_id} is for account {latest['account_id']}, "
                             f"not {account['account_id']}; start a new quote id.")
        return latest, books_repo.newest_price_book_version(cur, price_book.price_book_id)

    latest, newest = workspace.read(prepare)
    priced = price_quote(catalog, price_book, quote, day, newest_price_book_version=newest)
    version_no = 1 if latest is None else int(latest["version_no"]) + 1
    parent_id = None if latest is None else latest["version_id"]
    items = pd.DataFrame({
        "subject": [line.option_id for line in priced.lines],
        "amount_cents": [line.net_cents for line in priced.lines],
        "detail": [_line_detail(priced, n) for n in range(len(priced.lines))]})
    content = ScenarioContent(
        kind=KIND, name=f"{quote.quote_id} v{version_no}",
        parameters=_quote_parameters(quote, priced), solver={"status": "priced"},
        metrics={"list_cents": priced.list_cents, "net_cents": priced.net_cents,
                 "cost_cents": priced.cost_cents, "discount_band": priced.discount_band,
                 "issues": [i.code for i in priced.issues]},
        items=items)
    role = _role_of(user)

    def store(cur: duckdb.DuckDBPyConnection, stamp: ScenarioStamp) -> None:
        now_latest = quotes_repo.latest_quote_version(cur, quote.quote_id)
        if (now_latest or {}).get("version_id") != parent_id:
            raise QuoteError(f"Someone saved another version of {quote.quote_id} meanwhile; "
                             "open it and save again.")
        _keep_catalog(cur, catalog, user.email, role)
        _keep_price_book(cur, price_book, user.email, role)
        quotes_repo.insert_quote_version(cur, {
            "version_id": stamp.scenario_id, "quote_id": quote.quote_id,
            "version_no": version_no, "account_id": quote.account_id, "seller": quote.seller,
            "seller_role": quote.seller_role, "segment": quote.segment,
            "region": quote.region, "currency": quote.currency,
            "catalog_version": priced.catalog_version, "price_book_id": priced.price_book_id,
            "price_book_version": priced.price_book_version, "priced_on": priced.priced_on,
            "list_cents": priced.list_cents, "net_cents": priced.net_cents,
            "cost_cents": priced.cost_cents, "created_by": user.email,
            "created_at": stamp.created_at})

    return save_scenario_version(
        workspace, content, actor=user.email, actor_role=role, parent_id=parent_id,
        store_result=store,
        audit_after={"quote_id": quote.quote_id, "version_no": version_no,
                     "net_cents": priced.net_cents,
                     "price_book": f"{priced.price_book_id}@v{priced.price_book_version}",
                     "catalog_version": priced.catalog_version})


def _quote_version(cur: duckdb.DuckDBPyConnection, user: User, version_id: str
                   ) -> QuoteVersion:
    row = quotes_repo.quote_version(cur, version_id)
    if row is None:
        raise QuoteError(f"No quote version {version_id!r}.")
    _account_in_scope(cur, user, row["account_id"])
    version = read_version(cur, version_id)
    items = read_items(cur, version_id)
    details = [json.loads(d) for d in items["detail"]]
    order = sorted(range(len(details)), key=lambda n: details[n]["position"])
    lines = tuple(QuoteLine(str(items["subject"].iloc[n]), int(details[n]["qty"]),
                            float(details[n]["discount_bps"]) / 100) for n in order)
    parameters = version.parameters
    quote = Quote(quote_id=row["quote_id"], account_id=row["account_id"], seller=row["seller"],
                  seller_role=row["seller_role"], segment=row["segment"],
                  region=row["region"], currency=row["currency"], lines=lines,
                  attributes=dict(parameters.get("attributes", {})),
                  name=parameters.get("name", ""))
    return QuoteVersion(
        version_id=version_id, version_no=int(row["version_no"]), name=version.name,
        parent_id=version.parent_id, status=version.status,
        content_hash=version.content_hash, quote=quote,
        catalog_version=row["catalog_version"], price_book_id=row["price_book_id"],
        price_book_version=int(row["price_book_version"]), priced_on=row["priced_on"],
        list_cents=int(row["list_cents"]), net_cents=int(row["net_cents"]),
        cost_cents=int(row["cost_cents"]), created_by=row["created_by"])


@entry_point(Action.READ_QUOTES)
def read_quote(workspace: Workspace, user: User, version_id: str) -> QuoteVersion:
    """One saved quote version (an account in the user's scope)."""
    return workspace.read(lambda cur: _quote_version(cur, user, version_id))


def _reprice(cur: duckdb.DuckDBPyConnection, user: User, version_id: str
             ) -> tuple[QuoteVersion, PricedQuote]:
    saved = _quote_version(cur, user, version_id)
    row = quotes_repo.quote_version(cur, version_id) or {}
    catalog, book = _snapshots(cur, row)
    newest = books_repo.newest_price_book_version(cur, saved.price_book_id)
    return saved, price_quote(catalog, book, saved.quote, saved.priced_on,
                              newest_price_book_version=newest)


@entry_point(Action.READ_QUOTES)
def reprice_quote(workspace: Workspace, user: User, version_id: str) -> PricedQuote:
    """A saved quote version priced again with the catalog and price book versions and on the
    day it was saved with: the same waterfall, whatever changed since (a newer price book
    version shows as a stale-price-book issue)."""
    return workspace.read_snapshot(lambda cur: _reprice(cur, user, version_id)[1])


@entry_point(Action.READ_QUOTES)
def quote_versions(workspace: Workspace, user: User, quote_id: str | None = None
                   ) -> pd.DataFrame:
    """Saved quote versions newest first (one quote's with `quote_id`), of accounts in the
    user's scope: ids, lineage (parent_id), status, net and the versions priced with."""

    def read(cur) -> pd.DataFrame:
        frame = quotes_repo.quote_list(cur, quote_id, None)
        if user.sees_everything:
            return frame
        owners = [(quotes_repo.account(cur, a) or {}).get("owner_id")
                  for a in frame["account_id"]]
        keep = [bool(owner) and can(user, Action.READ_DEAL, owner) for owner in owners]
        return frame.loc[pd.Series(keep, index=frame.index, dtype=bool)].reset_index(
            drop=True)

    return workspace.read(read)


@entry_point(Action.READ_QUOTES)
def compare_quotes(workspace: Workspace, user: User, a_id: str, b_id: str) -> QuoteComparison:
    """Lines added, removed and changed (quantity, discount or net) from version `a` to `b`,
    and the net delta."""

    def read(cur) -> tuple[QuoteVersion, QuoteVersion, dict, dict]:
        a, b = _quote_version(cur, user, a_id), _quote_version(cur, user, b_id)
        nets = [{o: n for o, (_, _, n) in _stored_lines(cur, v).items()} for v in (a_id, b_id)]
        return a, b, nets[0], nets[1]

    a, b, net_a, net_b = workspace.read_snapshot(read)
    lines_a = {line.option_id: line for line in a.quote.lines}
    lines_b = {line.option_id: line for line in b.quote.lines}
    changed, unchanged = [], []
    for option_id in (o for o in lines_b if o in lines_a):
        before, after = lines_a[option_id], lines_b[option_id]
        if (before.qty, before.discount_bps, int(net_a[option_id])) == (
                after.qty, after.discount_bps, int(net_b[option_id])):
            unchanged.append(option_id)
            continue
        changed.append(LineChange(option_id, before.qty, after.qty, before.discount_bps,
                                  after.discount_bps, int(net_a[option_id]),
                                  int(net_b[option_id])))
    return QuoteComparison(
        a_id=a_id, b_id=b_id, added=tuple(o for o in lines_b if o not in lines_a),
        removed=tuple(o for o in lines_a if o not in lines_b), changed=tuple(changed),
        unchanged=tuple(unchanged), net_before_cents=a.net_cents, net_after_cents=b.net_cents,
        price_versions_changed=(a.catalog_version, a.price_book_id, a.price_book_version) != (
            b.catalog_version, b.price_book_id, b.price_book_version))


def quote_rules(rules: dict) -> list[dict]:
    """The policy's `quote` rules, or the default ones for a policy published before quotes
    had rules."""
    return rules.get(KIND) or approvals.DEFAULT_RULES[KIND]


def line_asks(priced: PricedQuote, rules: list[dict]) -> dict[str, dict[str, list[str]]]:
    """option_id → role → the reasons the policy asks that role for the line (lines that need
    nobody are left out)."""
    asks: dict[str, dict[str, list[str]]] = {}
    for line in priced.lines:
        facts = approvals.VersionFacts(largest_rep_change=0.0, moved_share=0.0,
                                       enterprise_moved=0, discount_band=line.discount_band,
                                       margin_below_floor=line.below_floor)
        for step in approvals.route({KIND: rules}, KIND, facts):
            words = (f"{line.name}: {percent_text(line.discount_bps)} seller discount, "
                     f"{BAND_WORDS[line.discount_band]}"
                     + ("; margin below its floor" if line.below_floor else ""))
            asks.setdefault(line.option_id, {}).setdefault(step.role, []).extend(
                f"{reason} ({words})" for reason in step.reasons)
    return asks


def _approved_ancestor(cur: duckdb.DuckDBPyConnection, parent_id: str | None
                       ) -> tuple[str, dict, pd.DataFrame] | None:
    """The nearest ancestor version with an approved request: (version id, request,
    steps)."""
    seen: set[str] = set()
    current = parent_id
    while current is not None and current not in seen:
        seen.add(current)
        request = quotes_repo.approved_request(cur, current)
        if request is not None:
            return current, request, quotes_repo.request_steps(cur, request["request_id"])
        current = read_version(cur, current).parent_id
    return None


def _fingerprints(cur: duckdb.DuckDBPyConnection, version_id: str) -> dict[str, str]:
    items = read_items(cur, version_id)
    return {str(s): json.loads(d)["fingerprint"]
            for s, d in zip(items["subject"], items["detail"], strict=True)}


@entry_point(Action.CREATE_QUOTE)
def submit_quote(workspace: Workspace, user: User, quote_version_id: str) -> QuoteSubmission:
    """Submit a saved quote version for discount approval, routed by the approval policy's
    `quote` rules per line; roles needed only by lines unchanged since the nearest approved
    ancestor carry that approval over, the others are asked. Refused while the quote has
    errors (stale price book, expired product, broken rule, margin…). Audited."""

    def write(cur) -> QuoteSubmission:
        version = verify_version(cur, quote_version_id)
        if version.kind != KIND:
            raise QuoteError(f"Version {quote_version_id} is a {version.kind} version, not a "
                             "quote.")
        if version.status not in SUBMITTABLE:
            raise QuoteError(f"Quote version {version.name} is {version.status}; only a draft "
                             "(or one sent back for changes) can be submitted.")
        saved, priced = _reprice(cur, user, quote_version_id)
        if priced.errors:
            first = priced.errors[0]
            more = len(priced.errors) - 1
            raise QuoteError(f"{version.name} cannot be submitted: {first.message} "
                             f"{first.fix}" + (f" ({more} more issue{'s' * (more > 1)})"
                                               if more else ""))
        policy_version, rules = approvals.current_policy(cur)
        asks = line_asks(priced, quote_rules(rules))
        ancestor = _approved_ancestor(cur, version.parent_id)
        unchanged: set[str] = set()
        if ancestor is not None:
            before = _fingerprints(cur, ancestor[0])
            unchanged = {o for o, f in _fingerprints(cur, quote_version_id).items()
                         if before.get(o) == f}
        roles: dict[str, list[str]] = {}
        changed_roles: set[str] = set()
        for option_id, by_role in asks.items():
            for role, reasons in by_role.items():
                roles.setdefault(role, []).extend(reasons)
                if option_id not in unchanged:
                    changed_roles.add(role)
        granted = {}
        if ancestor is not None:
            steps = ancestor[2]
            for step in steps[steps["status"].isin(["approved", CARRIED])].itertuples():
                granted.setdefault(step.role, step)
        asked = [ApprovalAsk(r, tuple(dict.fromkeys(w))) for r, w in roles.items()
                 if r in changed_roles or r not in granted]
        carried = [ApprovalAsk(r, tuple(dict.fromkeys(w)),
                               f"{ancestor[1]['request_id']} step {granted[r].step_no}")
                   for r, w in roles.items() if r not in changed_roles and r in granted]
        actor, actor_role = user.email, _role_of(user)
        if not asked and not carried:
            set_status(cur, quote_version_id, "approved", actor=actor, actor_role=actor_role,
                       reason="every discount within the seller's authority")
            audit.record(cur, actor=actor, actor_role=actor_role, action="quote.approve",
                         entity="plan_version", entity_id=quote_version_id,
                         after={"content_hash": version.content_hash, "route": []},
                         reason="no line needs approval")
            return QuoteSubmission(quote_version_id, None, "approved", (), ())
        route_steps = [approvals.RouteStep(a.role, a.reasons) for a in asked]
        assigned = approvals.routable_alternates(cur, route_steps, user)
        request_id = f"request-{now_utc():%Y%m%d-%H%M%S%f}"
        ordered = [*asked, *carried]
        approvals_repo.insert_request(
            cur, request_id=request_id, version_id=quote_version_id,
            content_hash=version.content_hash, policy_version=policy_version,
            route_json=json.dumps([{"role": a.role, "reasons": list(a.reasons),
                                    "alternate": assigned.get(a.role),
                                    "carried_from": a.carried_from} for a in ordered]),
            submitted_by=actor, submitted_at=now_utc())
        for number, ask in enumerate(ordered, start=1):
            source = granted.get(ask.role) if ask.carried_from else None
            approvals_repo.insert_step(
                cur, request_id=request_id, step_no=number, role=ask.role,
                reason="; ".join(ask.reasons), status=CARRIED if source else "pending",
                decided_by=None, decided_at=source.decided_at if source else None,
                comment=(f"carried over from {ask.carried_from} (approved by "
                         f"{source.decided_by}): its lines are unchanged") if source else None)
        status = "submitted" if asked else "approved"
        if not asked:
            approvals_repo.set_request_status(cur, request_id, "approved")
        set_status(cur, quote_version_id, status, actor=actor, actor_role=actor_role)
        audit.record(cur, actor=actor, actor_role=actor_role, action="approval.submit",
                     entity="approval_request", entity_id=request_id,
                     after={"version_id": quote_version_id,
                            "content_hash": version.content_hash,
                            "policy_version": policy_version,
                            "route": [a.role for a in asked],
                            "carried": {a.role: a.carried_from for a in carried},
                            "unchanged_lines": sorted(unchanged), "alternates": assigned})
        return QuoteSubmission(quote_version_id, request_id, status, tuple(asked),
                               tuple(carried))

    return workspace.write(write)


def _line_text(qty: int, discount_bps: int, net_cents: int) -> str:
    off = f" at {percent_text(discount_bps)} off" if discount_bps else ""
    return f"{qty:,}{off} → {format_money(net_cents)}"


def _stored_lines(cur: duckdb.DuckDBPyConnection, version_id: str) -> dict[str, tuple[int, int,
                                                                                       int]]:
    """option_id → (quantity, seller discount bps, net cents) of a saved quote version."""
    items = read_items(cur, version_id)
    return {str(o): (int(json.loads(d)["qty"]), int(json.loads(d)["discount_bps"]), int(n))
            for o, d, n in zip(items["subject"], items["detail"], items["amount_cents"],
                               strict=True)}


def approver_figures(cur: duckdb.DuckDBPyConnection, version: PlanVersion
                     ) -> tuple[tuple[approvals.SummaryFigure, ...], pd.DataFrame, str]:
    """A quote's approver card (see `planning.approvals.approver_summary`): net, list, share
    off list and lines against the previous version of the quote (or none for its first),
    and its changed lines by size of the net change, as text."""
    row = quotes_repo.quote_version(cur, version.version_id)
    if row is None:
        raise QuoteError(f"No quote version {version.version_id!r}.")
    parent = (quotes_repo.quote_version(cur, version.parent_id) if version.parent_id
              else None)
    after = _stored_lines(cur, version.version_id)
    before = _stored_lines(cur, parent["version_id"]) if parent else {}
    snapshot = books_repo.catalog_snapshot(cur, row["catalog_version"])
    catalog = catalog_from_json(snapshot[0]) if snapshot else None

    def off_list(data: dict | None) -> str | None:
        if data is None:
            return None
        listed, net = int(data["list_cents"]), int(data["net_cents"])
        return percent_text((listed - net) * 10_000 // listed) if listed else "0%"

    def money(data: dict | None, column: str) -> str | None:
        return None if data is None else format_money(int(data[column]))

    net_change = (None if parent is None else
                  ("+" if row["net_cents"] >= parent["net_cents"] else "-")
                  + format_money(abs(int(row["net_cents"]) - int(parent["net_cents"]))))
    totals = (
        approvals.SummaryFigure("Net", money(row, "net_cents") or "", money(parent, "net_cents"),
                                net_change),
        approvals.SummaryFigure("List price", money(row, "list_cents") or "",
                                money(parent, "list_cents"), None),
        approvals.SummaryFigure("Off list", off_list(row) or "", off_list(parent), None),
        approvals.SummaryFigure("Lines", f"{len(after):,}",
                                None if parent is None else f"{len(before):,}", None),
    )
    rows = []
    for option_id in dict.fromkeys([*after, *before]):
        old, new = before.get(option_id), after.get(option_id)
        if old == new:
            continue
        change = (new[2] if new else 0) - (old[2] if old else 0)
        rows.append({"line": catalog.option_name(option_id) if catalog else option_id,
                     "before": _line_text(*old) if old else "—",
                     "after": _line_text(*new) if new else "removed",
                     "change": ("+" if change >= 0 else "-") + format_money(abs(change)),
                     "option_id": option_id, "size": abs(change)})
    changes = pd.DataFrame(rows, columns=["line", "before", "after", "change", "option_id",
                                          "size"])
    changes = changes.sort_values(["size", "line"], ascending=[False, True]).head(
        approvals.BIGGEST_CHANGES).drop(columns="size").reset_index(drop=True)
    text = (f"Compared with the previous version {parent['quote_id']} v{parent['version_no']}"
            if parent else "First version of this quote: every line is new")
    return totals, changes, text


QUOTE_FIELDS = ("Name", "AccountId", "Status", "List_Amount__c", "Net_Amount__c",
                "CurrencyIsoCode", "RevPlan_Version__c", "Catalog_Version__c",
                "Price_Book_Version__c", "Rule_Evidence__c", "Approval_Evidence__c")
LINE_FIELDS = ("Quantity", "UnitPrice", "Discount", "Net_Price__c")
"""The CRM fields a sync writes on `Quote` and `QuoteLineItem` records."""


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _evidence(cur: duckdb.DuckDBPyConnection, priced: PricedQuote, version_id: str,
              content_hash: str) -> dict:
    """The rule matches and the approvals behind a quote version: every request of the
    version approved with this content hash, its steps, and the requests steps carried
    over from."""
    request = quotes_repo.approved_request(cur, version_id)
    approvals_list = []
    if request is not None:
        for step in quotes_repo.request_steps(cur, request["request_id"]).itertuples():
            approvals_list.append({"request_id": request["request_id"],
                                   "step": int(step.step_no), "role": step.role,
                                   "status": step.status,
                                   "decided_by": None if pd.isna(step.decided_by)
                                   else step.decided_by, "comment": None
                                   if pd.isna(step.comment) else step.comment})
    return {"rule_matches": list(priced.rule_matches),
            "issues": [{"code": i.code, "rule_id": i.rule_id, "option_id": i.option_id}
                       for i in priced.issues],
            "approval_request_ids": sorted({a["request_id"] for a in approvals_list}),
            "approvals": approvals_list, "content_hash": content_hash,
            "catalog_version": priced.catalog_version,
            "price_book": f"{priced.price_book_id}@v{priced.price_book_version}"}


def _changes(saved: QuoteVersion, priced: PricedQuote, evidence: dict) -> list[dict]:
    quote = saved.quote
    values = {"Name": quote.name or saved.name, "AccountId": quote.account_id,
              "Status": "Approved", "List_Amount__c": _money(priced.list_cents),
              "Net_Amount__c": _money(priced.net_cents), "CurrencyIsoCode": quote.currency,
              "RevPlan_Version__c": saved.version_id,
              "Catalog_Version__c": saved.catalog_version,
              "Price_Book_Version__c": f"{saved.price_book_id}@v{saved.price_book_version}",
              "Rule_Evidence__c": json.dumps(evidence["rule_matches"]),
              "Approval_Evidence__c": json.dumps({
                  "requests": evidence["approval_request_ids"],
                  "steps": evidence["approvals"], "content_hash": evidence["content_hash"]},
                  sort_keys=True)}
    changes = [{"object": "Quote", "record_id": quote.quote_id, "field": name,
                "old_value": None, "new_value": values[name]} for name in QUOTE_FIELDS]
    for line in priced.lines:
        line_values = {"Quantity": str(line.qty), "UnitPrice": _money(line.unit_price_cents),
                       "Discount": percent_text(line.discount_bps).rstrip("%"),
                       "Net_Price__c": _money(line.net_cents)}
        changes.extend({"object": "QuoteLineItem",
                        "record_id": f"{quote.quote_id}-{line.option_id}", "field": name,
                        "old_value": None, "new_value": line_values[name]}
                       for name in LINE_FIELDS)
    return changes


@entry_point(Action.SYNC_QUOTE)
def sync_approved_quote(workspace: Workspace, user: User, version_id: str) -> QuoteSync:
    """Queue an approved quote version for the CRM in the writeback outbox: the quote's header
    and lines, with its rule matches and approvals as evidence (fields Rule_Evidence__c and
    Approval_Evidence__c, and the sync's record); the version becomes published. Changes
    already queued by an earlier sync are not queued twice. Audited."""
    refused = sorted(f"{o}.{f}" for o, fields in (("Quote", QUOTE_FIELDS),
                                                  ("QuoteLineItem", LINE_FIELDS))
                     for f in fields if not can(user, Action.WRITE_FIELD, f"{o}.{f}"))
    if refused:
        raise AccessDeniedError(f"Your roles may not write {', '.join(refused)}; ask the "
                                "seller or deal desk to sync.")

    def write(cur) -> QuoteSync:
        version = verify_version(cur, version_id)
        if version.kind != KIND:
            raise QuoteError(f"Version {version_id} is a {version.kind} version, not a quote.")
        if version.status not in ("approved", "published"):
            raise QuoteError(f"Quote version {version.name} is {version.status}; only an "
                             "approved quote syncs to the CRM.")
        saved, priced = _reprice(cur, user, version_id)
        request = quotes_repo.approved_request(cur, version_id)
        if request is not None and request["content_hash"] != version.content_hash:
            raise QuoteError(f"Quote version {version.name} changed since it was approved.")
        if request is None and priced.discount_band > 0:
            raise QuoteError(f"Quote version {version.name} has discounts above authority and "
                             "no approval; submit it first.")
        evidence = _evidence(cur, priced, version_id, version.content_hash)
        changes = _changes(saved, priced, evidence)
        keys = [idempotency_key(version.content_hash, change) for change in changes]
        queued = outbox_repo.queued_keys(cur, keys)
        fresh = [(key, change) for key, change in zip(keys, changes, strict=True)
                 if key not in queued]
        if not fresh:
            return QuoteSync(version_id, None, 0, evidence)
        now = now_utc()
        batch_id = f"batch-{now:%Y%m%d-%H%M%S%f}"
        start = outbox_repo.last_sequence(cur)
        outbox_repo.insert_items(cur, [
            (key, batch_id, start + n, c["object"], c["record_id"], c["field"], c["old_value"],
             c["new_value"]) for n, (key, c) in enumerate(fresh, start=1)])
        outbox_repo.insert_batch(cur, batch_id=batch_id, version_id=version_id,
                                 content_hash=version.content_hash, published_by=user.email,
                                 published_at=now, items=len(fresh))
        quotes_repo.insert_sync(cur, version_id=version_id, batch_id=batch_id,
                                content_hash=version.content_hash,
                                evidence_json=json.dumps(evidence, sort_keys=True, default=str),
                                synced_by=user.email, synced_at=now)
        if version.status != "published":
            set_status(cur, version_id, "published", actor=user.email,
                       actor_role=_role_of(user), reason=f"synced to the CRM in {batch_id}")
        audit.record(cur, actor=user.email, actor_role=_role_of(user), action="quote.sync",
                     entity="plan_version", entity_id=version_id,
                     after={"batch_id": batch_id, "items": len(fresh),
                            "content_hash": version.content_hash,
                            "approval_request_ids": evidence["approval_request_ids"],
                            "rule_matches": len(evidence["rule_matches"])})
        return QuoteSync(version_id, batch_id, len(fresh), evidence)

    return workspace.write(write)

