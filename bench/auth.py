"""The cost of auth: an authenticated getAuditLog (API key; service-auth JWT with a cached identity) vs the same
route with authentication skipped, in the same run.

    python -m bench.auth [--seconds 5] [--concurrency 16]

Goal (issue 5): authenticated at least 50 % of the unauthenticated rate. Each JWT is used once (jti replay
protection), so the tokens are minted before the timed run, by a did:web identity this bench serves itself.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from starlette.requests import Request

from bench.harness import Load, Served, api_key, drive, report
from chive_admin._generated import ids
from chive_admin.auth.principal import Principal
from chive_admin.lex import Route
from chive_admin.server.app import create_app
from chive_admin.settings import Settings

SERVICE_DID = "did:web:bench.chive-admin.test"
METHOD = ids.PUB_CHIVE_ADMIN_GET_AUDIT_LOG


class AdmitAll:
    """Authentication skipped: the baseline of the same route."""

    async def authenticate(self, request: Request, route: Route) -> Principal:
        return Principal(os.environ["BENCH_ADMIN"], "api-key", frozenset({"admin"}))


def _settings() -> Settings:
    return Settings(
        db=Path(os.environ["BENCH_DB"]),
        service_did=SERVICE_DID,
        admin_dids=(os.environ["BENCH_ADMIN"],),
        allow_private_network=True,
    )


def authed_app() -> Any:
    return create_app(_settings())


def open_app() -> Any:
    return create_app(_settings(), authenticator=AdmitAll())


def _did_host(document: dict[str, Any]) -> tuple[http.server.ThreadingHTTPServer, int]:
    """Serve ``document`` (completed by the caller once the port is known) as /.well-known/did.json."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def measure(argv: list[str] | None = None) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """Run the bench; (title, table rows)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.jwts import SigningKey, service_token

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    signing = SigningKey("ES256K")
    with tempfile.TemporaryDirectory() as tmp:
        # the identity: a did:web document served from loopback, completed once its port is known
        document: dict[str, Any] = {}
        server, port = _did_host(document)
        did = f"did:web:localhost%3A{port}"
        method = {"id": f"{did}#atproto", "type": "Multikey", "controller": did}
        document.update({"id": did, "verificationMethod": [{**method, "publicKeyMultibase": signing.multikey}]})
        path = Path(tmp) / "bench.db"
        os.environ["BENCH_DB"] = str(path)
        os.environ["BENCH_ADMIN"] = did
        key = asyncio.run(api_key(path, did))
        budget = int(args.seconds * 4000) + 2000
        tokens = [service_token(signing, iss=did, aud=SERVICE_DID, lxm=METHOD, exp="default") for _ in range(budget)]
        with Served(open_app) as plain:
            base = drive(f"{plain.url}/xrpc/{METHOD}", concurrency=args.concurrency, seconds=args.seconds)
        with Served(authed_app) as authed:
            url = f"{authed.url}/xrpc/{METHOD}"
            with_key = drive(
                url, lambda _: {"Authorization": f"Bearer {key}"}, concurrency=args.concurrency, seconds=args.seconds
            )
            with_jwt = drive(
                url,
                lambda n: {"Authorization": f"Bearer {tokens[n % len(tokens)]}"},
                concurrency=args.concurrency,
                seconds=args.seconds,
            )
        server.shutdown()

    def row(name: str, load: Load) -> tuple[str, str, str, str, str]:
        return (name, f"{load.rate:,.0f} req/s", f"{base.rate:,.0f} req/s", f"{load.rate / base.rate:.0%}", ">= 50%")

    return (
        f"getAuditLog, {args.concurrency} concurrent clients, {args.seconds:.0f} s each",
        [
            row("API key", with_key),
            row("service JWT (cached identity)", with_jwt),
            ("p99 key / JWT / none", f"{with_key.p99:.1f} / {with_jwt.p99:.1f} ms", f"{base.p99:.1f} ms", "", ""),
            ("errors", str(with_key.errors + with_jwt.errors), str(base.errors), "", "0"),
        ],
    )


def main() -> None:
    report(measure)


if __name__ == "__main__":
    main()
