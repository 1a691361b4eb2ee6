"""Builders for realistic ``pub.chive.*`` records, shaped per Chive's lexicons, plus test data helpers.

Records are plain JSON-ready dicts in the atproto JSON form (blob refs as
``{"$type": "blob", "ref": {"$link": cid}, "mimeType": ..., "size": ...}``), each with its ``$type``.
Union members (rich-text items) carry their ``$type`` as the data model requires.
``tests/interop/test_records_lexicon.py`` checks every builder against the reference lexicons
(``../shared/reference/chive-lexicons``) with the reference validator (``@atproto/lexicon``).

Also here: :func:`minimal_pdf` (a small valid PDF, written by hand, with DOIs and an arXiv id in its
text for citation extraction), :func:`raw_cid` (the CID a PDS gives a blob) and :func:`make_tid`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

SUBMISSION = "pub.chive.eprint.submission"
COMMENT = "pub.chive.review.comment"
ENDORSEMENT = "pub.chive.review.endorsement"
PROFILE = "pub.chive.actor.profile"
USER_TAG = "pub.chive.eprint.userTag"
GRAPH_NODE = "pub.chive.graph.node"
GRAPH_EDGE = "pub.chive.graph.edge"
RICHTEXT = "pub.chive.richtext.defs"

#: A syntactically valid stand-in for Chive's governance DID (owner of the knowledge-graph nodes).
GOVERNANCE_DID = "did:plc:chivegov5yxnqd7wbt3jhgr6"

Record = dict[str, Any]


# -- small helpers --------------------------------------------------------------------------------


def now_iso(dt: datetime | None = None) -> str:
    """An atproto ``datetime`` string (UTC, millisecond precision, ``Z``)."""
    dt = dt or datetime.now(UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def at_uri(did: str, collection: str, rkey: str) -> str:
    return f"at://{did}/{collection}/{rkey}"


def node_uri(node_id: str, did: str = GOVERNANCE_DID) -> str:
    """AT-URI of a knowledge-graph node (nodes use their UUID as rkey)."""
    return at_uri(did, GRAPH_NODE, node_id)


def stable_uuid(name: str) -> str:
    """A deterministic UUID for a name (so seeded graph ids are stable across runs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://chive.pub/test/{name}"))


_B32_SORT = "234567abcdefghijklmnopqrstuvwxyz"
_tid_lock = threading.Lock()
_tid_last = 0
_tid_clock = uuid.uuid4().int & 0x3FF


def make_tid() -> str:
    """A fresh, strictly increasing atproto TID (13 chars, base32-sortable)."""
    global _tid_last
    with _tid_lock:
        micros = max(time.time_ns() // 1000, _tid_last + 1)
        _tid_last = micros
    value = (micros << 10) | _tid_clock
    return "".join(_B32_SORT[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def raw_cid(data: bytes) -> str:
    """CIDv1, raw codec, sha2-256, base32 — the CID a PDS assigns to an uploaded blob."""
    digest = hashlib.sha256(data).digest()
    cid = bytes([0x01, 0x55, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(cid).decode().lower().rstrip("=")


def blob_ref(data: bytes, mime_type: str) -> Record:
    """A blob ref for ``data`` as a PDS would return it from uploadBlob (for records built offline)."""
    return {"$type": "blob", "ref": {"$link": raw_cid(data)}, "mimeType": mime_type, "size": len(data)}


def text_item(content: str) -> Record:
    return {"$type": f"{RICHTEXT}#textItem", "type": "text", "content": content}


def node_ref_item(uri: str, label: str, subkind: str | None = None) -> Record:
    item: Record = {"$type": f"{RICHTEXT}#nodeRefItem", "type": "nodeRef", "uri": uri, "label": label}
    if subkind:
        item["subkind"] = subkind
    return item


def latex_item(content: str, *, display: bool = False) -> Record:
    return {"$type": f"{RICHTEXT}#latexItem", "type": "latex", "content": content, "displayMode": display}


def mention_item(did: str, handle: str | None = None) -> Record:
    item: Record = {"$type": f"{RICHTEXT}#mentionItem", "type": "mention", "did": did}
    if handle:
        item["handle"] = handle
    return item


# -- pub.chive.eprint.submission ------------------------------------------------------------------

DEFAULT_TITLE = "Incremental Backfill of Federated Scholarly Records over ATProto"
DEFAULT_ABSTRACT = (
    "We study how an AppView can rebuild its index of author-owned scholarly records from the "
    "network: enumerating repositories with com.atproto.sync.listRepos, paging collections with "
    "listRecords, and verifying freshness against each PDS. Cancellation is two-phase and every batch "
    "commits its checkpoint with its records."
)


def author(
    name: str,
    order: int,
    *,
    did: str | None = None,
    orcid: str | None = None,
    affiliation: str | None = "University of Example",
    corresponding: bool = False,
    contribution: str | None = "conceptualization",
) -> Record:
    """One ``pub.chive.eprint.authorContribution`` entry."""
    entry: Record = {"name": name, "order": order}
    if did:
        entry["did"] = did
    if orcid:
        entry["orcid"] = orcid
    if affiliation:
        entry["affiliations"] = [
            {
                "name": affiliation,
                "rorId": "https://ror.org/05example",
                "children": [{"name": "Department of Computer Science"}],
            }
        ]
    if contribution:
        entry["contributions"] = [
            {
                "typeUri": node_uri(stable_uuid(f"contribution-type/{contribution}")),
                "typeSlug": contribution,
                "degreeSlug": "lead" if order == 1 else "supporting",
            }
        ]
    if corresponding:
        entry["isCorrespondingAuthor"] = True
    return entry


def eprint_submission(
    *,
    submitted_by: str,
    document: Record,
    title: str = DEFAULT_TITLE,
    abstract: str = DEFAULT_ABSTRACT,
    authors: Sequence[Record] | None = None,
    keywords: Sequence[str] = ("atproto", "backfill", "scholarly communication"),
    license_slug: str = "CC-BY-4.0",
    field: str | None = "computer-science",
    doi: str | None = None,
    arxiv_id: str | None = "2401.01234",
    version: tuple[int, int, int] = (1, 0, 0),
    created_at: str | None = None,
    **extra: Any,
) -> Record:
    """A ``pub.chive.eprint.submission`` record referencing an uploaded ``document`` blob.

    ``document`` is the blob ref returned by ``com.atproto.repo.uploadBlob`` (or :func:`blob_ref`).
    ``extra`` adds/overrides top-level properties (e.g. ``previousVersion=...``).
    """
    if authors is None:
        authors = [
            author("Ada Lovelace", 1, did=submitted_by, orcid="0000-0002-1825-0097", corresponding=True),
            author("Grace Hopper", 2, affiliation="Example Institute of Technology", contribution="software"),
        ]
    record: Record = {
        "$type": SUBMISSION,
        "title": title,
        "abstract": [
            text_item(abstract),
            node_ref_item(node_uri(stable_uuid("field/computer-science")), "Computer Science", "field"),
        ],
        "abstractPlainText": abstract,
        "document": document,
        "documentFormatSlug": "pdf",
        "authors": list(authors),
        "submittedBy": submitted_by,
        "keywords": list(keywords),
        "licenseSlug": license_slug,
        "licenseUri": node_uri(stable_uuid(f"license/{license_slug}")),
        "publicationStatusSlug": "preprint",
        "paperTypeSlug": "original-research",
        "version": {"major": version[0], "minor": version[1], "patch": version[2]},
        "createdAt": created_at or now_iso(),
        "schemaRevision": 3,
    }
    if field:
        record["fieldUris"] = [node_uri(stable_uuid(f"field/{field}"))]
    external: Record = {}
    if arxiv_id:
        external["arxivId"] = arxiv_id
    if external:
        record["externalIds"] = external
    if doi:
        record["publishedVersion"] = {
            "doi": doi,
            "url": f"https://doi.org/{doi}",
            "journal": "Journal of Decentralised Scholarship",
            "accessType": "gold_oa",
        }
    record.update(extra)
    return record


# -- pub.chive.review.* ---------------------------------------------------------------------------


def review_comment(
    *,
    eprint_uri: str,
    text: str = "The cancellation semantics in section 3 deserve a worked example.",
    parent_comment: str | None = None,
    quote: str | None = None,
    motivation: str = "commenting",
    created_at: str | None = None,
) -> Record:
    """A ``pub.chive.review.comment`` record (rich body; optional thread parent and quoted span)."""
    record: Record = {
        "$type": COMMENT,
        "eprintUri": eprint_uri,
        "body": [text_item(text)],
        "motivationFallback": "replying" if parent_comment else motivation,
        "createdAt": created_at or now_iso(),
        "schemaRevision": 1,
    }
    if parent_comment:
        record["parentComment"] = parent_comment
    if quote:
        record["target"] = {
            "selector": {
                "$type": f"{COMMENT}#textQuoteSelector",
                "type": "TextQuoteSelector",
                "exact": quote,
            },
            "refinedBy": {"type": "TextPositionSelector", "pageNumber": 0, "start": 0, "end": len(quote)},
        }
    return record


ENDORSEMENT_CONTRIBUTIONS = ("methodological", "empirical", "data", "reproducibility")


def review_endorsement(
    *,
    eprint_uri: str,
    contributions: Iterable[str] = ("methodological", "reproducibility"),
    comment: str | None = "Clear methods; I reproduced the main table.",
    created_at: str | None = None,
) -> Record:
    """A ``pub.chive.review.endorsement`` record."""
    contribs = list(dict.fromkeys(contributions))  # no duplicates, order kept
    if not contribs:
        raise ValueError("an endorsement needs at least one contribution")
    record: Record = {
        "$type": ENDORSEMENT,
        "eprintUri": eprint_uri,
        "contributions": contribs,
        "createdAt": created_at or now_iso(),
        "schemaRevision": 1,
    }
    if comment is not None:
        record["comment"] = comment
    return record


# -- pub.chive.actor.profile, pub.chive.eprint.userTag ---------------------------------------------------------


def actor_profile(*, display_name: str | None = "Ada Researcher", bio: str | None = "Computing pioneer.") -> Record:
    """A ``pub.chive.actor.profile`` record (record key ``self``)."""
    record: Record = {"$type": PROFILE, "schemaRevision": 1}
    if display_name is not None:
        record["displayName"] = display_name
    if bio is not None:
        record["bio"] = bio
    return record


def user_tag(*, eprint_uri: str, tag: str = "distributed-systems", created_at: str | None = None) -> Record:
    """A ``pub.chive.eprint.userTag`` record: a reader's tag on an eprint."""
    return {"$type": USER_TAG, "eprintUri": eprint_uri, "tag": tag, "createdAt": created_at or now_iso()}


# -- pub.chive.graph.* ----------------------------------------------------------------------------


def graph_node(
    *,
    label: str,
    node_id: str | None = None,
    kind: str = "type",
    subkind: str = "field",
    status: str = "established",
    slug: str | None = None,
    description: str | None = None,
    wikidata: str | None = None,
    created_by: str | None = GOVERNANCE_DID,
    created_at: str | None = None,
) -> Record:
    """A ``pub.chive.graph.node`` record. Its ``id`` is a UUID and is also the rkey to write it under."""
    node_id = node_id or str(uuid.uuid4())
    slug = slug or "-".join(label.lower().split())[:100]
    record: Record = {
        "$type": GRAPH_NODE,
        "id": node_id,
        "slug": slug,
        "kind": kind,
        "subkind": subkind,
        "subkindUri": node_uri(stable_uuid(f"subkind/{subkind}")),
        "label": label,
        "alternateLabels": [label.upper()] if len(label) < 40 else [],
        "status": status,
        "createdAt": created_at or now_iso(),
        "schemaRevision": 1,
    }
    if description:
        record["description"] = description
    if wikidata:
        record["externalIds"] = [
            {
                "system": "wikidata",
                "identifier": wikidata,
                "uri": f"https://www.wikidata.org/wiki/{wikidata}",
                "matchType": "exact",
            }
        ]
    if created_by:
        record["createdBy"] = created_by
    return record


def graph_edge(
    *,
    source_uri: str,
    target_uri: str,
    relation_slug: str = "broader",
    edge_id: str | None = None,
    status: str = "established",
    weight: int | None = 1000,
    created_by: str | None = GOVERNANCE_DID,
    created_at: str | None = None,
) -> Record:
    """A ``pub.chive.graph.edge`` record. Its ``id`` (a UUID) is also the rkey to write it under."""
    record: Record = {
        "$type": GRAPH_EDGE,
        "id": edge_id or str(uuid.uuid4()),
        "sourceUri": source_uri,
        "targetUri": target_uri,
        "relationUri": node_uri(stable_uuid(f"relation/{relation_slug}")),
        "relationSlug": relation_slug,
        "status": status,
        "createdAt": created_at or now_iso(),
        "schemaRevision": 1,
    }
    if weight is not None:
        record["weight"] = weight
    if created_by:
        record["createdBy"] = created_by
    return record


# -- a real PDF -----------------------------------------------------------------------------------

DEFAULT_PDF_LINES = (
    DEFAULT_TITLE,
    "Ada Lovelace, Grace Hopper",
    "",
    "Abstract. We rebuild an AppView index from author-owned repositories.",
    "",
    "References",
    "[1] M. Kleppmann et al. Bluesky and the AT Protocol. doi:10.1145/3694809.3700740",
    "[2] A. Author. Merkle search trees. arXiv:2401.01234",
    "[3] https://doi.org/10.5555/chive.test.0001",
)


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def minimal_pdf(lines: Sequence[str] = DEFAULT_PDF_LINES, *, title: str | None = None) -> bytes:
    """A small, valid one-page PDF 1.4 (Helvetica text, correct xref table) with ``lines`` as text.

    Text is written with WinAnsi-safe characters only (non-Latin-1 characters are replaced by ``?``).
    """
    safe = [line.encode("latin-1", "replace").decode("latin-1") for line in lines]
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
    for line in safe:
        ops.append(f"({_pdf_escape(line)}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    info_title = _pdf_escape(title or (safe[0] if safe else "Untitled"))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        f"<< /Title ({info_title}) /Producer (chive-admin interop tests) >>".encode("latin-1", "replace"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\n" % (len(objects) + 1, len(objects))
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


_counter = itertools.count(1)


def unique_suffix() -> str:
    """A short unique string for test data (uuid-based, plus a process-local counter)."""
    return f"{uuid.uuid4().hex[:8]}{next(_counter)}"
