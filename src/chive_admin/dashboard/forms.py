"""The trigger form of each runnable operation type, derived from its params model and its trigger lexicon.

The page renders whatever this says, so a ``--job-plugin`` type gets a form too, and a lexicon or params change
reaches the form without touching the script.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from chive_admin._generated import ids
from chive_admin._generated.catalog import ROUTES
from chive_admin.backfill.job_types import TRIGGER_METHODS, JobRegistry


def _field(name: str, schema: dict[str, Any], required: bool, description: str) -> dict[str, Any]:
    variants = [v for v in schema.get("anyOf", [schema]) if v.get("type") != "null"]
    typed = variants[0] if variants else {}
    spec: dict[str, Any] = {
        "name": name,
        "kind": "integer" if typed.get("type") == "integer" else "string",
        "required": required,
        "description": description or schema.get("description", ""),
    }
    for key in ("minimum", "maximum", "default"):
        if typed.get(key, schema.get(key)) is not None:
            spec[key] = typed.get(key, schema.get(key))
    if "enum" in typed:
        spec["options"] = list(typed["enum"])
    return spec


def _described(model: type[BaseModel] | None) -> dict[str, str]:
    if model is None:
        return {}
    return {f.alias or name: f.description or "" for name, f in model.model_fields.items()}


def trigger_forms(registry: JobRegistry) -> list[dict[str, Any]]:
    """One form per operation type an operator may start, in trigger-name order."""
    forms = []
    for name in registry.trigger_names:
        op_type = registry.type_for(name)
        job = registry.job(op_type) if op_type else None
        if op_type is None or job is None:
            continue
        method = TRIGGER_METHODS.get(op_type)
        route = ROUTES[method] if method else None
        descriptions = _described(route.input if route else None)
        schema = job.params_model.model_json_schema(by_alias=True)
        required = set(schema.get("required", ()))
        fields = [
            _field(field, prop, field in required, descriptions.get(field, ""))
            for field, prop in schema.get("properties", {}).items()
            # a trigger method states its inputs: a params field it lacks is not the operator's to set
            if route is None or field in descriptions
        ]
        forms.append(
            {
                "type": op_type,
                "name": name,
                "method": method or ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL,
                # triggerBackfill names the type in the body; the dedicated methods imply it
                "typeField": method is None,
                "fields": fields,
            }
        )
    return forms
