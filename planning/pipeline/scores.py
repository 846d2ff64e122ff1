"""The open deals a user may read, with the active model's win probability, slip risk and
reasons."""

from __future__ import annotations

import json

import pandas as pd

from auth.policy import readable_owner_ids
from auth.users import User
from planning.store import Workspace
from planning.store import deal_models as repo


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
