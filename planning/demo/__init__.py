"""Deterministic demo companies for trying RevPlan and for its tests."""

from planning.demo.generator import (
    DEMO_SIZES,
    DemoReport,
    DemoSize,
    build_demo_company,
    generate_demo_workspace,
)

__all__ = ["DEMO_SIZES", "DemoReport", "DemoSize", "build_demo_company", "generate_demo_workspace"]
