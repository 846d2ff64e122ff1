"""Quotes: a short questionnaire proposes the recommended configuration, the seller adjusts
picks, quantities and discounts with live validation, sees the price waterfall and the quote in
words, saves it as a quote version, compares it with the previous one, submits it for discount
approval and syncs it to the CRM once approved."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning import approvals
from planning.access.policy import Action
from planning.access.users import User
from planning.cpq.catalog import Catalog, Configuration, Requirements
from planning.cpq.catalog_versions import current_catalog
from planning.cpq.diagnose import Diagnosis, apply_changes, diagnose
from planning.cpq.pricing import BAND_WORDS, STEP_LABELS, PriceBook, PricedLine, percent_text
from planning.cpq.quotes import (
    ON_BEHALF_ROLES,
    SUBMITTABLE,
    Quote,
    QuoteLine,
    compare_quotes,
    quote_versions,
    save_quote,
    stored_price_books,
    submit_quote,
    sync_approved_quote,
)
from planning.cpq.recommend import recommend
from planning.cpq.selling import (
    DraftPrice,
    currency_for,
    money,
    price_draft,
    questionnaire_choices,
    quotable_accounts,
    quote_summary,
    seller_role,
)
from planning.cpq.validate import flag_incompatible, incompatible_with, validate
from planning.store import Workspace
from views.common import (
    allowed,
    current_workspace,
    page_as_of,
    require_page,
    roles_text,
    set_notice,
    show_failure,
    show_notice,
)

PAGE = "quote"
# Widget values staged by an action, set before the widgets are drawn on the next run.
PENDING_KEY = "quote_pending"
PICKS_KEY = "quote_picks"
ACCOUNT_KEY = "quote_account"
PRICING_DAY_KEY = "quote_pricing_day"
PROPOSAL_KEY = "quote_proposal"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
BLUE, GREEN, RED, GREY = "#1f4e79", "#2e7d6b", "#c0504d", "#9aa5b1"
STATUS_WORDS = {"draft": "Draft", "submitted": "Waiting for approval",
                "changes_requested": "Changes requested", "approved": "Approved",
                "rejected": "Rejected", "published": "Synced to the CRM",
                "withdrawn": "Withdrawn"}
WHOLE_QUOTE = "__quote__"


def pricing_day() -> dt.date:
    """The day quotes are validated and priced on: the workspace's as-of day (the sidebar's
    "Plan as of", else the newest record, never later than today)."""
    return st.session_state[PRICING_DAY_KEY]


def qty_key(option_id: str) -> str:
    return f"quote_qty_{option_id}"


def discount_key(option_id: str) -> str:
    return f"quote_discount_{option_id}"


def stage_picks(picks: dict[str, int], discounts: dict[str, float] | None = None) -> None:
    """Stage picks, quantities and discounts for the widgets of the next run."""
    staged = {PICKS_KEY: list(picks)}
    for option_id, qty in picks.items():
        staged[qty_key(option_id)] = int(qty)
        staged[discount_key(option_id)] = float((discounts or {}).get(
            option_id, st.session_state.get(discount_key(option_id), 0.0)))
    st.session_state[PENDING_KEY] = staged


def apply_pending() -> None:
    """Set the widget values an action staged, before any widget is drawn."""
    for key, value in st.session_state.pop(PENDING_KEY, {}).items():
        st.session_state[key] = value


def label(value: str) -> str:
    """A catalog code as words: "private_cloud" → "Private cloud", "us" → "US"."""
    return value.upper() if len(value) <= 4 else value.replace("_", " ").capitalize()


def show_waiting_for_me(workspace: Workspace, user: User) -> None:
    """Quotes whose approval waits for this user, with a way to the Approvals page."""
    try:
        waiting = approvals.waiting_for(workspace, user)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "read the quotes waiting for you")
        return
    waiting = waiting[waiting["kind"] == "quote"]
    if waiting.empty:
        return
    st.subheader(f"Quotes waiting for your approval ({len(waiting):,})")
    st.dataframe(pd.DataFrame({
        "Quote": waiting["name"], "Your step": [approvals.role_label(r) for r in waiting["role"]],
        "Why": waiting["reason"].fillna(""), "Submitted by": waiting["submitted_by"],
        "Submitted": pd.to_datetime(waiting["submitted_at"]).dt.strftime("%d %b %Y %H:%M"),
    }), hide_index=True, width="stretch")
    st.caption("Open each request on the Approvals page (group Approvals) to approve it or "
               "ask for changes.")


def questionnaire(catalog: Catalog, books: list[PriceBook]) -> None:
    """The guided-selling questions; submitting proposes the recommended configuration."""
    choices = questionnaire_choices(catalog, books)
    st.subheader("1. Guided selling")
    with st.form("quote_questionnaire"):
        left, right = st.columns(2)
        users = left.number_input("Users to seat", min_value=0, max_value=100_000, value=25,
                                  step=5, key="quote_users")
        modules = right.multiselect("Modules wanted", choices.modules, format_func=label,
                                    key="quote_modules")
        deployment = left.selectbox("Deployment", choices.deployments, format_func=label,
                                    key="quote_deployment")
        region = right.selectbox("Region", choices.regions, format_func=label,
                                 key="quote_region")
        asked = st.form_submit_button("Propose a configuration", type="primary",
                                      icon=":material/auto_awesome:")
    if not asked:
        return
    requirements = Requirements(users=int(users), modules=tuple(modules),
                                deployment=deployment, region=region)
    try:
        with st.spinner("Finding the cheapest valid configuration that fits the answers…"):
            found = recommend(catalog, requirements, "fit", pricing_day())
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "recommend a configuration")
        return
    if not found.has_configuration:
        st.error(f"No valid configuration fits these answers: {found.message or found.status}.")
        return
    picks = found.configuration.picked()
    stage_picks(picks, {o: 0.0 for o in picks})
    unmet = f" Not met: {', '.join(found.unmet)}." if found.unmet else ""
    st.session_state[PROPOSAL_KEY] = (
        f"Recommended configuration: {len(picks)} options meeting "
        f"{'every answer' if not found.unmet else 'as many answers as any valid one can'}, "
        f"costing {money(found.cost_cents or 0, 'USD')} to deliver.{unmet}")
    st.rerun()


def configuration_of(catalog: Catalog, deployment: str | None, region: str) -> Configuration:
    """The configuration the configurator's widgets hold."""
    picks = {o: int(st.session_state.get(qty_key(o), catalog.option(o).min_qty))
             for o in st.session_state.get(PICKS_KEY, []) if catalog.has_option(o)}
    attributes = {"region": region, **({"deployment": deployment} if deployment else {})}
    return Configuration(picks, attributes)


def configurator(catalog: Catalog) -> None:
    """Pick options, quantities and seller discounts; every pick that conflicts is flagged."""
    st.subheader("2. Configure")
    proposal = st.session_state.get(PROPOSAL_KEY)
    if proposal:
        st.info(proposal, icon=":material/auto_awesome:")
    names = {o.option_id: f"{o.name} ({label(o.group)})" for o in catalog.options}
    st.multiselect("Options", list(names), format_func=names.get, key=PICKS_KEY,
                   placeholder="Answer the questions above, or pick options here")
    picked = [o for o in st.session_state.get(PICKS_KEY, []) if catalog.has_option(o)]
    if not picked:
        return
    config = configuration_of(catalog, st.session_state.get("quote_deployment"),
                              st.session_state.get("quote_region") or "")
    head = st.columns([4, 2, 2, 5])
    for column, text in zip(head, ("**Option**", "**Quantity**", "**Seller discount %**",
                                   "**Flags**"), strict=True):
        column.markdown(text)
    for option_id in picked:
        option = catalog.option(option_id)
        name_col, qty_col, discount_col, flag_col = st.columns([4, 2, 2, 5])
        name_col.write(option.name)
        if option.max_qty > 1:
            st.session_state.setdefault(qty_key(option_id), option.min_qty)
            qty_col.number_input(f"Quantity of {option.name}", min_value=1,
                                 max_value=max(option.max_qty, 1) * 10, step=1,
                                 key=qty_key(option_id), label_visibility="collapsed",
                                 help=f"{option.min_qty:,} to {option.max_qty:,} "
                                      f"{option.unit}s")
        else:
            st.session_state[qty_key(option_id)] = 1
            qty_col.write("1")
        st.session_state.setdefault(discount_key(option_id), 0.0)
        discount_col.number_input(f"Seller discount on {option.name} (%)", min_value=0.0,
                                  max_value=100.0, step=1.0, format="%.1f",
                                  key=discount_key(option_id), label_visibility="collapsed")
        conflicts = incompatible_with(catalog, config, option_id, pricing_day())
        if conflicts:
            flag_col.markdown(":red[:material/warning: " + " ".join(
                v.message for v in conflicts) + "]")


def show_validation(catalog: Catalog, config: Configuration) -> bool:
    """Every broken rule in words with its fix, alerts, and the smallest change offered as
    one click. True when the configuration is valid."""
    result = validate(catalog, config, pricing_day())
    for alert in result.alerts:
        st.warning(f"{alert.message} {alert.fix}", icon=":material/info:")
    if result.valid:
        st.success("The configuration is valid: every catalog rule holds.",
                   icon=":material/check_circle:")
        return True
    count = len(result.violations)
    st.error(f"**{count} rule{'s' * (count != 1)} broken.**\n\n" + "\n".join(
        f"- {v.message} **Fix:** {v.fix}" for v in result.violations))
    with st.spinner("Finding the smallest change that makes it valid…"):
        found: Diagnosis = diagnose(catalog, config, pricing_day())
    if found.found and found.changes:
        n = len(found.changes)
        steps = "; ".join(c.describe(catalog) for c in found.changes)
        these = "this" if n == 1 else "these"
        st.info(f"Change {these} {n} pick{'s' * (n != 1)} to make it valid: {steps}.",
                icon=":material/build:")
        if st.button(f"Apply {these} {n} change{'s' * (n != 1)}", icon=":material/build:"):
            fixed = apply_changes(config, found.changes)
            stage_picks(fixed.picked())
            st.rerun()
    elif found.message:
        st.info(found.message)
    return False


def show_possible_conflicts(catalog: Catalog, config: Configuration) -> None:
    """Options not picked that would conflict with the picks, and why."""
    flags = flag_incompatible(catalog, config, pricing_day())
    if not flags:
        return
    with st.expander(f"{len(flags):,} options would conflict with these picks"):
        st.dataframe(pd.DataFrame({
            "Option": [catalog.option_name(o) for o in flags],
            "Why": [" ".join(v.message for v in found) for found in flags.values()]}),
            hide_index=True, width="stretch")


def waterfall_chart(steps, currency: str, title: str) -> go.Figure:
    """List → tier → segment → promotion → seller discount → net, each bar labelled in money
    with the rule behind it on hover."""
    measures = ["absolute", *(["relative"] * (len(steps) - 2)), "total"]
    values = [steps[0].amount_cents / 100, *(s.change_cents / 100 for s in steps[1:-1]),
              steps[-1].amount_cents / 100]
    text = [money(steps[0].amount_cents, currency),
            *(money(s.change_cents, currency) for s in steps[1:-1]),
            money(steps[-1].amount_cents, currency)]
    rules = [s.rule or ("no rule applied" if s.step not in ("list", "net") else "")
             for s in steps]
    figure = go.Figure(go.Waterfall(
        name=f"Price ({currency})", x=[STEP_LABELS[s.step] for s in steps], y=values,
        measure=measures, text=text, textposition="outside", customdata=rules,
        hovertemplate="%{x}: %{text}<br>%{customdata}<extra></extra>",
        connector={"line": {"color": GREY}}, decreasing={"marker": {"color": RED}},
        increasing={"marker": {"color": GREEN}}, totals={"marker": {"color": BLUE}}))
    figure.update_layout(title=title, showlegend=True, height=380,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.15},
                         yaxis_title=f"Amount ({currency})", xaxis_title="Waterfall step")
    figure.update_yaxes(tickprefix="€" if currency == "EUR" else "$" if currency == "USD"
                        else "", rangemode="tozero")
    return figure


def line_table(lines: tuple[PricedLine, ...], currency: str) -> pd.DataFrame:
    """Each line's waterfall in money, with its approval band in words."""
    rows = []
    for line in lines:
        by_step = {s.step: s for s in line.steps}
        rows.append({
            "Line": line.name, "Quantity": f"{line.qty:,}",
            "Unit list": money(line.unit_price_cents, currency),
            **{STEP_LABELS[step]: money(by_step[step].change_cents, currency)
               for step in ("tier", "segment", "promotion") if step in by_step},
            "Seller discount": (f"{percent_text(line.discount_bps)} "
                                f"({money(by_step['seller_discount'].change_cents, currency)})"),
            "List": money(line.list_cents, currency), "Net": money(line.net_cents, currency),
            "Approval": BAND_WORDS[line.discount_band]})
    return pd.DataFrame(rows)


def show_price(draft: DraftPrice, account_name: str) -> None:
    """The quote's waterfall (or one line's), the lines, the issues and the summary."""
    priced = draft.priced
    currency = priced.quote.currency
    st.subheader("3. Price")
    options = [WHOLE_QUOTE, *(line.option_id for line in priced.lines)]
    names = {WHOLE_QUOTE: "Whole quote", **{line.option_id: line.name for line in priced.lines}}
    shown = st.selectbox("Waterfall of", options, format_func=names.get,
                         key="quote_waterfall_of")
    steps = priced.steps if shown == WHOLE_QUOTE else priced.line(shown).steps
    st.plotly_chart(waterfall_chart(steps, currency, f"Price waterfall: {names[shown]}"),
                    config=CHART_CONFIG, width="stretch")
    st.dataframe(line_table(priced.lines, currency), hide_index=True, width="stretch")
    for issue in priced.issues:
        text = f"{issue.message} {issue.fix}"
        if issue.severity == "error":
            st.error(text, icon=":material/error:")
        elif issue.severity == "approval":
            st.warning(text, icon=":material/approval:")
    st.markdown("**Quote summary**")
    st.write(quote_summary(priced, account_name))


def quote_seller(user: User, account: pd.Series) -> tuple[str, str, str | None]:
    """(seller email, selling role, why saving is not possible or None) of the account's
    quote: a seller quotes in their own name; deal desk and RevOps for the account's owner,
    in the selling role the owner holds."""
    own = seller_role(user.roles)
    if own is not None:
        return user.email, own, None
    if user.has_any(ON_BEHALF_ROLES) and account["owner_email"] and account[
            "owner_seller_role"]:
        return str(account["owner_email"]), str(account["owner_seller_role"]), None
    return user.email, "rep", ("Only a seller, or deal desk and RevOps for the account's "
                               "owner, saves quotes; this price is what a rep would see.")


def show_save(workspace: Workspace, user: User, catalog: Catalog, draft: DraftPrice,
              quote: Quote, refusal: str | None, owner_name: str) -> None:
    """Save the draft as the next version of its quote."""
    st.subheader("4. Save, compare, submit")
    if refusal:
        st.caption(refusal)
        return
    if quote.seller != user.email:
        st.caption(f"Saved for {owner_name or quote.seller}, the account's owner, at a "
                   f"{approvals.role_label(quote.seller_role)}'s authority.")
    if st.button("Save as a quote version", type="primary", icon=":material/save:"):
        try:
            with st.spinner("Pricing and saving the quote version…"):
                version_id = save_quote(workspace, user, quote, catalog, draft.price_book,
                                        pricing_day())
            saved = quote_versions(workspace, user, quote.quote_id)
            row = saved[saved["version_id"] == version_id].iloc[0]
            parent = "" if pd.isna(row["parent_id"]) else " (revises the previous version)"
            set_notice(PAGE, "success", f"Saved {row['name']}{parent}: net "
                                  f"{money(int(row['net_cents']), quote.currency)}.")
        except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
            show_failure(exc, "save the quote")
            return
        st.rerun()


def waiting_words(workspace: Workspace, version_ids: list[str]) -> dict[str, str]:
    """version_id → whom its newest request waits for (or its steps when none is open)."""
    found = approvals.requests(workspace)
    found = found[found["version_id"].isin(version_ids)]
    words: dict[str, str] = {}
    for row in found.itertuples():
        words.setdefault(row.version_id, row.waiting_for or row.steps)
    return words


def show_versions(workspace: Workspace, user: User, quote_id: str) -> None:
    """The quote's versions with lineage and status, the newest compared with the one it
    revises, and submit or sync for the newest."""
    versions = quote_versions(workspace, user, quote_id)
    if versions.empty:
        st.caption(f"No saved version of {quote_id} yet.")
        return
    currency = str(versions["currency"].iloc[0])
    names = dict(zip(versions["version_id"], versions["name"], strict=True))
    waits = waiting_words(workspace, versions["version_id"].tolist())
    st.dataframe(pd.DataFrame({
        "Version": versions["name"],
        "Revises": [names.get(p, "—") if isinstance(p, str) else "—"
                    for p in versions["parent_id"]],
        "Status": [STATUS_WORDS.get(s, s) for s in versions["status"]],
        "Waiting for": [waits.get(v, "") if s == "submitted" else ""
                        for v, s in zip(versions["version_id"], versions["status"],
                                        strict=True)],
        "List": [money(int(c), currency) for c in versions["list_cents"]],
        "Net": [money(int(c), currency) for c in versions["net_cents"]],
        "Price book": [f"{b} v{v}" for b, v in zip(versions["price_book_id"],
                                                    versions["price_book_version"],
                                                    strict=True)],
        "Saved": pd.to_datetime(versions["created_at"]).dt.strftime("%d %b %Y %H:%M"),
    }), hide_index=True, width="stretch")
    newest = versions.iloc[0]
    if isinstance(newest["parent_id"], str):
        show_comparison(workspace, user, newest["parent_id"], newest["version_id"], names,
                        currency)
    if newest["status"] in SUBMITTABLE and allowed(user, Action.CREATE_QUOTE):
        submit_button(workspace, user, newest["version_id"], newest["name"])
    elif newest["status"] == "submitted":
        st.info(f"{newest['name']} is waiting for approval: "
                f"{waits.get(newest['version_id'])}.", icon=":material/hourglass_top:")
    elif newest["status"] == "approved" and allowed(user, Action.SYNC_QUOTE):
        sync_button(workspace, user, newest["version_id"], newest["name"])


def submit_button(workspace: Workspace, user: User, version_id: str, name: str) -> None:
    """Submit a saved version for discount approval; the notice says whom it waits for."""
    if not st.button(f"Submit {name} for discount approval", icon=":material/send:"):
        return
    try:
        with st.spinner("Routing the discounts by the approval policy…"):
            done = submit_quote(workspace, user, version_id)
        text = done.message
        if done.request_id is not None and done.status == "submitted":
            text = approvals.submitted_message(workspace, done.request_id)
        set_notice(PAGE, "success", text)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "submit the quote")
        return
    st.rerun()


def sync_button(workspace: Workspace, user: User, version_id: str, name: str) -> None:
    """Queue an approved version for the CRM with its evidence."""
    if not st.button(f"Sync {name} to the CRM", icon=":material/sync:"):
        return
    try:
        with st.spinner("Queueing the quote for the CRM…"):
            synced = sync_approved_quote(workspace, user, version_id)
        set_notice(PAGE, "success", f"Queued {synced.items:,} CRM changes"
                   + (f" in {synced.batch_id}" if synced.batch_id else "")
                   + " with the rule matches and approvals as evidence.")
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "sync the quote")
        return
    st.rerun()


def show_comparison(workspace: Workspace, user: User, a_id: str, b_id: str,
                    names: dict[str, str], currency: str) -> None:
    """What changed from the previous version to the newest."""
    found = compare_quotes(workspace, user, a_id, b_id)
    catalog = current_catalog(workspace, user)

    def name(option_id: str) -> str:
        return catalog.option_name(option_id) if catalog else option_id

    delta = found.net_delta_cents
    sign = "+" if delta >= 0 else "-"
    parts = [f"{names[b_id]} against {names[a_id]}: net {sign}{money(abs(delta), currency)}"]
    if found.added:
        parts.append("added " + ", ".join(name(o) for o in found.added))
    if found.removed:
        parts.append("removed " + ", ".join(name(o) for o in found.removed))
    for change in found.changed:
        parts.append(f"{name(change.option_id)}: quantity {change.qty_before:,} → "
                     f"{change.qty_after:,}, discount {percent_text(change.discount_bps_before)}"
                     f" → {percent_text(change.discount_bps_after)}")
    if not (found.added or found.removed or found.changed):
        parts.append("no line changed")
    if found.price_versions_changed:
        parts.append("priced with another catalog or price book version")
    st.markdown("**Compared with the previous version.** " + "; ".join(parts) + ".")


def main() -> None:
    """Draw the Quote page for the signed-in user."""
    user = require_page(PAGE)
    workspace = current_workspace()
    st.title("Quotes")
    st.session_state[PRICING_DAY_KEY] = page_as_of(workspace).day
    apply_pending()
    show_notice(PAGE)
    show_waiting_for_me(workspace, user)
    try:
        with st.spinner("Reading the catalog and price books…"):
            catalog = current_catalog(workspace, user)
            books = stored_price_books(workspace, user)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "read the catalog")
        return
    if catalog is None or not books:
        missing = "product catalog" if catalog is None else "price book"
        loader = Action.MANAGE_CATALOG if catalog is None else Action.MANAGE_PRICE_BOOKS
        st.info(f"No {missing} in this workspace yet. Someone with one of these roles loads "
                f"it: {roles_text(loader)}.")
        return
    if not allowed(user, Action.CREATE_QUOTE):
        st.caption("You read quotes; sellers, deal desk and RevOps configure them.")
        return
    accounts = quotable_accounts(workspace, user)
    if accounts.empty:
        st.info("No account in your scope to quote.")
        return
    labels = {row.account_id: f"{row.name} · {row.segment or 'no segment'}"
                              + (f" · {row.owner_name}" if row.owner_name else "")
              for row in accounts.itertuples()}
    account_id = st.selectbox("Account", list(labels), format_func=labels.get,
                              key=ACCOUNT_KEY)
    account = accounts.set_index("account_id").loc[account_id]
    questionnaire(catalog, books)
    configurator(catalog)
    quote_id = f"Q-{account_id}"
    if any(catalog.has_option(o) for o in st.session_state.get(PICKS_KEY, [])):
        price_and_save(workspace, user, catalog, books, quote_id, account)
    else:
        st.subheader("4. Save, compare, submit")
    try:
        show_versions(workspace, user, quote_id)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "read the quote's versions")


def price_and_save(workspace: Workspace, user: User, catalog: Catalog,
                   books: list[PriceBook], quote_id: str, account: pd.Series) -> None:
    """Validate the picks, price them as a draft of the account's quote and offer to save."""
    picked = [o for o in st.session_state.get(PICKS_KEY, []) if catalog.has_option(o)]
    region = st.session_state.get("quote_region") or ""
    config = configuration_of(catalog, st.session_state.get("quote_deployment"), region)
    show_validation(catalog, config)
    show_possible_conflicts(catalog, config)
    segment = account["segment"] or "*"
    currency = currency_for(books, segment, region, pricing_day())
    if currency is None:
        st.info(f"No price book prices region {label(region)} on {pricing_day():%d %b %Y}; "
                "load one to price.")
        return
    seller, role, refusal = quote_seller(user, account)
    try:
        quote = Quote(
            quote_id=quote_id, account_id=str(account.name), seller=seller,
            seller_role=role, segment=segment, region=region,
            currency=currency,
            lines=tuple(QuoteLine(o, int(config.qty(o)) or 1,
                                  float(st.session_state.get(discount_key(o), 0.0)))
                        for o in picked),
            attributes={k: v for k, v in config.attributes.items() if k != "region"},
            name=f"{account['name']} quote")
        draft = price_draft(catalog, books, quote, pricing_day())
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "price the quote")
        return
    show_price(draft, str(account["name"]))
    show_save(workspace, user, catalog, draft, quote, refusal, str(account["owner_name"]))

main()
