"""A verified export's records as rows: the form they cross a process boundary in.

A row is ``(collection, rkey, cid, json, problem)``: ``json`` is the record as the index stores it
(:func:`chive_admin.store.index.record_json`), or ``None`` with the reason in ``problem``. Rows are tuples of
strings, so a part of 500 pickles in about a millisecond; the decoded dicts took ten times as long.
"""

from __future__ import annotations

from collections.abc import Iterator

from chive_admin.repo.car import VerifiedRepo
from chive_admin.store.index import NotInDataModel, record_json

RecordRow = tuple[str, str, str, str | None, str | None]


def record_rows(repo: VerifiedRepo, prefix: str, size: int) -> Iterator[list[RecordRow]]:
    """Every record under ``prefix``, in key order, in lists of at most ``size``."""
    rows: list[RecordRow] = []
    for record in repo.records(prefix):
        if record.value is None:
            rows.append((record.collection, record.rkey, record.cid, None, record.problem))
        else:
            try:
                rows.append((record.collection, record.rkey, record.cid, record_json(record.value), None))
            except NotInDataModel as exc:
                rows.append((record.collection, record.rkey, record.cid, None, str(exc)))
        if len(rows) >= size:
            yield rows
            rows = []
    if rows:
        yield rows
