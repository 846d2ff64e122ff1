"""Deterministic demo companies for trying RevPlan and for its tests."""
