"""The content bench: valid synthetic records, a cached store, and a method not built yet said plainly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bench import backends, content, content_store
from bench.content_store import Generator, Mix
from bench.harness import Row
from chive_admin.repo.validate import record_problem

SMOKE = ["--records", "2000", "--seconds", "0.2", "--concurrency", "4", "--ops", "50"]


def test_every_generated_record_is_valid_against_its_lexicon_and_the_mix_is_kept() -> None:
    generator = Generator(2000)
    records = generator.governance() + [r for _, of_repo in generator.repositories() for r in of_repo]
    problems = {r.uri: record_problem(r.collection, r.value) for r in records}
    assert {uri: problem for uri, problem in problems.items() if problem is not None} == {}
    assert len({r.uri for r in records}) == len(records) == 2000
    mix = Mix(2000)
    assert Counter(r.collection for r in records) == {
        content_store.PROFILE: mix.profiles,
        content_store.EPRINT: mix.eprints,
        content_store.REVIEW: mix.reviews,
        content_store.ENDORSEMENT: mix.endorsements,
        content_store.TAG: mix.tags,
        content_store.NODE: mix.fields + mix.collections,
    }
    # the same size always draws the same store: a cached one stands for a new build
    again = Generator(2000)
    redrawn = again.governance() + [r for _, of_repo in again.repositories() for r in of_repo]
    assert [(r.uri, r.cid) for r in redrawn] == [(r.uri, r.cid) for r in records]


def test_a_method_answering_501_is_not_built_and_any_other_failure_is_an_error() -> None:
    not_implemented = json.dumps({"error": "MethodNotImplemented", "message": "not yet"}).encode()
    assert content.answer_kind(200, b"{}") == content.BUILT
    assert content.answer_kind(501, not_implemented) == content.NOT_BUILT
    assert content.answer_kind(400, b'{"error": "InvalidRequest"}') == "error 400 InvalidRequest"
    assert content.answer_kind(501, b'{"error": "Other"}') == "error 501 Other"
    assert content.answer_kind(500, b"not json") == "error 500"


def test_the_cache_key_follows_the_generator_version_and_the_size(monkeypatch: pytest.MonkeyPatch) -> None:
    key = content_store.cache_key(2000)
    assert key != content_store.cache_key(3000)
    monkeypatch.setattr(content_store, "GENERATOR_VERSION", content_store.GENERATOR_VERSION + 1)
    assert content_store.cache_key(2000) != key


def _cells(rows: list[Row]) -> dict[str, str]:
    return {row[0]: row[1] for row in rows}


@pytest.mark.parametrize("db_backend", backends.BACKENDS)
def test_a_tiny_run_measures_what_is_built_beside_the_baseline(
    db_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENCH_DB", raising=False)  # the bench sets it for its server: restored after the test
    argv = [*SMOKE, "--cache-dir", str(tmp_path / "cache"), "--db-backend", db_backend]
    title, rows = content.measure(argv)
    assert db_backend in title
    cells = _cells(rows)
    assert cells["store: records / repos / PDS hosts"] == "2,000 / 101 / 20"
    assert cells["store on disk"].endswith("B/record")
    reads = {name: cell for name, cell in cells.items() if " · " in name}
    assert {name.split(" ", 1)[0] for name in reads} == {
        "getBackfillStatus", "getOverview", "listEprints", "listReviews", "listEndorsements", "searchUsers",
        "getUserDetail", "listImports", "listWarnings", "listViolations",
    }  # fmt: skip
    assert sum(name.endswith(" · sequential") for name in reads) == sum(name.endswith(" · 4 clients") for name in reads)
    # what main has built is measured; a method still answering 501 says so; nothing fails
    for name in ("getBackfillStatus (one op by id)", "listWarnings", "listViolations"):
        assert reads[f"{name} · sequential"].endswith(" calls"), reads
        assert reads[f"{name} · 4 clients"].endswith("/s"), reads
    assert all(cell == content.NOT_BUILT or " ms" in cell for cell in reads.values()), reads
    assert not any("errors" in cell for cell in reads.values()), reads
    assert cells["goal: every content read p99 < 50 ms sequential"].startswith(("met", "missed"))
    assert cells["store build"].endswith(" s")
    _, again = content.measure(argv)
    assert _cells(again)["store build"].endswith(" s from the cache")
    assert _cells(again)["store on disk"] == cells["store on disk"] or db_backend == backends.POSTGRESQL
    assert {name for name, cell in _cells(again).items() if cell == content.NOT_BUILT} == {
        name for name, cell in cells.items() if cell == content.NOT_BUILT
    }
    assert len(list((tmp_path / "cache").glob(f"*.{db_backend}"))) == 1
