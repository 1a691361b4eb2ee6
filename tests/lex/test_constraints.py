from __future__ import annotations

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import PydanticCustomError

from chive_admin.lex.constraints import Graphemes, grapheme_count

_CLUSTER = regex.compile(r"\X")


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_count_matches_the_cluster_regex(value: str) -> None:
    assert grapheme_count(value) == len(_CLUSTER.findall(value))


@given(st.text(alphabet=st.sampled_from(["\r", "\n", "a", "\u0301", "\u200d", "\U0001f469", "\U0001f1eb", "é"])))
def test_non_ascii_count_matches_the_cluster_regex(value: str) -> None:
    assert grapheme_count(value) == len(_CLUSTER.findall(value))


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("", 0),
        ("abc", 3),
        ("a\r\nb", 3),
        ("\n\r", 2),
        ("e\u0301", 1),
        ("\U0001f469\u200d\U0001f469\u200d\U0001f467", 1),
    ],
)
def test_known_counts(value: str, count: int) -> None:
    assert grapheme_count(value) == count


def test_max_counts_clusters_not_code_points() -> None:
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # 5 code points, 1 cluster
    assert Graphemes(max=2).check(family * 2) == family * 2
    with pytest.raises(PydanticCustomError, match="at most 2 graphemes"):
        Graphemes(max=2).check(family * 3)
    with pytest.raises(PydanticCustomError, match="at most 2 graphemes"):
        Graphemes(max=2).check("abc")


def test_min_counts_clusters() -> None:
    with pytest.raises(PydanticCustomError, match="at least 2 graphemes"):
        Graphemes(min=2, max=10).check("e\u0301")
    assert Graphemes(min=2, max=10).check("a\r\nb") == "a\r\nb"
    with pytest.raises(PydanticCustomError, match="at least 3 graphemes"):
        Graphemes(min=3).check("a\r\nb"[:3])
