"""Records as checked rows, the form they cross a process boundary in: a verified export's, and a listing page's.

A row is ``(collection, rkey, cid, json, problem)``:

- a record of a collection the index keeps and valid against its lexicon: ``json`` is the record as the index
  stores it (:func:`chive_admin.lex.data_model.record_json`) and ``problem`` is ``None``;
- one that is not: ``json`` is ``None`` and ``problem`` says why (a dead letter);
- a record of a collection no lexicon of ours describes: both are ``None`` (not indexed, only noted).

Checking happens here, where the record is decoded, so in a reader process it runs beside the server's writes
instead of taking turns with them on the server's GIL. Rows are tuples of strings, so a part of 500 pickles in
about a millisecond; the decoded dicts took ten times as long. A listRecords page is decoded here too (its JSON, its
lexicon, each record's): the server's loop then only reads the answer and hands on the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chive_admin import untrusted_json
from chive_admin._generated.models.com.atproto.repo import list_records as lex_list_records
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
    collection, rkey, cid, value, problem = record
    if not is_indexed(collection):
        return (collection, rkey, cid, None, None)
    if value is None:  # the block is not a map
        return (collection, rkey, cid, None, problem or "record is not a map")
    return _checked(collection, rkey, cid, value)


def _checked(collection: str, rkey: str, cid: str, value: dict[str, Any]) -> RecordRow:
    """The row of a record of a collection we index (``record_problem`` names any other one)."""
    problem = None if is_record_key(rkey) else f"{rkey[:100]!r} is not a valid record key"
    problem = problem or record_problem(collection, value)
    if problem is None:
        try:
            return (collection, rkey, cid, record_json(value), None)
        except NotInDataModel as exc:
            problem = str(exc)
    return (collection, rkey, cid, None, problem)


def page_rows(body: bytes, collection: str) -> tuple[str | None, list[RecordRow]]:
    """A listRecords answer's cursor and its records of ``collection`` as checked rows: ``untrusted_json.NotJson``
    when it is not JSON, pydantic's ``ValidationError`` when it is not the lexicon's answer."""
    page = lex_list_records.Output.model_validate(untrusted_json.loads(body), strict=True, by_alias=True, by_name=False)
    return page.cursor, [_checked(collection, r.uri.rpartition("/")[2], r.cid, r.value) for r in page.records]
