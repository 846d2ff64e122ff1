"""Configurations and requirements read from JSON files, and validation, diagnosis and
recommendation results written as JSON-ready dictionaries (money in integer cents)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from planning.cpq.catalog import Catalog, Configuration, Requirements
from planning.cpq.diagnose import Diagnosis
from planning.cpq.recommend import Recommendation
from planning.cpq.rules import PickChange, Violation
from planning.cpq.validate import Validation
from planning.errors import RevPlanError


class CpqDocumentError(RevPlanError):
    """A quote or requirements file that cannot be read: the message names the file and field."""


def _read_json(path: Path | str) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CpqDocumentError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise CpqDocumentError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CpqDocumentError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                               f"{exc.msg})") from None
    if not isinstance(data, dict):
        raise CpqDocumentError(f"{path}: expected a JSON object {{...}} at the top")
    return data


def _whole(source: str, where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise CpqDocumentError(f"{source}: {where}: {value!r} is not a whole number")
    return int(value)


def _text(source: str, where: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CpqDocumentError(f"{source}: {where}: {value!r} should be text")
    return value


def day_of(source: str, where: str, value: object) -> date | None:
    """An ISO date from a JSON field (None when absent), or a one-line error."""
    text = _text(source, where, value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CpqDocumentError(f"{source}: {where}: {text!r} is not a date like 2026-01-31") \
            from None


def requirements_from_dict(data: dict, source: str = "requirements") -> Requirements:
    """Requirements from {"users": 40, "modules": [...], "deployment": ..., "region": ...}."""
    known = {"users", "modules", "deployment", "region", "objective", "on_day"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CpqDocumentError(f"{source}: unknown field {unknown[0]!r}; use "
                               f"{', '.join(sorted(known))}")
    users = _whole(source, "users", data.get("users", 0))
    if users < 0:
        raise CpqDocumentError(f"{source}: users: must be 0 or more")
    modules = data.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise CpqDocumentError(f"{source}: modules: expected a list of module names")
    return Requirements(users=users, modules=tuple(dict.fromkeys(modules)),
                        deployment=_text(source, "deployment", data.get("deployment")),
                        region=_text(source, "region", data.get("region")))


def configuration_from_dict(data: dict, source: str = "quote") -> Configuration:
    """A configuration from {"picks": {option_id: qty}, "attributes": {...}} or from
    {"lines": [{"option_id": ..., "qty": ...}], ...}; "requirements" is optional."""
    picks: dict[str, int] = {}
    if "picks" in data:
        if not isinstance(data["picks"], dict):
            raise CpqDocumentError(f"{source}: picks: expected {{\"option_id\": quantity}}")
        for option_id, qty in data["picks"].items():
            picks[option_id] = _whole(source, f"picks.{option_id}", qty)
    elif "lines" in data:
        if not isinstance(data["lines"], list):
            raise CpqDocumentError(f"{source}: lines: expected a list of lines")
        for number, line in enumerate(data["lines"], start=1):
            if not isinstance(line, dict) or not isinstance(line.get("option_id"), str):
                raise CpqDocumentError(f"{source}: lines[{number}]: needs an option_id")
            qty = line.get("qty", line.get("quantity", 1))
            picks[line["option_id"]] = picks.get(line["option_id"], 0) + _whole(
                source, f"lines[{number}].qty", qty)
    else:
        raise CpqDocumentError(f"{source}: needs \"picks\" ({{\"option_id\": quantity}}) or "
                               "\"lines\" ([{\"option_id\": ..., \"qty\": ...}])")
    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
        raise CpqDocumentError(f"{source}: attributes: expected {{\"region\": \"eu\", ...}}")
    requirements = data.get("requirements")
    if requirements is not None and not isinstance(requirements, dict):
        raise CpqDocumentError(f"{source}: requirements: expected an object")
    return Configuration(picks, dict(attributes),
                         requirements_from_dict(requirements, f"{source}: requirements")
                         if requirements else None)


def read_configuration(path: Path | str) -> tuple[Configuration, date | None]:
    """The configuration in a quote JSON file and its "on_day" when it names one."""
    data = _read_json(path)
    return configuration_from_dict(data, str(path)), day_of(str(path), "on_day",
                                                            data.get("on_day"))


def read_requirements(path: Path | str) -> tuple[Requirements, str | None, date | None]:
    """The requirements in a JSON file, with its "objective" and "on_day" when given."""
    data = _read_json(path)
    objective = _text(str(path), "objective", data.get("objective"))
    return (requirements_from_dict(data, str(path)), objective,
            day_of(str(path), "on_day", data.get("on_day")))


def change_dict(catalog: Catalog, change: PickChange) -> dict:
    """A pick change for JSON, with its sentence."""
    return {"option_id": change.option_id, "action": change.action,
            "from_qty": change.from_qty, "to_qty": change.to_qty,
            "text": change.describe(catalog)}


def violation_dict(catalog: Catalog, violation: Violation) -> dict:
    """A broken rule for JSON."""
    return {"rule_id": violation.rule_id, "kind": violation.kind, "effect": violation.effect,
            "message": violation.message, "fix": violation.fix,
            "options": list(violation.options),
            "changes": [change_dict(catalog, c) for c in violation.changes]}


def validation_dict(catalog: Catalog, validation: Validation,
                    diagnosis: Diagnosis | None = None) -> dict:
    """A validation (and its minimal diagnosis when given) for JSON."""
    found = {"catalog_version": validation.catalog_version,
             "on_day": validation.on_day.isoformat(), "valid": validation.valid,
             "violations": [violation_dict(catalog, v) for v in validation.violations],
             "alerts": [violation_dict(catalog, a) for a in validation.alerts],
             "suggested_changes": [change_dict(catalog, c)
                                   for c in validation.suggested_changes]}
    if diagnosis is not None:
        found["minimal_diagnosis"] = {
            "status": diagnosis.status, "seconds": round(diagnosis.seconds, 4),
            "changes": [change_dict(catalog, c) for c in diagnosis.changes],
            "text": diagnosis.describe(catalog)}
    return found


def recommendation_dict(catalog: Catalog, recommendation: Recommendation) -> dict:
    """A recommendation for JSON: solver figures, picks with names, cost in cents."""
    configuration = recommendation.configuration
    picks = [] if configuration is None else [
        {"option_id": o, "name": catalog.option_name(o), "qty": q,
         "cost_cents": catalog.option(o).cost_cents * q}
        for o, q in configuration.picked().items()]
    return {"status": recommendation.status, "method": recommendation.method,
            "objective_kind": recommendation.objective_kind,
            "objective": recommendation.objective, "bound": recommendation.bound,
            "gap": recommendation.gap, "seconds": round(recommendation.seconds, 4),
            "catalog_version": recommendation.catalog_version,
            "cost_cents": recommendation.cost_cents,
            "attributes": {} if configuration is None else dict(configuration.attributes),
            "picks": picks, "unmet": list(recommendation.unmet),
            "message": recommendation.message}
