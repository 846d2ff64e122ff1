"""Deal win models from what was known when each deal was created, for workspaces without
field history.

A workspace filled from a flat export has opportunities but no opportunity history, so the
point-in-time rows of `planning.store.pipeline_features` cannot be built. The win model then
trains on the same creation-time features as `revplan pipeline train --csv`
(`planning.pipeline.csv_training.creation_features`): amount against earlier deals, the owner's
and the account's record on deals closed before each deal was created, when it was created,
its type and product. Open deals are scored on the same features. There is no slip model: it
needs each deal's close date as it stood during the quarter, which only field history gives.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from planning.errors import RevPlanError
from planning.pipeline.csv_training import creation_features
from planning.store import Workspace
from planning.store import pipeline_features as pf

NOTE = ("trained on what was known when each deal was created: the workspace has no field "
        "history")
CATEGORICAL = ("type", "product_id")
EXPLAINED_FEATURES = ("amount_vs_median", "amount_vs_owner_median", "owner_win_rate",
                      "account_win_rate", "owner_closed_before")
"""Creation-time features worded as reasons for an open deal's score."""
HISTORY_EXPORT = "the opportunity field history (Salesforce OpportunityFieldHistory export)"


class NotEnoughDealsError(RevPlanError):
    """Too few closed deals, or only one outcome, to train a win model."""


def creation_rows(workspace: Workspace, as_of: dt.datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every deal with its status as known at `as_of`, and its creation-time features."""
    deals = workspace.read_snapshot(lambda cur: pf.creation_deals(cur, as_of))
    for column in ("created_at", "close_date", "closed_at"):
        deals[column] = pd.to_datetime(deals[column]).astype("datetime64[us]")
    for column in CATEGORICAL:
        deals[column] = deals[column].astype(object)
    return deals, creation_features(deals, CATEGORICAL)


def check_trainable(deals: pd.DataFrame, history_deals: int, minimum: int,
                    as_of: dt.datetime) -> None:
    """Raise a one-line NotEnoughDealsError saying what is missing and what to import."""
    closed = deals["status"].isin(["won", "lost"])
    won = int((deals["status"] == "won").sum())
    count = int(closed.sum())
    before = f"closed by {as_of - dt.timedelta(microseconds=1):%Y-%m-%d}"
    if count < minimum:
        raise NotEnoughDealsError(
            f"Only {count} deals {before} (need {minimum}), {history_deals} of them with "
            f"stage history: import more closed deals, or {HISTORY_EXPORT}.")
    if won in (0, count):
        outcome = "won" if won else "lost"
        missing = "lost" if won else "won"
        raise NotEnoughDealsError(
            f"All {count} deals {before} are {outcome}: a win model needs {missing} deals "
            f"too; import the {missing} deals (check the status mapping, docs/IMPORT.md).")
