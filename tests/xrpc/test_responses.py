"""Answers on the wire: compact UTF-8 JSON, wire names, absent optionals left out, an error's headers kept."""

from __future__ import annotations

import json

from chive_admin._generated.models.pub.chive.admin import list_pdses
from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import JSON, error_response, json_response, model_response


def test_an_error_is_its_body_status_and_headers() -> None:
    response = error_response(XRPCError.authentication_required())
    assert response.status_code == 401
    assert response.headers["content-type"] == JSON
    assert response.headers["www-authenticate"] == 'Bearer realm="chive-admin"'
    assert response.body == b'{"error":"AuthenticationRequired","message":"Authentication required"}'


def test_an_error_message_keeps_its_text_as_utf8() -> None:
    response = error_response(XRPCError.invalid_request("No operation has id 'é\u202e'"))
    assert "é\u202e".encode() in bytes(response.body)
    assert json.loads(response.body)["message"] == "No operation has id 'é\u202e'"


def test_a_model_goes_out_by_wire_names_without_absent_optionals() -> None:
    info = list_pdses.PdsInfo(url="https://pds.example", status="healthy", record_count=3)
    response = model_response(list_pdses.Output(stats=list_pdses.PdsStats(total=1, items=[info])))
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    assert json.loads(response.body) == {
        "stats": {"total": 1, "items": [{"url": "https://pds.example", "status": "healthy", "recordCount": 3}]}
    }


def test_plain_json_with_a_status() -> None:
    response = json_response({"version": "1"}, status=202)
    assert (response.status_code, bytes(response.body)) == (202, b'{"version":"1"}')
