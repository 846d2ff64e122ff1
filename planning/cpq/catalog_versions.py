"""The workspace's catalog versions: importing a catalog folder makes it the current catalog,
numbered after the imports before it; its content is kept as the catalog version's snapshot
(the one quotes priced with it read back), so every version stays readable after the next
import. Importing the current catalog again changes nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from planning import audit
from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User
from planning.clock import now_utc
from planning.cpq.catalog import SAMPLE_FOLDER, Catalog, CatalogError, load_catalog
from planning.cpq.pricing import load_price_books
from planning.cpq.quotes import catalog_from_json, catalog_json, store_price_books
from planning.store import Workspace
from planning.store import cpq_catalog as catalog_repo
from planning.store import cpq_price_books as books_repo


@dataclass(frozen=True)
class CatalogImport:
    """One import of a catalog into the workspace; `new` is False when the import found the
    same catalog already current and recorded nothing."""

    import_no: int
    catalog_version: str
    content_hash: str
    source: str
    products: int
    options: int
    bundles: int
    rules: int
    imported_by: str
    imported_at: datetime
    new: bool = True


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@entry_point(Action.MANAGE_CATALOG)
def import_catalog(workspace: Workspace, user: User, folder: Path | str,
                   catalog_version: str | None = None) -> CatalogImport:
    """Read the catalog in `folder` (see load_catalog) and make it the workspace's current
    catalog in one audited transaction. Its version is `catalog_version`, else the files'
    hash; a version already kept with other content is refused (give it a new version)."""
    catalog = load_catalog(folder, catalog_version)
    text = catalog_json(catalog)
    digest = _sha(text)
    role = user.primary_role.value if user.primary_role else None

    def write(cur) -> CatalogImport:
        kept = books_repo.catalog_snapshot(cur, catalog.catalog_version)
        if kept is not None and kept[1] != digest:
            raise CatalogError(f"Catalog version {catalog.catalog_version} is already kept "
                               "with other content; import the changed catalog under a new "
                               "version.")
        latest = catalog_repo.latest_import(cur)
        if latest is not None and latest["catalog_version"] == catalog.catalog_version:
            return CatalogImport(**latest, new=False)
        moment = now_utc()
        if kept is None:
            books_repo.insert_catalog_snapshot(
                cur, catalog_version=catalog.catalog_version, content_json=text,
                content_hash=digest, saved_by=user.email, saved_at=moment)
        counts = {"products": len(catalog.products), "options": len(catalog.options),
                  "bundles": len(catalog.bundles), "rules": len(catalog.rules)}
        number = catalog_repo.insert_import(
            cur, catalog_version=catalog.catalog_version, content_hash=digest,
            source=str(folder), imported_by=user.email, imported_at=moment, **counts)
        audit.record(cur, actor=user.email, actor_role=role, action="cpq.catalog.import",
                     entity="cpq_catalog", entity_id=catalog.catalog_version,
                     before=None if latest is None else {
                         "catalog_version": latest["catalog_version"]},
                     after={"import_no": number, "content_hash": digest, "source": str(folder),
                            **counts})
        return CatalogImport(number, catalog.catalog_version, digest, str(folder),
                             imported_by=user.email, imported_at=moment, **counts)

    return workspace.write(write)


@entry_point(Action.READ_QUOTES)
def catalog_imports(workspace: Workspace, user: User) -> list[CatalogImport]:
    """Every catalog import of the workspace, newest (the current catalog) first."""
    return [CatalogImport(**row) for row in workspace.read(catalog_repo.catalog_imports)]


@entry_point(Action.READ_QUOTES)
def current_catalog(workspace: Workspace, user: User) -> Catalog | None:
    """The newest imported catalog, or None before the first import."""
    def read(cur) -> str | None:
        latest = catalog_repo.latest_import(cur)
        if latest is None:
            return None
        kept = books_repo.catalog_snapshot(cur, latest["catalog_version"])
        return None if kept is None else kept[0]

    text = workspace.read(read)
    return None if text is None else catalog_from_json(text)


@entry_point(Action.READ_QUOTES)
def stored_catalog(workspace: Workspace, user: User, catalog_version: str) -> Catalog:
    """A catalog version kept in the workspace (imported, or kept by a quote priced with it)."""
    kept = workspace.read(lambda cur: books_repo.catalog_snapshot(cur, catalog_version))
    if kept is None:
        raise CatalogError(f"No catalog version {catalog_version!r} in this workspace; import "
                           "it first.")
    return catalog_from_json(kept[0])


@dataclass(frozen=True)
class CatalogLoad:
    """What loading a catalog folder with its price books did."""

    catalog: CatalogImport
    price_books_added: int

    def to_text(self) -> str:
        """One line for people."""
        kept = "new" if self.catalog.new else "unchanged, already current"
        return (f"Catalog {self.catalog.catalog_version} ({kept}); "
                f"{self.price_books_added:,} new price book version(s).")


@entry_point(Action.MANAGE_CATALOG)
def load_catalog_and_price_books(workspace: Workspace, user: User,
                                 folder: Path | str = SAMPLE_FOLDER) -> CatalogLoad:
    """Make the catalog in `folder` current and keep its price books (one planning call for
    the command line and the demo): the catalog needs MANAGE_CATALOG, the price books
    MANAGE_PRICE_BOOKS, each checked by its own entry point and audited."""
    books = load_price_books(folder)
    imported = import_catalog(workspace, user, folder)
    return CatalogLoad(imported, store_price_books(workspace, user, books))
