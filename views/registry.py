"""The page registry: every page of the app, its title, icon, workflow group and URL.

`app.py` builds `st.navigation` from this list and the page tests iterate over it, so a page
added here is both reachable and tested. Kept free of Streamlit so it can be filtered (for
example by role) and inspected anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Navigation sections in workflow order; a group shows only when it has pages.
GROUPS: tuple[str, ...] = ("Overview", "Pipeline", "Customers", "Deals", "Planning",
                          "Approvals", "Admin")


@dataclass(frozen=True)
class PageEntry:
    """One page: its script (relative to the project root) and how navigation shows it."""

    path: str
    title: str
    icon: str
    group: str
    url_path: str
    default: bool = False

    @property
    def file(self) -> Path:
        """Absolute path of the page script."""
        return PROJECT_ROOT / self.path


PAGES: tuple[PageEntry, ...] = (
    PageEntry(
        path="views/home.py",
        title="Home",
        icon=":material/dashboard:",
        group="Overview",
        url_path="home",
        default=True,
    ),
    PageEntry(
        path="views/inspection.py",
        title="Deal inspection",
        icon=":material/manage_search:",
        group="Pipeline",
        url_path="inspection",
    ),
    PageEntry(
        path="views/forecast.py",
        title="Forecast",
        icon=":material/query_stats:",
        group="Pipeline",
        url_path="forecast",
    ),
    PageEntry(
        path="views/accuracy.py",
        title="Forecast accuracy",
        icon=":material/query_stats:",
        group="Pipeline",
        url_path="accuracy",
    ),
    PageEntry(
        path="views/deal_risk.py",
        title="Deal risk model",
        icon=":material/model_training:",
        group="Pipeline",
        url_path="deal-risk",
    ),
    PageEntry(
        path="views/health.py",
        title="Customer health",
        icon=":material/health_and_safety:",
        group="Customers",
        url_path="health",
    ),
    PageEntry(
        path="views/quote.py",
        title="Quotes",
        icon=":material/request_quote:",
        group="Deals",
        url_path="quote",
    ),
    PageEntry(
        path="views/territory.py",
        title="Territory design",
        icon=":material/map:",
        group="Planning",
        url_path="territory",
    ),
    PageEntry(
        path="views/quota.py",
        title="Quota design",
        icon=":material/target:",
        group="Planning",
        url_path="quota",
    ),
    PageEntry(
        path="views/versions.py",
        title="Plan versions",
        icon=":material/difference:",
        group="Approvals",
        url_path="versions",
    ),
    PageEntry(
        path="views/approvals.py",
        title="Approvals",
        icon=":material/approval:",
        group="Approvals",
        url_path="approvals",
    ),
    PageEntry(
        path="views/inbox.py",
        title="Inbox",
        icon=":material/inbox:",
        group="Approvals",
        url_path="inbox",
    ),
    PageEntry(
        path="views/import_data.py",
        title="Import CRM data",
        icon=":material/upload_file:",
        group="Admin",
        url_path="import",
    ),
    PageEntry(
        path="views/access.py",
        title="Access",
        icon=":material/manage_accounts:",
        group="Admin",
        url_path="access",
    ),
    PageEntry(
        path="views/audit.py",
        title="Audit trail",
        icon=":material/history:",
        group="Admin",
        url_path="audit",
    ),
    PageEntry(
        path="views/telemetry.py",
        title="Telemetry",
        icon=":material/monitoring:",
        group="Admin",
        url_path="telemetry",
    ),
)


def grouped_pages(pages: Iterable[PageEntry] = PAGES) -> dict[str, list[PageEntry]]:
    """Pages by group, groups in workflow order, empty groups left out.

    Raises ValueError for a page whose group is not one of GROUPS, so a typo cannot hide a page.
    """
    groups: dict[str, list[PageEntry]] = {group: [] for group in GROUPS}
    for page in pages:
        if page.group not in groups:
            raise ValueError(f"Page {page.path} names unknown group {page.group!r}.")
        groups[page.group].append(page)
    return {group: entries for group, entries in groups.items() if entries}


def page_by_path(path: str, pages: Iterable[PageEntry] = PAGES) -> PageEntry:
    """The registry entry of a page script such as "views/import_data.py"."""
    for page in pages:
        if page.path == path:
            return page
    raise KeyError(path)
