from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chive_admin.lex.data_model import NotInDataModel, record_json

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _in_data_model(value: object) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**64  # what orjson takes: i64 and u64
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_in_data_model(v) for v in value)
    assert isinstance(value, dict)
    return all(_in_data_model(k) and _in_data_model(v) for k, v in value.items())


@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=6))
def test_stored_json_is_the_sorted_compact_json_of_the_value_or_refused(value: dict[str, object]) -> None:
    # the fast serialiser gives exactly what the json module gives, and refuses exactly what no repository can hold
    if _in_data_model(value):
        assert record_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    else:
        with pytest.raises(NotInDataModel):
            record_json(value)
