"""How benchmarks hand their figures to the runner."""

from collections.abc import Callable

Report = Callable[[str, float, str], None]
"""Called with a figure's name, its value and its unit."""
