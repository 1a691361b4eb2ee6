"""A request's params or body validated strictly by wire name: a failure is one 400 InvalidRequest."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.validation import validate


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(alias="batchSize", ge=1)


def test_validate_is_strict_and_by_wire_name() -> None:
    assert validate(Body, {"batchSize": 5}, what="input").batch_size == 5
    for data in ({"batchSize": "5"}, {"batch_size": 5}, [1]):
        with pytest.raises(XRPCError) as caught:
            validate(Body, data, what="params")
        assert (caught.value.status, caught.value.error) == (400, "InvalidRequest")
        assert caught.value.message.startswith("Invalid params: ")
