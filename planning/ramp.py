"""The ramp rule: how productive a rep is on a day, given their hire date and ramp months.

Territory design (capacity on the plan's day) and quota design (the average over the fiscal
year) both ask here, so the rule is written once:

- a rep without a hire date counts as fully ramped (exports often leave it out);
- on or before the hire day the share is 0: a rep hired in the future has no capacity yet;
- after it, the share rises linearly over the rep's ramp months and stays at 1 once ramped
  (a rep with no ramp months is fully productive from the day after the hire);
- a month is the mean Gregorian month, 365.25 / 12 = 30.4375 days.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

DAYS_PER_MONTH = 365.25 / 12
"""The mean Gregorian month in days, the unit of ramp months."""


def ramp_share(hire_date: object, ramp_months: object, day: dt.date) -> float:
    """The share (0 to 1) of full productivity a rep hired on `hire_date` with `ramp_months`
    months of ramp has on `day`: 0 on or before the hire day, linear over the ramp, 1 after it
    or without a hire date (see the module's rule)."""
    if hire_date is None or pd.isna(hire_date):
        return 1.0
    months = (day - pd.Timestamp(hire_date).date()).days / DAYS_PER_MONTH
    if months <= 0:
        return 0.0
    ramp = float(ramp_months) if ramp_months is not None and not pd.isna(ramp_months) else 0.0
    if ramp <= 0:
        return 1.0
    return min(1.0, months / ramp)


def average_ramp_share(hire_date: object, ramp_months: object, first: dt.date,
                       months: int = 12) -> float:
    """The average `ramp_share` over `months` months from `first`, each month taken at its
    middle: how much of a year (by default) starting on `first` the rep is productive."""
    middles = (first + dt.timedelta(days=DAYS_PER_MONTH * (k + 0.5)) for k in range(months))
    return float(np.mean([ramp_share(hire_date, ramp_months, day) for day in middles]))
