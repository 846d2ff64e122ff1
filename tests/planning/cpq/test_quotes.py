"""Quotes on the small demo workspace: saved as versions with lineage, re-priced with the versions
they were priced with, compared, routed for discount approval by policy (smart approvals carry
over what unchanged lines had), synced to the CRM outbox with evidence; scope and audit."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from planning import approvals
from planning.access.policy import AccessDeniedError
from planning.access.roles import Role
from planning.access.users import User
from planning.audit import verify_chain
from planning.cpq.pricing import PriceEntry
from planning.cpq.quotes import (
    CARRIED,
    Quote,
    QuoteError,
    QuoteLine,
    compare_quotes,
    quote_versions,
    read_quote,
    reprice_quote,
    save_quote,
    store_price_books,
    submit_quote,
    sync_approved_quote,
)
from planning.errors import RevPlanError
from planning.store import Workspace, audit_log
from planning.store import cpq_quotes as quotes_repo
from planning.versions import lineage
from planning.writeback import outbox, preview
from tests.planning.cpq.test_pricing import DAY, small_book, small_catalog
from tests.views.test_pages import demo_user


def rep_account(workspace: Workspace, rep: User, *, mine: bool = True) -> str:
    """An account the rep owns (or, with mine=False, one they do not)."""
    return workspace.read(lambda cur: cur.execute(
        "SELECT account_id FROM accounts WHERE (owner_id = ?) = ? ORDER BY account_id LIMIT 1",
        [rep.rep_id, mine]).fetchone()[0])


def rep_quote(workspace: Workspace, rep: User, *lines: QuoteLine, quote_id: str = "Q-100"
              ) -> Quote:
    return Quote(quote_id=quote_id, account_id=rep_account(workspace, rep), seller=rep.email,
                 seller_role="rep", segment="Mid-Market", region="us", currency="USD",
                 lines=lines, name="Acme platform renewal")


def audit_trail(workspace: Workspace) -> pd.DataFrame:
    """Every audit event, newest first."""
    return workspace.read(audit_log.filtered_events)


def steps_of(workspace: Workspace, request_id: str) -> dict[str, tuple[int, str]]:
    """role → (step number, status) of a request."""
    steps = workspace.read(lambda cur: quotes_repo.request_steps(cur, request_id))
    return {row.role: (int(row.step_no), row.status) for row in steps.itertuples()}


def approve(workspace: Workspace, request_id: str, role: Role) -> str:
    step_no, _ = steps_of(workspace, request_id)[role.value]
    return approvals.decide(workspace, request_id, step_no, demo_user(workspace, role),
                            "approved")


@pytest.mark.parametrize(("discount", "roles"), [
    (10, []),
    (20, ["deal_desk"]),
    (35, ["deal_desk", "finance"]),
    (50, ["deal_desk", "finance", "sales_leader"]),
])
def test_discount_above_authority_routes_to_the_right_approvers(
        demo_copy: Workspace, discount: float, roles: list[str]) -> None:
    rep = demo_user(demo_copy, Role.REP)
    quote = rep_quote(demo_copy, rep, QuoteLine("analytics", 1, discount))
    version_id = save_quote(demo_copy, rep, quote, small_catalog(), small_book(), DAY)
    submission = submit_quote(demo_copy, rep, version_id)
    assert [ask.role for ask in submission.asked] == roles
    assert submission.carried == ()
    if not roles:
        assert submission.request_id is None and submission.status == "approved"
        assert read_quote(demo_copy, rep, version_id).status == "approved"
        return
    assert submission.status == "submitted"
    assert sorted(steps_of(demo_copy, submission.request_id)) == sorted(roles)
    assert all(status == "pending" for _, status in
               steps_of(demo_copy, submission.request_id).values())
    assert "seller discount above" in submission.asked[0].reasons[0]
    assert "Analytics module: " in submission.asked[0].reasons[0]
    waiting = approvals.waiting_for(demo_copy, demo_user(demo_copy, Role.DEAL_DESK))
    assert version_id in set(waiting["version_id"])


def test_a_requote_changing_one_line_re_asks_only_that_lines_approvals(
        demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    first = rep_quote(demo_copy, rep, QuoteLine("seat", 40, 20), QuoteLine("analytics", 1, 35))
    v1 = save_quote(demo_copy, rep, first, small_catalog(), small_book(), DAY)
    asked = submit_quote(demo_copy, rep, v1)
    assert [a.role for a in asked.asked] == ["deal_desk", "finance"]
    assert approve(demo_copy, asked.request_id, Role.DEAL_DESK) == "pending"
    assert approve(demo_copy, asked.request_id, Role.FINANCE) == "approved"

    second = replace(first, lines=(QuoteLine("seat", 60, 22), QuoteLine("analytics", 1, 35)))
    v2 = save_quote(demo_copy, rep, second, small_catalog(), small_book(), DAY)
    assert read_quote(demo_copy, rep, v2).parent_id == v1
    again = submit_quote(demo_copy, rep, v2)
    assert [a.role for a in again.asked] == ["deal_desk"]
    assert [a.role for a in again.carried] == ["finance"]
    assert again.carried[0].carried_from.startswith(asked.request_id)
    steps = steps_of(demo_copy, again.request_id)
    assert steps["deal_desk"][1] == "pending" and steps["finance"][1] == CARRIED
    assert "Submitted" in again.message and "carried over: finance" in again.message
    assert approve(demo_copy, again.request_id, Role.DEAL_DESK) == "approved"
    assert read_quote(demo_copy, rep, v2).status == "approved"


def test_a_requote_changing_only_a_line_within_authority_carries_every_approval(
        demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    first = rep_quote(demo_copy, rep, QuoteLine("seat", 40, 5), QuoteLine("analytics", 1, 35))
    v1 = save_quote(demo_copy, rep, first, small_catalog(), small_book(), DAY)
    request = submit_quote(demo_copy, rep, v1).request_id
    approve(demo_copy, request, Role.DEAL_DESK)
    approve(demo_copy, request, Role.FINANCE)
    second = replace(first, lines=(QuoteLine("seat", 45, 5), QuoteLine("analytics", 1, 35)))
    v2 = save_quote(demo_copy, rep, second, small_catalog(), small_book(), DAY)
    carried = submit_quote(demo_copy, rep, v2)
    assert carried.asked == () and {a.role for a in carried.carried} == {"deal_desk", "finance"}
    assert carried.status == "approved"
    assert read_quote(demo_copy, rep, v2).status == "approved"


def test_a_quote_keeps_its_catalog_and_price_book_versions(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    quote = rep_quote(demo_copy, rep, QuoteLine("seat", 300, 12.5), QuoteLine("analytics", 1))
    v1 = save_quote(demo_copy, rep, quote, small_catalog(), small_book(), DAY)
    before = reprice_quote(demo_copy, rep, v1)

    dearer = small_book(2, entries=(PriceEntry("seat", 52_000), PriceEntry("analytics",
                                                                             990_000)))
    store_price_books(demo_copy, demo_user(demo_copy, Role.DEAL_DESK), [dearer])
    changed_catalog = replace(small_catalog("test-2"), rules=())
    other = replace(quote, quote_id="Q-200", lines=(QuoteLine("seat", 300, 12.5),))
    save_quote(demo_copy, rep, other, changed_catalog, dearer, DAY)

    saved = read_quote(demo_copy, rep, v1)
    assert (saved.catalog_version, saved.price_book_id, saved.price_book_version) == (
        "test-1", "us_list", 1)
    after = reprice_quote(demo_copy, rep, v1)
    assert after.steps == before.steps and after.lines == before.lines
    assert after.net_cents == saved.net_cents == before.net_cents
    assert [i.code for i in after.errors] == ["stale_price_book"]
    with pytest.raises(QuoteError, match="replaced by version 2"):
        submit_quote(demo_copy, rep, v1)


def test_a_changed_price_book_under_a_kept_version_is_refused(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    quote = rep_quote(demo_copy, rep, QuoteLine("analytics", 1))
    save_quote(demo_copy, rep, quote, small_catalog(), small_book(), DAY)
    tampered = small_book(entries=(PriceEntry("analytics", 1),))
    with pytest.raises(QuoteError, match="new version"):
        save_quote(demo_copy, rep, quote, small_catalog(), tampered, DAY)


def test_versions_have_lineage_and_compare(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    first = rep_quote(demo_copy, rep, QuoteLine("seat", 40, 5), QuoteLine("analytics", 1),
                      QuoteLine("edition", 1))
    v1 = save_quote(demo_copy, rep, first, small_catalog(), small_book(), DAY)
    second = replace(first, lines=(QuoteLine("seat", 120, 5), QuoteLine("analytics", 1),
                                   QuoteLine("forecasting", 1)))
    v2 = save_quote(demo_copy, rep, second, small_catalog(), small_book(), DAY)
    assert lineage(demo_copy, v2) == [v2, v1]
    versions = quote_versions(demo_copy, rep, "Q-100")
    assert list(versions["version_id"]) == [v2, v1]
    assert list(versions["version_no"]) == [2, 1]

    comparison = compare_quotes(demo_copy, rep, v1, v2)
    assert comparison.added == ("forecasting",)
    assert comparison.removed == ("edition",)
    assert [c.option_id for c in comparison.changed] == ["seat"]
    assert (comparison.changed[0].qty_before, comparison.changed[0].qty_after) == (40, 120)
    assert comparison.unchanged == ("analytics",)
    a, b = read_quote(demo_copy, rep, v1), read_quote(demo_copy, rep, v2)
    assert comparison.net_delta_cents == b.net_cents - a.net_cents != 0
    assert not comparison.price_versions_changed


def test_submitting_a_quote_with_errors_is_refused(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    quote = rep_quote(demo_copy, rep, QuoteLine("forecasting", 1, 20))
    version_id = save_quote(demo_copy, rep, quote, small_catalog(), small_book(), DAY)
    with pytest.raises(QuoteError, match="cannot be submitted") as caught:
        submit_quote(demo_copy, rep, version_id)
    assert "\n" not in str(caught.value)
    assert read_quote(demo_copy, rep, version_id).status == "draft"


def test_sync_creates_outbox_items_with_rule_matches_and_approvals_as_evidence(
        demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    quote = rep_quote(demo_copy, rep, QuoteLine("seat", 300, 20), QuoteLine("analytics", 1))
    version_id = save_quote(demo_copy, rep, quote, small_catalog(), small_book(), DAY)
    with pytest.raises(QuoteError, match="only an approved quote"):
        sync_approved_quote(demo_copy, rep, version_id)
    request_id = submit_quote(demo_copy, rep, version_id).request_id
    approve(demo_copy, request_id, Role.DEAL_DESK)
    with pytest.raises(AccessDeniedError):
        sync_approved_quote(demo_copy, demo_user(demo_copy, Role.FINANCE), version_id)

    synced = sync_approved_quote(demo_copy, rep, version_id)
    assert synced.batch_id is not None and synced.items == 11 + 2 * 4
    assert synced.evidence["approval_request_ids"] == [request_id]
    assert any("seats_250" in match for match in synced.evidence["rule_matches"])
    items = outbox(demo_copy, synced.batch_id)
    assert set(items["object"]) == {"Quote", "QuoteLineItem"}
    fields = dict(zip(items["field"], items["new_value"], strict=False))
    approval = json.loads(fields["Approval_Evidence__c"])
    assert approval["requests"] == [request_id]
    assert [step["role"] for step in approval["steps"]] == ["deal_desk"]
    assert any("Volume tier" in m for m in json.loads(fields["Rule_Evidence__c"]))
    saved = read_quote(demo_copy, rep, version_id)
    assert fields["Net_Amount__c"] == f"{saved.net_cents / 100:.2f}"
    assert saved.status == "published"

    again = sync_approved_quote(demo_copy, rep, version_id)
    assert again.batch_id is None and again.items == 0
    assert len(outbox(demo_copy)) == len(items)


def test_scope_permissions_and_audit(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    elsewhere = replace(rep_quote(demo_copy, rep, QuoteLine("analytics", 1)),
                        account_id=rep_account(demo_copy, rep, mine=False))
    with pytest.raises(AccessDeniedError, match="outside your team"):
        save_quote(demo_copy, rep, elsewhere, small_catalog(), small_book(), DAY)
    with pytest.raises(AccessDeniedError, match="quote.create"):
        save_quote(demo_copy, demo_user(demo_copy, Role.FINANCE),
                   rep_quote(demo_copy, rep, QuoteLine("analytics", 1)), small_catalog(),
                   small_book(), DAY)
    with pytest.raises(QuoteError, match="role"):
        save_quote(demo_copy, rep, replace(rep_quote(demo_copy, rep, QuoteLine("analytics", 1)),
                                           seller_role="manager"),
                   small_catalog(), small_book(), DAY)

    before = len(audit_trail(demo_copy))
    version_id = save_quote(demo_copy, rep, rep_quote(demo_copy, rep, QuoteLine("analytics", 1,
                                                                                  20)),
                            small_catalog(), small_book(), date(2026, 11, 16))
    request_id = submit_quote(demo_copy, rep, version_id).request_id
    events = audit_trail(demo_copy)
    actions = list(events["action"])[: len(events) - before]
    assert {"cpq.catalog.keep", "cpq.price_book.store", "version.create", "quote.save",
            "version.status", "approval.submit"} <= set(actions)
    assert request_id in set(events["entity_id"])
    assert verify_chain(demo_copy).ok


def test_the_approver_card_of_a_quote_compares_with_its_previous_version(
        demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    first = rep_quote(demo_copy, rep, QuoteLine("seat", 40, 20), QuoteLine("analytics", 1))
    v1 = save_quote(demo_copy, rep, first, small_catalog(), small_book(), DAY)
    request = submit_quote(demo_copy, rep, v1).request_id
    card = approvals.approver_summary(demo_copy, request, 1)
    assert card.kind == "quote" and card.compare_query is None
    assert card.baseline_text.startswith("First version of this quote")
    assert [f.label for f in card.totals] == ["Net", "List price", "Off list", "Lines"]
    assert list(approvals.biggest_changes_table(card).columns) == [
        "Line", "Before", "After", "Net change", "Option id"]
    approve(demo_copy, request, Role.DEAL_DESK)

    second = replace(first, lines=(QuoteLine("seat", 60, 25), QuoteLine("analytics", 1)))
    v2 = save_quote(demo_copy, rep, second, small_catalog(), small_book(), DAY)
    request = submit_quote(demo_copy, rep, v2).request_id
    card = approvals.approver_summary(demo_copy, request, 1)
    assert card.baseline_text == "Compared with the previous version Q-100 v1"
    net = card.totals[0]
    assert net.baseline is not None and net.change is not None and net.change.startswith("+")
    table = approvals.biggest_changes_table(card)
    assert list(table["Line"]) == ["User seat"]
    assert table["Before"].iloc[0].startswith("40 at 20% off → $")
    assert table["After"].iloc[0].startswith("60 at 25% off → $")


def test_a_quote_is_not_submitted_or_published_as_a_plan(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    version_id = save_quote(demo_copy, rep, rep_quote(demo_copy, rep, QuoteLine("analytics", 1)),
                            small_catalog(), small_book(), DAY)
    with pytest.raises(RevPlanError, match="submit it from the Quote page"):
        approvals.submit_version(demo_copy, version_id, demo_user(demo_copy, Role.REVOPS))
    assert submit_quote(demo_copy, rep, version_id).status == "approved"
    with pytest.raises(RevPlanError, match="sync_approved_quote"):
        preview(demo_copy, version_id)


def test_deal_desk_may_quote_for_a_seller_in_the_sellers_own_role(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    desk = demo_user(demo_copy, Role.DEAL_DESK)
    quote = rep_quote(demo_copy, rep, QuoteLine("analytics", 1, 12))
    version_id = save_quote(demo_copy, desk, quote, small_catalog(), small_book(), DAY)
    saved = read_quote(demo_copy, rep, version_id)
    assert (saved.quote.seller, saved.created_by) == (rep.email, desk.email)
    with pytest.raises(QuoteError, match="does not hold the manager role"):
        save_quote(demo_copy, desk, replace(quote, seller_role="manager", quote_id="Q-300"),
                   small_catalog(), small_book(), DAY)
    with pytest.raises(QuoteError, match="saves their own"):
        save_quote(demo_copy, demo_user(demo_copy, Role.MANAGER),
                   replace(quote, quote_id="Q-301"), small_catalog(), small_book(), DAY)
