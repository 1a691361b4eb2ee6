"""A small XRPC client for a chive-admin server, authenticated with an API key."""

from __future__ import annotations

from typing import Any

import httpx


class ServerError(Exception):
    """An XRPC error answered by the server, or no answer at all; its text is one line for the terminal."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AdminClient:
    def __init__(self, url: str, key: str | None, *, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, nsid: str, **params: Any) -> dict[str, Any]:
        return self._send("GET", nsid, params={k: str(v) for k, v in params.items() if v is not None})

    def procedure(self, nsid: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", nsid, json={k: v for k, v in body.items() if v is not None})

    def _send(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, f"/xrpc/{nsid}", **kwargs)
        except httpx.HTTPError as exc:
            raise ServerError(f"cannot reach {self._http.base_url}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            if isinstance(data, dict) and "error" in data:
                raise ServerError(f"{data['error']}: {data.get('message', '')}", status=response.status_code)
            raise ServerError(f"HTTP {response.status_code} from the server", status=response.status_code)
        if not isinstance(data, dict):
            raise ServerError("the server answered something other than a JSON object")
        return data
