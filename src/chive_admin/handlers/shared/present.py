"""One rule for the optional fields of an answer: a field with no honest value is omitted, never sent as null."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

Model = TypeVar("Model", bound=BaseModel)


def present(model: type[Model], **fields: object) -> Model:
    """``model`` built from the ``fields`` that have a value (keys are the lexicon's field names). Validating keeps
    the generated model's checks (formats, ranges) on what the store handed back."""
    return model.model_validate({name: value for name, value in fields.items() if value is not None})
