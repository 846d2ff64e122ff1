"""Loads a generated demo company into a workspace: CRM-style ids and text are made in SQL.

The generator hands over integer numbers and codes; DuckDB turns them into 18-character
CRM-style ids, names and dates in bulk, which is far faster than building millions of Python
strings.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import duckdb

from planning.clock import now_utc
from planning.store.workspace_settings import mark_creation_complete

if TYPE_CHECKING:
    from planning.demo.generator import DemoCompany

CRM_ID_MACRO = (
    "CREATE OR REPLACE TEMP MACRO crm_id(prefix, n) AS "
    "prefix || lpad(CAST(n AS VARCHAR), 15, '0')"
)
DAY_MACRO = (
    "CREATE OR REPLACE TEMP MACRO day_of(origin, d) AS "
    "CAST(origin AS DATE) + CAST(floor(d) AS INTEGER)"
)
HISTORY_TEXT_MACRO = """
    CREATE OR REPLACE TEMP MACRO history_text(field_code, num, stages, forecast, steps, origin) AS
    CASE field_code
        WHEN 1 THEN list_extract(stages, CAST(num AS INTEGER) + 1)
        WHEN 2 THEN CAST(CAST(num AS BIGINT) AS VARCHAR)
        WHEN 3 THEN CAST(day_of(origin, num) AS VARCHAR)
        WHEN 4 THEN list_extract(forecast, CAST(num AS INTEGER) + 1)
        WHEN 5 THEN list_extract(steps, CAST(num AS INTEGER) + 1)
        WHEN 6 THEN CAST(day_of(origin, num) AS VARCHAR)
    END"""
"""A history value as CRM text: stage or category names, cents, ISO dates, next-step text."""

LOAD_STATEMENTS: dict[str, str] = {
    "reps": """
        INSERT INTO reps BY NAME
        SELECT crm_id('005', rep_no) AS rep_id, name, email, title, role,
               CASE WHEN manager_no > 0 THEN crm_id('005', manager_no) END AS manager_id,
               team, region, segment, hire_date, ramp_months, capacity, home_zip, home_lat,
               home_lon, TRUE AS is_active, 'demo' AS source, $loaded_at AS loaded_at
        FROM frame ORDER BY rep_no""",
    "accounts": """
        INSERT INTO accounts BY NAME
        SELECT crm_id('001', account_no) AS account_id, name, industry,
               list_extract($segments, segment_code + 1) AS segment, employees,
               annual_revenue_cents, zip, city, state, county, lat, lon,
               CASE WHEN lat IS NOT NULL AND lon IS NOT NULL THEN 'given' END
                   AS geo_precision,
               crm_id('005', owner_no) AS owner_id, created_at, 'demo' AS source,
               $loaded_at AS loaded_at
        FROM frame ORDER BY account_no""",
    "opportunities": """
        INSERT INTO opportunities BY NAME
        SELECT crm_id('006', o.opp_no) AS opportunity_id,
               crm_id('001', o.account_no) AS account_id, crm_id('005', o.owner_no) AS owner_id,
               a.name || ' - ' || list_extract($products, o.product_code + 1) AS name,
               list_extract($types, o.type_code + 1) AS type,
               list_extract($product_ids, o.product_code + 1) AS product_id,
               list_extract($stages, o.stage_code + 1) AS stage,
               list_extract(['open', 'won', 'lost'], o.status_code + 1) AS status,
               o.amount_cents, day_of($origin, o.close_day) AS close_date, o.created_at,
               o.closed_at, list_extract($forecast, o.forecast_code + 1) AS forecast_category,
               CASE WHEN o.next_step_code >= 0
                    THEN list_extract($next_steps, o.next_step_code + 1) END AS next_step,
               day_of($origin, o.next_step_day) AS next_step_date,
               day_of($origin, o.last_activity_day) AS last_activity_date,
               'demo' AS source, $loaded_at AS loaded_at
        FROM frame o JOIN accounts_frame a USING (account_no)
        ORDER BY o.opp_no""",
    "opportunity_history": """
        INSERT INTO opportunity_history BY NAME
        SELECT crm_id('017', history_no) AS history_id, crm_id('006', opp_no) AS opportunity_id,
               changed_at, list_extract($fields, field_code + 1) AS field,
               history_text(field_code, old_num, $stages, $forecast, $next_steps, $origin)
                   AS old_value,
               history_text(field_code, new_num, $stages, $forecast, $next_steps, $origin)
                   AS new_value,
               crm_id('005', actor_no) AS changed_by, 'demo' AS source, $loaded_at AS loaded_at
        FROM frame ORDER BY history_no""",
    "activities": """
        INSERT INTO activities BY NAME
        SELECT crm_id('00T', activity_no) AS activity_id,
               crm_id('006', opp_no) AS opportunity_id, crm_id('001', account_no) AS account_id,
               crm_id('005', owner_no) AS owner_id,
               list_extract($activity_kinds, kind_code + 1) AS kind, occurred_at,
               'demo' AS source, $loaded_at AS loaded_at
        FROM frame ORDER BY activity_no""",
    "subscriptions": """
        INSERT INTO subscriptions BY NAME
        SELECT crm_id('SUB', subscription_no) AS subscription_id,
               crm_id('001', account_no) AS account_id,
               list_extract($product_ids, product_code + 1) AS product_id,
               day_of($origin, start_day) AS start_date,
               day_of($origin, renewal_day) AS renewal_date, seats, arr_cents,
               list_extract(['active', 'churned'], status_code + 1) AS status,
               'demo' AS source, $loaded_at AS loaded_at
        FROM frame ORDER BY subscription_no""",
    "usage": """
        INSERT INTO usage BY NAME
        SELECT crm_id('001', account_no) AS account_id, CAST(month AS DATE) AS month,
               active_users, events, 'demo' AS source, $loaded_at AS loaded_at
        FROM frame ORDER BY account_no, month""",
    "tickets": """
        INSERT INTO tickets BY NAME
        SELECT crm_id('500', ticket_no) AS ticket_id, crm_id('001', account_no) AS account_id,
               opened_at, closed_at,
               list_extract(['low', 'normal', 'high', 'urgent'], priority_code + 1) AS priority,
               list_extract(['closed', 'open'], status_code + 1) AS status,
               'demo' AS source, $loaded_at AS loaded_at
        FROM frame ORDER BY ticket_no""",
    "invoices": """
        INSERT INTO invoices BY NAME
        SELECT crm_id('INV', invoice_no) AS invoice_id, crm_id('001', account_no) AS account_id,
               crm_id('SUB', subscription_no) AS subscription_id,
               day_of($origin, issued_day) AS issued_on, day_of($origin, due_day) AS due_on,
               day_of($origin, paid_day) AS paid_on, amount_cents,
               list_extract(['paid', 'open', 'overdue'], status_code + 1) AS status,
               'demo' AS source, $loaded_at AS loaded_at
        FROM frame ORDER BY invoice_no""",
    "geo_units": """
        INSERT INTO geo_units BY NAME
        SELECT unit_id, 'zip' AS kind, city, state, county, lat, lon, population,
               potential_cents
        FROM frame ORDER BY unit_id""",
}

STATEMENT_PARAMETERS: dict[str, tuple[str, ...]] = {
    "reps": ("loaded_at",),
    "accounts": ("segments", "loaded_at"),
    "opportunities": (
        "products", "types", "product_ids", "stages", "origin", "forecast", "next_steps",
        "loaded_at",
    ),
    "opportunity_history": ("fields", "stages", "origin", "forecast", "next_steps", "loaded_at"),
    "activities": ("activity_kinds", "loaded_at"),
    "subscriptions": ("product_ids", "origin", "loaded_at"),
    "usage": ("loaded_at",),
    "tickets": ("loaded_at",),
    "invoices": ("origin", "loaded_at"),
    "geo_units": (),
}


def _demo_quotas(cur: duckdb.DuckDBPyConnection, as_of: dt.date, loaded_at: dt.datetime) -> None:
    """Quota records of the last complete and the current (calendar) fiscal year, as a CRM
    would hold them: a rep's bookings over the year before × a fixed per-rep stretch
    (1.10-1.35); the last complete year's is based on its own bookings (the demo's history
    starts inside the year before)."""
    last, current = as_of.year - 1, as_of.year
    for year, first, final in (
        (last, dt.date(last, 1, 1), dt.date(last, 12, 31)),
        (current, as_of - dt.timedelta(days=365), as_of - dt.timedelta(days=1)),
    ):
        cur.execute(
            """INSERT INTO rep_quotas (fiscal_year, rep_id, quota_cents, source, loaded_at)
               SELECT ?, o.owner_id,
                      CAST(round(sum(o.amount_cents)
                                 * (1.10 + (abs(hash(o.owner_id)) % 1000) / 4000.0), -4)
                           AS BIGINT),
                      'demo', ?
               FROM opportunities o JOIN reps r ON r.rep_id = o.owner_id AND r.role = 'rep'
               WHERE o.status = 'won' AND o.close_date BETWEEN ? AND ?
               GROUP BY o.owner_id HAVING sum(o.amount_cents) > 0""",
            [year, loaded_at, first, final],
        )


def _catalog(cur: duckdb.DuckDBPyConnection, loaded_at: dt.datetime) -> None:
    from planning.demo.generator import PRICE_BOOK_DISCOUNT, PRODUCTS

    cur.executemany(
        "INSERT INTO products (product_id, name, family, list_price_cents, is_active, source, "
        "loaded_at) VALUES (?, ?, ?, ?, TRUE, 'demo', ?)",
        [[pid, name, family, price, loaded_at] for pid, name, family, price in PRODUCTS],
    )
    for book, discount in PRICE_BOOK_DISCOUNT.items():
        book_id = f"PB-{book.upper().replace('-', '')}"
        cur.execute(
            "INSERT INTO price_books (price_book_id, name, segment, currency, source, loaded_at) "
            "VALUES (?, ?, ?, 'USD', 'demo', ?)",
            [book_id, f"{book} price book", None if book == "List" else book, loaded_at],
        )
        cur.executemany(
            "INSERT INTO price_book_entries VALUES (?, ?, ?)",
            [[book_id, pid, round(price * (1 - discount))] for pid, _, _, price in PRODUCTS],
        )


def load_demo_tables(
    cur: duckdb.DuckDBPyConnection, company: DemoCompany, size_name: str, seed: int
) -> dict[str, int]:
    """Write every table of the company inside the caller's transaction and mark the workspace
    complete (this is the demo creation's last transaction); return row counts."""
    from planning.demo import generator as g

    loaded_at = now_utc()
    values = {
        "segments": list(g.SEGMENTS), "products": [p[1] for p in g.PRODUCTS],
        "product_ids": [p[0] for p in g.PRODUCTS], "types": list(g.OPPORTUNITY_TYPES),
        "stages": list(g.STAGES), "forecast": list(g.FORECAST_CATEGORIES),
        "next_steps": list(g.NEXT_STEPS), "fields": list(g.HISTORY_FIELDS),
        "activity_kinds": list(g.ACTIVITY_KINDS), "origin": company.origin,
        "loaded_at": loaded_at,
    }
    cur.execute(CRM_ID_MACRO)
    cur.execute(DAY_MACRO)
    cur.execute(HISTORY_TEXT_MACRO)
    cur.register("accounts_frame", company.frames["accounts"])
    for table, statement in LOAD_STATEMENTS.items():
        cur.register("frame", company.frames[table])
        params = {name: values[name] for name in STATEMENT_PARAMETERS[table]}
        cur.execute(statement, params)
        cur.unregister("frame")
    cur.unregister("accounts_frame")
    _catalog(cur, loaded_at)
    _demo_quotas(cur, company.as_of, loaded_at)
    cur.executemany(
        "INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
        [["demo_size", size_name], ["demo_seed", str(seed)],
         ["demo_as_of", company.as_of.isoformat()]],
    )
    mark_creation_complete(cur)
    return {
        table: cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in (*LOAD_STATEMENTS, "products", "price_books", "price_book_entries",
                      "rep_quotas")
    }
