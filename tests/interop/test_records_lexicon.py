"""The record builders produce records that Chive's lexicons accept (checked by @atproto/lexicon)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.unavailable import unavailable

from testnet import records
from testnet.harness import lexicon_sources, validate_records

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"

# Validate against every lexicon tree that has Chive's record lexicons: the reference (when present)
# and the project's own lexicons/ (once it carries them).
SOURCES = lexicon_sources()
lexicon_source = pytest.mark.parametrize(
    "lexicon_dir",
    [pytest.param(path, id=name) for name, path in SOURCES.items()] or [pytest.param(None, id="none")],
)


def _need(lexicon_dir: Path | None) -> Path:
    if lexicon_dir is None:
        unavailable("no lexicon tree with pub.chive record lexicons (reference or project lexicons/)")
    return lexicon_dir


def _samples() -> list[tuple[str, dict]]:
    pdf = records.minimal_pdf()
    document = records.blob_ref(pdf, "application/pdf")
    eprint = records.at_uri(DID, records.SUBMISSION, records.make_tid())
    comment_uri = records.at_uri(DID, records.COMMENT, records.make_tid())
    a = records.graph_node(label="Computer Science", wikidata="Q21198", description="The study of computation")
    b = records.graph_node(label="Distributed Computing", kind="object", subkind="topic", status="proposed")
    return [
        (records.SUBMISSION, records.eprint_submission(submitted_by=DID, document=document)),
        (
            records.SUBMISSION,
            records.eprint_submission(
                submitted_by=DID,
                document=document,
                doi="10.5555/chive.test.0001",
                arxiv_id=None,
                field=None,
                version=(2, 1, 0),
                previousVersion=eprint,
            ),
        ),
        (records.COMMENT, records.review_comment(eprint_uri=eprint)),
        (records.COMMENT, records.review_comment(eprint_uri=eprint, parent_comment=comment_uri, quote="two-phase")),
        (records.ENDORSEMENT, records.review_endorsement(eprint_uri=eprint)),
        (records.ENDORSEMENT, records.review_endorsement(eprint_uri=eprint, contributions=["data"], comment=None)),
        (records.PROFILE, records.actor_profile()),
        (records.PROFILE, records.actor_profile(bio=None)),
        (records.USER_TAG, records.user_tag(eprint_uri=eprint)),
        (records.GRAPH_NODE, a),
        (records.GRAPH_NODE, b),
        (
            records.GRAPH_EDGE,
            records.graph_edge(source_uri=records.node_uri(b["id"]), target_uri=records.node_uri(a["id"])),
        ),
    ]


@pytest.mark.interop
@lexicon_source
def test_builders_validate_against_chive_lexicons(testnet_install_dir: Path, lexicon_dir: Path | None) -> None:
    root = _need(lexicon_dir)
    samples = _samples()
    errors = validate_records(testnet_install_dir, samples, lexicon_dir=root)
    assert errors == [None] * len(samples), list(zip([c for c, _ in samples], errors, strict=True))


@pytest.mark.interop
@lexicon_source
def test_validator_rejects_bad_records(testnet_install_dir: Path, lexicon_dir: Path | None) -> None:
    """Negative control: the validator really checks (so the test above means something)."""
    root = _need(lexicon_dir)
    good = records.review_endorsement(eprint_uri=records.at_uri(DID, records.SUBMISSION, records.make_tid()))
    bad = [
        (records.ENDORSEMENT, {**good, "eprintUri": "not-an-at-uri"}),
        (records.ENDORSEMENT, {**good, "contributions": []}),
        (records.ENDORSEMENT, {k: v for k, v in good.items() if k != "createdAt"}),
        (records.GRAPH_EDGE, {**records.graph_edge(source_uri="at://x", target_uri="at://y"), "weight": 5000}),
        (
            records.SUBMISSION,
            {
                k: v
                for k, v in records.eprint_submission(
                    submitted_by=DID, document=records.blob_ref(b"x", "application/pdf")
                ).items()
                if k != "document"
            },
        ),
    ]
    errors = validate_records(testnet_install_dir, bad, lexicon_dir=root)
    assert all(errors), errors


def test_minimal_pdf_is_well_formed() -> None:
    pdf = records.minimal_pdf()
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")
    startxref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[startxref:].startswith(b"xref\n0 7\n")
    entries = pdf[startxref:].split(b"\n")[3:9]
    for number, entry in enumerate(entries, start=1):
        offset = int(entry[:10])
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number)
    length = int(re.search(rb"/Length (\d+)", pdf).group(1))
    stream = pdf.split(b"stream\n", 1)[1]
    assert stream[length:].startswith(b"\nendstream")
    assert b"10.5555/chive.test.0001" in pdf
    assert b"arXiv:2401.01234" in pdf


def test_tids_and_cids() -> None:
    tids = [records.make_tid() for _ in range(1000)]
    assert tids == sorted(tids)
    assert len(set(tids)) == 1000
    assert all(re.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", t) for t in tids)
    # CID of "hello world" (raw codec, sha2-256), as any IPFS/atproto tool computes it.
    assert records.raw_cid(b"hello world") == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
