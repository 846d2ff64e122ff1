"""The open deals a user may read, with the active model's win probability, slip risk and
reasons."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from planning.access.policy import readable_owner_ids
from planning.access.users import User
from planning.store import Workspace
from planning.store import deal_models as repo

SHOWN_PROBABILITY_MIN = 0.01
SHOWN_PROBABILITY_MAX = 0.99
PROBABILITY_NOTE = "Shown between 1 % and 99 %: the model is never certain."


def shown_probability(probability: float) -> float:
    """A model probability as shown to people: clipped to 1 %–99 %, since the model is never
    certain and 0 % or 100 % would read as a fact; NaN stays NaN."""
    return float(np.clip(probability, SHOWN_PROBABILITY_MIN, SHOWN_PROBABILITY_MAX))


def shown_probabilities(values: pd.Series) -> pd.Series:
    """`shown_probability` for a column; missing values stay missing."""
    return values.astype(float).clip(SHOWN_PROBABILITY_MIN, SHOWN_PROBABILITY_MAX)


def scored_open_deals(workspace: Workspace, viewer: User | None) -> pd.DataFrame:
    """Open deals in the viewer's scope with scores; `reasons` is a list of reason texts.

    Deals not scored yet (no model, or created since the last scoring) have empty scores.
    """
    owners = readable_owner_ids(viewer, workspace.name)
    frame = workspace.read(
        lambda cur: repo.scored_open_deals(cur, None if owners is None else sorted(owners)))
    frame["reasons"] = [
        [r["text"] for r in json.loads(text)] if isinstance(text, str) else []
        for text in frame["reasons_json"]
    ]
    return frame
