"""A scripted PLC directory and PDS on one loopback server, hosting ``support.cars.DID``: its DID document names the
server as its PDS and its key as the signing key; getRepo gives the answers a test queues, in order (then 404)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request

from chive_admin._generated import ids
from support.cars import DID, KEY
from support.scripted import Answer, Script, scripted_server

CAR = "application/vnd.ipld.car"


def document(pds: str) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": DID,
        "alsoKnownAs": ["at://car.example.test"],
        "verificationMethod": [
            {"id": f"{DID}#atproto", "type": "Multikey", "controller": DID, "publicKeyMultibase": KEY.multikey}
        ],
        "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": pds}],
    }


@contextmanager
def car_host() -> Iterator[tuple[str, Script, deque[Answer]]]:
    """(its URL, as PLC directory and PDS; its script; the getRepo answers to give)."""
    answers: deque[Answer] = deque()
    with scripted_server() as (url, script):

        def answer(request: Request) -> Answer:
            if request.url.path == f"/{DID}":
                return Answer(200, json.dumps(document(url)).encode())
            if request.url.path == f"/xrpc/{ids.COM_ATPROTO_SYNC_GET_REPO}" and answers:
                return answers.popleft()
            return Answer(404, b'{"error":"NotFound"}')

        script.default = answer
        yield url, script, answers
