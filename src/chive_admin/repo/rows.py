"""A verified export's records as checked rows: the form they cross a process boundary in.

A row is ``(collection, rkey, cid, json, problem)``:

- a record of a collection the index keeps and valid against its lexicon: ``json`` is the record as the index
  stores it (:func:`chive_admin.lex.data_model.record_json`) and ``problem`` is ``None``;
- one that is not: ``json`` is ``None`` and ``problem`` says why (a dead letter);
- a record of a collection no lexicon of ours describes: both are ``None`` (not indexed, only noted).

Checking happens here, where the record is decoded, so in a reader process it runs beside the server's writes
instead of taking turns with them on the server's GIL. Rows are tuples of strings, so a part of 500 pickles in
about a millisecond; the decoded dicts took ten times as long.
"""

from __future__ import annotations

from collections.abc import Iterator

from chive_admin.lex.data_model import NotInDataModel, record_json
from chive_admin.lex.formats import is_record_key
from chive_admin.repo.car import RepoRecord, VerifiedRepo
from chive_admin.repo.validate import is_indexed, record_problem

RecordRow = tuple[str, str, str, str | None, str | None]


def record_rows(repo: VerifiedRepo, prefix: str, size: int) -> Iterator[list[RecordRow]]:
    """Every record under ``prefix``, in key order, checked, in lists of at most ``size``."""
    rows: list[RecordRow] = []
    for record in repo.records(prefix):
        rows.append(checked_row(record))
        if len(rows) >= size:
            yield rows
            rows = []
    if rows:
        yield rows


def checked_row(record: RepoRecord) -> RecordRow:
    collection, rkey, cid = record.collection, record.rkey, record.cid
    if not is_indexed(collection):
        return (collection, rkey, cid, None, None)
    value = record.value
    if value is None:  # the block is not a map
        return (collection, rkey, cid, None, record.problem or "record is not a map")
    problem = None if is_record_key(rkey) else f"{rkey[:100]!r} is not a valid record key"
    problem = problem or record_problem(collection, value)
    if problem is None:
        try:
            return (collection, rkey, cid, record_json(value), None)
        except NotInDataModel as exc:
            problem = str(exc)
    return (collection, rkey, cid, None, problem)
