"""``/.well-known/did.json``: a did:web service publishes its DID document naming its XRPC endpoint; any other DID
method publishes nothing here."""

from __future__ import annotations

from conftest import AppFactory
from support.admin_api import refusal, serving

from chive_admin.server.well_known import SERVICE_ID, SERVICE_TYPE
from chive_admin.settings import Settings


async def test_a_did_web_service_publishes_its_document(make_app: AppFactory, settings: Settings) -> None:
    async with serving(make_app()) as api:
        response = await api.client.get("/.well-known/did.json")
    assert response.status_code == 200
    assert settings.service_did.startswith("did:web:")
    assert response.json() == {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": settings.service_did,
        "service": [{"id": SERVICE_ID, "type": SERVICE_TYPE, "serviceEndpoint": settings.public_url}],
    }


async def test_a_named_service_did_is_the_documents_id(make_app: AppFactory) -> None:
    async with serving(make_app(service_did="did:web:admin.example.com")) as api:
        document = (await api.client.get("/.well-known/did.json")).json()
    assert document["id"] == "did:web:admin.example.com"


async def test_a_did_plc_service_has_no_document_here(make_app: AppFactory) -> None:
    async with serving(make_app(service_did="did:plc:abcdefghijklmnopqrstuvwx")) as api:
        message = refusal(await api.client.get("/.well-known/did.json"), 404, "NotFound")
    assert "not a did:web" in message
