"""Pydantic's errors as one readable message: where (wire names, list positions), what, at most three problems."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chive_admin.lex.validation import describe


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(alias="batchSize", ge=1)
    items: list[Item] = []


def problems(data: object) -> str:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(data, strict=True, by_alias=True, by_name=False)
    return describe(caught.value, what="input")


def test_each_problem_says_where_by_wire_name_and_list_position() -> None:
    assert problems({"batchSize": 0}) == "Invalid input: batchSize: Input should be greater than or equal to 1"
    assert problems({"batchSize": 1, "items": [{"name": "a"}, {}]}) == "Invalid input: items[1].name: required"


def test_missing_and_unknown_fields_are_said_plainly() -> None:
    assert problems({}) == "Invalid input: batchSize: required"
    assert problems({"batchSize": 1, "stray": 1}) == "Invalid input: stray: unknown field"


def test_three_problems_are_shown_and_the_rest_counted() -> None:
    message = problems({"batchSize": "x", "a": 1, "b": 2, "c": 3, "d": 4})
    assert message.count(": ") == 4  # "Invalid input: " and three problems
    assert message.endswith("; and 2 more")
