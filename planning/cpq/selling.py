"""Guided selling for the Quote page: the accounts a seller may quote, the selling role a
quote is priced with, the questionnaire's choices read from the catalog and price books, a
draft priced with the newest valid price book, and the quote summarised in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.roles import Role
from planning.access.users import User
from planning.cpq.catalog import Catalog
from planning.cpq.pricing import (
    SELLER_ROLES,
    PriceBook,
    PricedQuote,
    percent_text,
    price_quote,
    select_price_book,
)
from planning.cpq.quotes import Quote
from planning.overview import format_money
from planning.store import Workspace
from planning.store import cpq_selling as selling_repo

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


@entry_point(Action.CREATE_QUOTE)
def quotable_accounts(workspace: Workspace, user: User) -> pd.DataFrame:
    """The accounts in the user's scope by name: account_id, name, segment, owner_id,
    owner_name, owner_email (empty strings, never None, where the CRM has none) and
    owner_seller_role, the selling role the owner holds as a workspace member (see
    seller_role; empty when none), whom deal desk and RevOps save a quote for."""
    owners = None if user.sees_everything else sorted(user.deal_owner_ids or ())
    frame = workspace.read(lambda cur: selling_repo.quotable_accounts(cur, owners))
    for column in ("name", "segment", "owner_name", "owner_email"):
        frame[column] = frame[column].fillna("").astype(str)
    frame["owner_seller_role"] = [
        seller_role(_roles(held)) or "" for held in frame["owner_roles"]]
    return frame.drop(columns="owner_roles")


def _roles(held: list[str]) -> frozenset[Role]:
    """Roles from a member's stored role names (an unknown name is left out)."""
    return frozenset(Role(n) for n in held if n in {r.value for r in Role})


def seller_role(roles: frozenset[Role] | set[Role]) -> str | None:
    """The selling role a quote is priced with: the widest-authority one of SELLER_ROLES the
    person holds (sales leader, then manager, then rep), or None for a non-seller."""
    held = {role.value for role in roles}
    return next((role for role in reversed(SELLER_ROLES) if role in held), None)


def money(cents: int, currency: str) -> str:
    """Compact money in the quote's currency: "$12.3K", "€980"."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    text = format_money(cents)
    return text.replace("$", symbol) if symbol else f"{text.replace('$', '')} {currency}"


@dataclass(frozen=True)
class Choices:
    """What the questionnaire offers: modules (capabilities the catalog's options provide),
    deployments and regions (attribute values options are sold with, regions also those
    price books serve)."""

    modules: tuple[str, ...]
    deployments: tuple[str, ...]
    regions: tuple[str, ...]


def questionnaire_choices(catalog: Catalog, books: list[PriceBook]) -> Choices:
    """The questionnaire's choices read from the catalog and the stored price books."""
    modules = sorted({m for option in catalog.options for m in option.provides})
    deployments = sorted({v for option in catalog.options
                          for v in option.attributes.get("deployment", ())})
    regions = sorted({v for option in catalog.options for v in option.attributes.get("region", ())}
                     | {book.region for book in books})
    return Choices(tuple(modules), tuple(deployments), tuple(regions))


def currency_for(books: list[PriceBook], segment: str, region: str, on_day: date) -> str | None:
    """The currency of the newest price book valid on `on_day` for the segment and region."""
    serving = [b for b in books if b.region == region and b.segment in (segment, "*")
               and b.valid_on(on_day)]
    if not serving:
        return None
    return max(serving, key=lambda b: (b.segment != "*", b.version)).currency


@dataclass(frozen=True)
class DraftPrice:
    """A draft quote priced: the price book it was priced with and the priced quote."""

    price_book: PriceBook
    priced: PricedQuote


def price_draft(catalog: Catalog, books: list[PriceBook], quote: Quote,
                on_day: date) -> DraftPrice:
    """Price a draft with the newest price book valid on `on_day` for its segment, region
    and currency (PricingError naming what is missing when there is none)."""
    book = select_price_book(books, quote.segment, quote.region, quote.currency, on_day)
    newest = max(b.version for b in books if b.price_book_id == book.price_book_id)
    return DraftPrice(book, price_quote(catalog, book, quote, on_day,
                                        newest_price_book_version=newest))


def quote_summary(priced: PricedQuote, account_name: str) -> str:
    """The quote in a few sentences: for whom, what, list and net, how far off list, the
    margin, and what stands between it and the customer."""
    quote = priced.quote
    currency = quote.currency
    listed, net = priced.list_cents, priced.net_cents
    off = percent_text((listed - net) * 10_000 // listed) if listed else "0%"
    margin = percent_text(priced.margin_cents * 10_000 // net) if net else "n/a"
    lines = len(priced.lines)
    words = [f"Quote for {account_name or quote.account_id} ({quote.segment or 'no segment'}, "
             f"{quote.region.upper()}, {currency}): {lines} line{'s' * (lines != 1)}, list "
             f"{money(listed, currency)}, net {money(net, currency)} ({off} off list), margin "
             f"{margin}."]
    steps = [s for s in priced.steps[1:-1] if s.change_cents]
    if steps:
        words.append("From list to net: " + "; ".join(
            f"{s.label.lower()} {money(s.change_cents, currency)}" for s in steps) + ".")
    errors = priced.errors
    approvals = [i for i in priced.issues if i.severity == "approval"]
    if errors:
        words.append(f"{len(errors)} error{'s' * (len(errors) != 1)} to fix before it can "
                     f"be submitted: {errors[0].message}")
    elif approvals:
        words.append("Needs discount approval: " + approvals[0].message)
    else:
        words.append("Every discount is within the seller's authority.")
    words.append(f"Priced {priced.priced_on:%d %b %Y} with price book {priced.price_book_id} "
                 f"v{priced.price_book_version} and catalog {priced.catalog_version}.")
    return " ".join(words)
