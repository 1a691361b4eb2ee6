"""Dead-letter items: what a job parks when one item fails, stored as JSON and read back typed when it is retried.

Each job type declares the items it parks (its ``item_model``); the one every indexing job shares, a record that
failed its lexicon, is declared here. An item's JSON is part of the queue's key (the same item failing the same way
again refreshes its entry), so a model stores exactly the keys it declares and leaves out those it does not hold.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Item(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RecordItem(Item):
    """A record that failed its lexicon: fetched again from ``pds`` when retried."""

    kind: Literal["record"] = "record"
    uri: str
    pds: str
