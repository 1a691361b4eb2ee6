"""``/.well-known/did.json``: the DID document of this service's did:web identity, naming its XRPC endpoint."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chive_admin.xrpc.errors import XRPCError
from chive_admin.xrpc.responses import error_response, json_response

SERVICE_ID = "#chive_admin"
SERVICE_TYPE = "ChiveAdminService"


async def did_document(request: Request) -> Response:
    settings = request.app.state.services.settings
    if not settings.service_did.startswith("did:web:"):  # a did:plc service publishes its document in the PLC
        return error_response(XRPCError(404, "NotFound", "This service's DID is not a did:web"))
    return json_response(
        {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": settings.service_did,
            "service": [
                {"id": SERVICE_ID, "type": SERVICE_TYPE, "serviceEndpoint": settings.public_url},
            ],
        }
    )
