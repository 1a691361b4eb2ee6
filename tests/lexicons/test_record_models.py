"""The generated record models accept records shaped like those Chive's frontend writes, and refuse broken ones.

One realistic record per ``pub.chive.*`` record type (every type in ``catalog.RECORDS``), then for each: a
required field removed, a datetime that is not RFC 3339, a value of the wrong JSON type, a string one UTF-8 byte
over its ``maxLength`` (written with four-byte characters, so a count of characters would let it pass).

Collections are named through ``chive_admin._generated.ids`` only, so a renamed lexicon fails here loudly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from chive_admin._generated import catalog, ids

Path = tuple[str | int, ...]

AUTHOR = "did:plc:mgcfy7hmflw4zuvc27caz2wn"
COAUTHOR = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
GOVERNANCE = "did:plc:5wzpn4a4nbqtz3q45hyud6hd"
CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
CREATED = "2026-01-18T16:00:08.522Z"


def uri(did: str, collection: str, rkey: str) -> str:
    return f"at://{did}/{collection}/{rkey}"


def ref(nsid: str, name: str) -> str:
    return f"{nsid}#{name}"


def blob(
    mime: str, size: int, link: str = "bafkreievbtbf332f2fft2sauj5q6ilrtaoj67lrrg6wxf6rnjzei2u7zke"
) -> dict[str, Any]:
    return {"$type": "blob", "ref": {"$link": link}, "mimeType": mime, "size": size}


EPRINT = uri(AUTHOR, ids.PUB_CHIVE_EPRINT_SUBMISSION, "3lgg7abc123ab")
EPRINT_V2 = uri(AUTHOR, ids.PUB_CHIVE_EPRINT_SUBMISSION, "3lhh2xyz987cd")
FIELD_NODE = uri(GOVERNANCE, ids.PUB_CHIVE_GRAPH_NODE, "6fe7359e-8b24-5fce-8bd4-0225a10c899e")
TOPIC_NODE = uri(GOVERNANCE, ids.PUB_CHIVE_GRAPH_NODE, "d69ec744-15b1-5316-b310-65512e43c405")
CREDIT_NODE = uri(GOVERNANCE, ids.PUB_CHIVE_GRAPH_NODE, "e1612645-6a62-59b7-a13a-8d618637be85")
RT = ids.PUB_CHIVE_RICHTEXT_DEFS


def text_item(content: str, **extra: Any) -> dict[str, Any]:
    return {"$type": ref(RT, "textItem"), "type": "text", "content": content, **extra}


ABSTRACT = [
    text_item(
        "We introduce probabilistic dynamic semantics, a foundation for models of ",
        facets=[
            {
                "index": {"byteStart": 16, "byteEnd": 33},
                "features": [{"$type": ref(ids.PUB_CHIVE_RICHTEXT_FACETS, "italic")}],
            }
        ],
    ),
    {"$type": ref(RT, "nodeRefItem"), "type": "nodeRef", "uri": TOPIC_NODE, "label": "pragmatics", "subkind": "topic"},
    text_item(", where a listener's belief "),
    {"$type": ref(RT, "latexItem"), "type": "latex", "content": "P(w \\mid u)", "displayMode": False},
    text_item(" is updated by each utterance."),
]

SELECTION = {
    "$type": ref(ids.PUB_CHIVE_REVIEW_COMMENT, "textQuoteSelector"),
    "type": "TextQuoteSelector",
    "exact": "combines dynamic semantics with probability theory",
    "prefix": "PDS ",
    "suffix": " to model",
}


def bounding_rect(page: int) -> dict[str, Any]:
    return {
        "x1": "72.5",
        "y1": "310.25",
        "x2": "540.0",
        "y2": "324.75",
        "width": "612",
        "height": "792",
        "pageNumber": page,
    }


def entity_link(collection: str) -> dict[str, Any]:
    return {
        "$type": collection,
        "eprintUri": EPRINT,
        "target": {
            "source": EPRINT,
            "selector": {"type": "TextQuoteSelector", "exact": "Bayesian inference", "prefix": "via ", "suffix": "."},
            "refinedBy": {"type": "TextPositionSelector", "start": 1042, "end": 1060, "pageNumber": 2},
        },
        "linkedEntity": {
            "$type": ref(collection, "graphNodeLink"),
            "type": "graphNode",
            "uri": TOPIC_NODE,
            "label": "Bayesian inference",
            "kind": "object",
            "subkind": "topic",
        },
        "confidence": 870,
        "createdAt": CREATED,
    }


@dataclass(frozen=True)
class Case:
    nsid: str
    record: dict[str, Any]
    required: Path | None  # a required field to remove, when the record type has one
    too_long: tuple[Path, int] | None  # a string field and its maxLength in UTF-8 bytes, when there is one
    wrong_type: tuple[Path, Any]  # a field and a value of the wrong JSON type
    datetime: Path | None  # a datetime field, when the record has one


CASES: tuple[Case, ...] = (
    Case(
        ids.PUB_CHIVE_EPRINT_SUBMISSION,
        {
            "$type": ids.PUB_CHIVE_EPRINT_SUBMISSION,
            "title": "Probabilistic dynamic semantics",
            "titleRich": [text_item("Probabilistic dynamic semantics")],
            "abstract": ABSTRACT,
            "abstractPlainText": "We introduce probabilistic dynamic semantics, a foundation for models of pragmatics.",
            "document": blob("application/pdf", 793088),
            "documentFormatSlug": "pdf",
            "supplementaryMaterials": [
                {
                    "blob": blob("text/csv", 25000, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
                    "label": "Experimental data",
                    "categorySlug": "dataset",
                    "order": 1,
                }
            ],
            "authors": [
                {
                    "did": AUTHOR,
                    "name": "Julian Grove",
                    "order": 1,
                    "orcid": "0000-0002-1825-0097",
                    "affiliations": [
                        {
                            "name": "University of Florida",
                            "rorId": "https://ror.org/02y3ad647",
                            "children": [{"name": "Department of Linguistics"}],
                        }
                    ],
                    "contributions": [
                        {"typeUri": CREDIT_NODE, "typeSlug": "conceptualization", "degreeSlug": "lead"},
                    ],
                    "isCorrespondingAuthor": True,
                },
                {"name": "Aaron Steven White", "order": 2, "email": "aaron.white@example.edu"},
            ],
            "submittedBy": AUTHOR,
            "keywords": ["dynamic semantics", "pragmatics", "Bayesian inference"],
            "fieldUris": [FIELD_NODE],
            "version": {"major": 1, "minor": 0, "patch": 0},
            "licenseSlug": "CC-BY-4.0",
            "publicationStatusSlug": "preprint",
            "paperTypeSlug": "original-research",
            "relatedWorks": [{"identifier": "2401.01234", "identifierType": "arxiv", "relationType": "hasVersion"}],
            "externalIds": {"arxivId": "2401.01234"},
            "repositories": {"code": [{"url": "https://github.com/example/pds", "platformSlug": "github"}]},
            "funding": [{"funderName": "National Science Foundation", "grantNumber": "BCS-2023456"}],
            "createdAt": CREATED,
            "schemaRevision": 3,
        },
        required=("document",),
        too_long=(("title",), 500),
        wrong_type=(("authors",), "Julian Grove"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_EPRINT_VERSION,
        {
            "$type": ids.PUB_CHIVE_EPRINT_VERSION,
            "eprintUri": EPRINT_V2,
            "versionNumber": 2,
            "previousVersionUri": EPRINT,
            "changes": "Added a replication of experiment 2 and fixed the priors in table 3.",
            "createdAt": CREATED,
        },
        required=("changes",),
        too_long=(("changes",), 2000),
        wrong_type=(("versionNumber",), [2]),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_EPRINT_USER_TAG,
        {
            "$type": ids.PUB_CHIVE_EPRINT_USER_TAG,
            "eprintUri": EPRINT,
            "tag": "bayesian pragmatics",
            "nodeUri": TOPIC_NODE,
            "nodeSlug": "pragmatics",
            "nodeSubkind": "topic",
            "createdAt": CREATED,
        },
        required=("tag",),
        too_long=(("tag",), 100),
        wrong_type=(("tag",), 42),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_EPRINT_CITATION,
        {
            "$type": ids.PUB_CHIVE_EPRINT_CITATION,
            "eprintUri": EPRINT,
            "citedWork": {
                "title": "Meaning and Communication",
                "doi": "10.1093/oso/9780198823131.001.0001",
                "authors": ["Noah D. Goodman", "Michael C. Frank"],
                "year": 2016,
                "venue": "Trends in Cognitive Sciences",
            },
            "citationType": "extends",
            "context": "Our update rule generalises their rational speech act model.",
            "createdAt": CREATED,
        },
        required=("citedWork", "title"),
        too_long=(("citedWork", "title"), 1000),
        wrong_type=(("citedWork", "year"), "twenty sixteen"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_EPRINT_RELATED_WORK,
        {
            "$type": ids.PUB_CHIVE_EPRINT_RELATED_WORK,
            "eprintUri": EPRINT_V2,
            "relatedUri": EPRINT,
            "relationType": "extends",
            "description": "Extends the model to multi-party dialogue.",
            "createdAt": CREATED,
        },
        required=("relatedUri",),
        too_long=(("description",), 500),
        wrong_type=(("relationType",), {"slug": "extends"}),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_EPRINT_CHANGELOG,
        {
            "$type": ids.PUB_CHIVE_EPRINT_CHANGELOG,
            "eprintUri": EPRINT,
            "version": {"major": 1, "minor": 1, "patch": 0},
            "previousVersion": {"major": 1, "minor": 0, "patch": 0},
            "summary": "New replication study; corrected priors.",
            "sections": [
                {
                    "category": "results",
                    "items": [{"description": "Added experiment 2b.", "changeType": "added", "location": "Section 4"}],
                },
                {"category": "corrections", "items": [{"description": "Fixed priors.", "changeType": "fixed"}]},
            ],
            "createdAt": CREATED,
        },
        required=("sections",),
        too_long=(("summary",), 500),
        wrong_type=(("version", "minor"), "one"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_REVIEW_COMMENT,
        {
            "$type": ids.PUB_CHIVE_REVIEW_COMMENT,
            "eprintUri": EPRINT,
            "body": [
                text_item("How sensitive are the results to the choice of prior? See "),
                {"$type": ref(RT, "eprintRefItem"), "type": "eprintRef", "uri": EPRINT_V2, "label": "v2"},
            ],
            "target": {
                "versionUri": EPRINT,
                "selector": SELECTION,
                "refinedBy": {
                    "type": "TextPositionSelector",
                    "pageNumber": 2,
                    "start": 1042,
                    "end": 1093,
                    "boundingRect": bounding_rect(3),
                },
            },
            "motivationFallback": "questioning",
            "createdAt": CREATED,
        },
        required=("body",),
        too_long=(("target", "selector", "exact"), 1000),
        wrong_type=(("body",), "How sensitive are the results?"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_REVIEW_ENDORSEMENT,
        {
            "$type": ids.PUB_CHIVE_REVIEW_ENDORSEMENT,
            "eprintUri": EPRINT,
            "contributions": ["methodological", "empirical"],
            "comment": "Careful experiments and an open analysis pipeline.",
            "createdAt": CREATED,
        },
        required=("contributions",),
        too_long=(("comment",), 5000),
        wrong_type=(("contributions",), "methodological"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_REVIEW_ENTITY_LINK,
        entity_link(ids.PUB_CHIVE_REVIEW_ENTITY_LINK),
        required=("linkedEntity",),
        too_long=(("target", "selector", "prefix"), 32),
        wrong_type=(("confidence",), "high"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_ANNOTATION_COMMENT,
        {
            "$type": ids.PUB_CHIVE_ANNOTATION_COMMENT,
            "eprintUri": EPRINT,
            "body": [text_item("This is the key assumption of the paper.")],
            "target": {
                "selector": {
                    "$type": ref(ids.PUB_CHIVE_ANNOTATION_COMMENT, "fragmentSelector"),
                    "type": "FragmentSelector",
                    "value": "page=3",
                    "conformsTo": "http://tools.ietf.org/rfc/rfc3778",
                },
            },
            "motivationFallback": "highlighting",
            "createdAt": CREATED,
        },
        required=("target",),
        too_long=(("target", "selector", "value"), 200),
        wrong_type=(("target", "selector"), "page=3"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_ANNOTATION_ENTITY_LINK,
        {
            **entity_link(ids.PUB_CHIVE_ANNOTATION_ENTITY_LINK),
            "target": {
                "source": EPRINT,
                "selector": {"type": "TextQuoteSelector", "exact": "Bayesian inference"},
                "refinedBy": {
                    "type": "TextPositionSelector",
                    "start": 1042,
                    "end": 1060,
                    "pageNumber": 2,
                    "boundingRect": bounding_rect(3),
                },
            },
        },
        required=("target",),
        too_long=(("target", "selector", "suffix"), 32),
        wrong_type=(("target", "refinedBy", "boundingRect", "x1"), 72.5),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_GRAPH_NODE,
        {
            "$type": ids.PUB_CHIVE_GRAPH_NODE,
            "id": "6fe7359e-8b24-5fce-8bd4-0225a10c899e",
            "slug": "linguistics",
            "kind": "object",
            "subkind": "field",
            "label": "Linguistics",
            "alternateLabels": ["Linguistic science", "Sprachwissenschaft"],
            "description": "The scientific study of human language.",
            "externalIds": [
                {
                    "system": "wikidata",
                    "identifier": "Q8162",
                    "uri": "https://www.wikidata.org/wiki/Q8162",
                    "matchType": "exact",
                }
            ],
            "status": "established",
            "createdAt": CREATED,
            "createdBy": GOVERNANCE,
        },
        required=("label",),
        too_long=(("label",), 500),
        wrong_type=(("externalIds",), {"system": "wikidata"}),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_GRAPH_EDGE,
        {
            "$type": ids.PUB_CHIVE_GRAPH_EDGE,
            "id": "0b8f6a52-41c4-5d2e-9a8c-3f2e1d0c9b7a",
            "sourceUri": TOPIC_NODE,
            "targetUri": FIELD_NODE,
            "relationSlug": "broader",
            "weight": 1000,
            "status": "established",
            "createdAt": CREATED,
            "createdBy": GOVERNANCE,
        },
        required=("relationSlug",),
        too_long=(("relationSlug",), 50),
        wrong_type=(("weight",), "heavy"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_GRAPH_NODE_PROPOSAL,
        {
            "$type": ids.PUB_CHIVE_GRAPH_NODE_PROPOSAL,
            "proposalType": "create",
            "kind": "object",
            "subkind": "field",
            "proposedNode": {
                "label": "Computational pragmatics",
                "description": "Formal and computational models of language use in context.",
                "externalIds": [{"system": "wikidata", "identifier": "Q5157488"}],
            },
            "rationale": "Many submissions sit between pragmatics and computational linguistics.",
            "evidence": [{"type": "wikidata", "uri": "https://www.wikidata.org/wiki/Q5157488"}],
            "createdAt": CREATED,
        },
        required=("rationale",),
        too_long=(("rationale",), 2000),
        wrong_type=(("evidence",), "wikidata"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_GRAPH_EDGE_PROPOSAL,
        {
            "$type": ids.PUB_CHIVE_GRAPH_EDGE_PROPOSAL,
            "proposalType": "create",
            "proposedEdge": {"sourceUri": TOPIC_NODE, "targetUri": FIELD_NODE, "relationSlug": "related"},
            "rationale": "Pragmatics papers are routinely filed under linguistics.",
            "createdAt": CREATED,
        },
        required=("proposalType",),
        too_long=(("proposedEdge", "relationSlug"), 50),
        wrong_type=(("proposedEdge", "weight"), "strong"),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_GRAPH_VOTE,
        {
            "$type": ids.PUB_CHIVE_GRAPH_VOTE,
            "proposalUri": uri(COAUTHOR, ids.PUB_CHIVE_GRAPH_NODE_PROPOSAL, "3lkk5prop0001"),
            "vote": "approve",
            "comment": "Agreed; this keeps the field list tidy.",
            "createdAt": CREATED,
        },
        required=("vote",),
        too_long=(("comment",), 500),
        wrong_type=(("vote",), True),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_GRAPH_RECONCILIATION,
        {
            "$type": ids.PUB_CHIVE_GRAPH_RECONCILIATION,
            "sourceUri": FIELD_NODE,
            "targetSystem": "wikidata",
            "targetId": "Q8162",
            "confidence": 950,
            "matchType": "exact",
            "status": "verified",
            "verifiedBy": COAUTHOR,
            "createdAt": CREATED,
            "updatedAt": "2026-01-19T09:12:00Z",
        },
        required=("confidence",),
        too_long=(("notes",), 1000),
        wrong_type=(("confidence",), "0.95"),
        datetime=("updatedAt",),
    ),
    Case(
        ids.PUB_CHIVE_ACTOR_PROFILE,
        {
            "$type": ids.PUB_CHIVE_ACTOR_PROFILE,
            "displayName": "Julian Grove",
            "bio": "Computational semanticist working on probabilistic models of meaning.",
            "avatar": blob("image/png", 48213, "bafkreiaxnnnb7qz2focittuqq3ya25q7rcv3bqzdfn3qijp3bwrg3vhkku"),
            "orcid": "0000-0002-1825-0097",
            "affiliations": [{"name": "University of Florida", "rorId": "https://ror.org/02y3ad647"}],
            "fieldUris": [FIELD_NODE],
            "nameVariants": ["J. Grove", "Julian D. Grove"],
            "researchKeywords": [{"topicUri": TOPIC_NODE, "label": "pragmatics"}, {"label": "type theory"}],
            "openAlexId": "A5023888391",
        },
        required=("researchKeywords", 1, "label"),
        too_long=(("displayName",), 200),
        wrong_type=(("nameVariants",), "J. Grove"),
        datetime=None,
    ),
    Case(
        ids.PUB_CHIVE_ACTOR_MUTE,
        {"$type": ids.PUB_CHIVE_ACTOR_MUTE, "subjectDid": COAUTHOR, "createdAt": CREATED},
        required=("subjectDid",),
        too_long=None,
        wrong_type=(("subjectDid",), 12345),
        datetime=("createdAt",),
    ),
    Case(
        ids.PUB_CHIVE_DISCOVERY_SETTINGS,
        {
            "$type": ids.PUB_CHIVE_DISCOVERY_SETTINGS,
            "enablePersonalization": True,
            "relatedPapersSignals": {"semantic": True, "citations": True, "coCitation": True},
            "relatedPapersWeights": {"semantic": 40, "coCitation": 30, "conceptOverlap": 20, "authorNetwork": 10},
            "relatedPapersThresholds": {"minScore": 10, "maxResults": 20},
            "trendingPreferences": {"defaultWindow": "30d", "defaultLimit": 25},
            "citationNetworkDisplay": "expanded",
            "recommendationDiversity": "high",
            "followedFieldUris": [FIELD_NODE],
        },
        required=None,
        too_long=None,
        wrong_type=(("followedFieldUris",), FIELD_NODE),
        datetime=None,
    ),
    Case(
        ids.PUB_CHIVE_COLLABORATION_INVITE,
        {
            "$type": ids.PUB_CHIVE_COLLABORATION_INVITE,
            "subject": {"uri": EPRINT, "cid": CID},
            "invitee": COAUTHOR,
            "role": "co-author",
            "message": "Would you join the revision?",
            "createdAt": CREATED,
            "expiresAt": "2026-02-18T16:00:08.522Z",
        },
        required=("invitee",),
        too_long=(("message",), 500),
        wrong_type=(("subject",), EPRINT),
        datetime=("expiresAt",),
    ),
    Case(
        ids.PUB_CHIVE_COLLABORATION_INVITE_ACCEPTANCE,
        {
            "$type": ids.PUB_CHIVE_COLLABORATION_INVITE_ACCEPTANCE,
            "invite": {"uri": uri(AUTHOR, ids.PUB_CHIVE_COLLABORATION_INVITE, "3lmm4inv00001"), "cid": CID},
            "subject": {"uri": EPRINT, "cid": CID},
            "createdAt": CREATED,
        },
        required=("invite",),
        too_long=None,
        wrong_type=(("invite", "cid"), 7),
        datetime=("createdAt",),
    ),
)

BY_NSID = {case.nsid: case for case in CASES}


def each_case(where: Callable[[Case], bool] = lambda case: True) -> pytest.MarkDecorator:
    """Parametrise over the record types for which ``where`` holds: a check that does not apply to a type is not
    generated for it (rather than generated and skipped)."""
    chosen = [case for case in CASES if where(case)]
    assert chosen, "no record type to check"
    return pytest.mark.parametrize("case", chosen, ids=[case.nsid for case in chosen])


ALL = each_case()


def changed(record: dict[str, Any], path: Path, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    out = copy.deepcopy(record)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def refused(nsid: str, record: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        catalog.RECORDS[nsid].model_validate(record)
    return info.value


def locations(error: ValidationError) -> list[tuple[str | int, ...]]:
    return [tuple(e["loc"]) for e in error.errors()]


def names(path: Path) -> list[str]:
    return [p for p in path if isinstance(p, str)]


def test_every_record_type_has_a_case() -> None:
    assert set(BY_NSID) == set(catalog.RECORDS)
    assert len(CASES) == len(BY_NSID)


@ALL
def test_valid_record_is_accepted(case: Case) -> None:
    model = catalog.RECORDS[case.nsid].model_validate(case.record)
    wire = model.to_wire()
    assert wire["$type"] == case.nsid
    # what we would re-serve validates again to the same value
    assert catalog.RECORDS[case.nsid].model_validate(wire) == model


@ALL
def test_missing_required_field_is_refused(case: Case) -> None:
    if case.required is None:
        # nothing is required anywhere in this record type: an empty record is valid
        catalog.RECORDS[case.nsid].model_validate({"$type": case.nsid})
        return
    error = refused(case.nsid, changed(case.record, case.required, delete=True))
    field = names(case.required)[-1]
    assert any(field in loc for loc in locations(error)), error


@each_case(lambda case: case.datetime is not None)
def test_bad_datetime_is_refused(case: Case) -> None:
    assert case.datetime is not None
    for bad in ("2026-01-18T16:00:08", "2026-01-18 16:00:08Z", "yesterday", "18/01/2026"):
        error = refused(case.nsid, changed(case.record, case.datetime, bad))
        assert any(names(case.datetime)[-1] in loc for loc in locations(error)), (bad, error)


@ALL
def test_wrong_type_is_refused(case: Case) -> None:
    path, value = case.wrong_type
    error = refused(case.nsid, changed(case.record, path, value))
    assert any(names(path)[-1] in loc for loc in locations(error)), error


@each_case(lambda case: case.too_long is not None)
def test_string_over_max_bytes_is_refused(case: Case) -> None:
    assert case.too_long is not None
    path, max_bytes = case.too_long
    # '𝛼' (U+1D6FC) is one character but four UTF-8 bytes: counted in characters (or in graphemes, which
    # invite.message also limits), these strings are well within the limit
    at_limit = "𝛼" * (max_bytes // 4) + "a" * (max_bytes % 4)
    over = at_limit + "a"
    assert len(over) <= max_bytes < len(over.encode())
    catalog.RECORDS[case.nsid].model_validate(changed(case.record, path, at_limit))
    error = refused(case.nsid, changed(case.record, path, over))
    assert any(names(path)[-1] in loc for loc in locations(error)), error
    assert any("UTF-8" in e["msg"] for e in error.errors()), error


@ALL
def test_another_collections_type_is_refused(case: Case) -> None:
    other = next(nsid for nsid in catalog.RECORDS if nsid != case.nsid)
    error = refused(case.nsid, {**case.record, "$type": other})
    assert ("$type",) in locations(error), error


def test_union_member_of_unknown_type_is_kept_and_known_member_is_checked() -> None:
    """Rich text is an open union: a facet type this lexicon set does not know (Bluesky's link facet, which
    Chive writes) is kept as is; a known member is still checked against its def."""
    submission = catalog.RECORDS[ids.PUB_CHIVE_EPRINT_SUBMISSION]
    link = {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/data"}
    item = text_item("data at example.org", facets=[{"index": {"byteStart": 8, "byteEnd": 19}, "features": [link]}])
    record = {**BY_NSID[ids.PUB_CHIVE_EPRINT_SUBMISSION].record, "abstract": [item]}
    wire = submission.model_validate(record).to_wire()
    assert wire["abstract"][0]["facets"][0]["features"] == [link]
    broken = {**record, "abstract": [{"$type": ref(RT, "latexItem"), "type": "latex"}]}  # no content
    assert any("content" in loc for loc in locations(refused(ids.PUB_CHIVE_EPRINT_SUBMISSION, broken)))
