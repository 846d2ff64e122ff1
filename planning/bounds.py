"""Allowed ranges of the numbers people type into a territory or quota scenario.

Every amount, weight, tolerance and limit is checked here before it reaches a solver, so the
page and the command line refuse the same values with the same one line: the input, the value
and the range it must lie in. The ranges are documented in README.md ("Numeric inputs").
"""

from __future__ import annotations

import math

from planning.errors import RevPlanError

MAX_AMOUNT = 1_000_000_000_000.0
"""Largest amount in currency units (one trillion): targets, floors, ceilings, overrides."""
MAX_AMOUNT_CENTS = int(MAX_AMOUNT * 100)
MAX_INCREASE = 100.0
"""Largest year-over-year rise of a quota cap (100 = +10,000 %)."""
MAX_DISRUPTION_WEIGHT = 1e12
"""Largest territory disruption weight (cost per unit of value of a moved unit)."""
MAX_TIME_LIMIT_S = 86_400.0
"""Longest territory solve, in seconds (one day)."""
MAX_CANDIDATES = 1_000
MAX_MOVES_PER_REP = 1_000_000
MAX_WORKLOAD = 1e12
"""Largest workload or value of one territory unit."""
MAX_CAPACITY = 1_000.0
"""Largest capacity (FTE) of one territory rep."""


class InputRangeError(RevPlanError, ValueError):
    """A number outside its documented range, or not a finite number at all (a ValueError
    too, for callers that check settings as values)."""


def _shown(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _limit(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1e4:
        return f"{int(value):,}"
    return f"{value:g}"


def check_number(name: str, value: float, low: float, high: float, *,
                 above_low: bool = False, below_high: bool = False) -> float:
    """`value` when it is a finite number in [low, high] (open at an end when `above_low` or
    `below_high`); otherwise InputRangeError naming the input, the value and the range."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    inside = (math.isfinite(number)
              and (number > low if above_low else number >= low)
              and (number < high if below_high else number <= high))
    if not inside:
        if above_low or below_high:
            span = (f"{'above' if above_low else 'at least'} {_limit(low)} and "
                    f"{'below' if below_high else 'at most'} {_limit(high)}")
        else:
            span = f"from {_limit(low)} to {_limit(high)}"
        raise InputRangeError(f"{name} {_shown(value)} is out of range: give a number {span}.")
    return number


def amount_cents(name: str, amount: float, *, allow_zero: bool = False) -> int:
    """An amount in currency units as whole cents, checked against (0 or 0.01)..MAX_AMOUNT
    before it is converted (so 1e30, nan and inf never become cents)."""
    if allow_zero:
        number = check_number(name, amount, 0.0, MAX_AMOUNT)
    else:
        number = check_number(name, amount, 0.01, MAX_AMOUNT)
    return int(round(number * 100))


def check_cents(name: str, cents: int, *, allow_zero: bool = False) -> int:
    """An amount already in cents, within the same range as `amount_cents`."""
    if isinstance(cents, float) and not math.isfinite(cents):
        check_number(name, cents, 0.0, MAX_AMOUNT)
    low = 0 if allow_zero else 1
    if not low <= cents <= MAX_AMOUNT_CENTS:
        raise InputRangeError(f"{name} {cents / 100:,.2f} is out of range: give an amount "
                              f"from {low / 100:g} to {_limit(MAX_AMOUNT)}.")
    return int(cents)
