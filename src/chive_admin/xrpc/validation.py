"""Validation of a request's params or body: a failure is one 400 InvalidRequest naming what is wrong."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from chive_admin.lex.validation import describe
from chive_admin.xrpc.errors import XRPCError

M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: object, *, what: str) -> M:
    """Strict validation by wire name (``batchSize``, never ``batch_size``); failures are 400 InvalidRequest."""
    try:
        return model.model_validate(data, strict=True, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise XRPCError.invalid_request(describe(exc, what=what)) from None
