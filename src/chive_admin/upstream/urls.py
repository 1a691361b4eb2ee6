"""The shape of a service URL we call (a PDS, a PLC directory): checked before any address is looked up."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalise_service_url(url: str) -> str:
    """``https://Host.Example/`` → ``https://host.example``; ValueError for anything but a bare http(s) origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http(s) URL")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r} must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r} must be a bare origin (no path, query or fragment)")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def registry_key(endpoint: str) -> str:
    """The PDS named by a DID document, as the registry keys hosts (pds-scan's form, so that ``https://PDS.example/``
    and ``https://pds.example`` are one row); an endpoint that is more than an origin is kept as given."""
    try:
        return normalise_service_url(endpoint)
    except ValueError:
        return endpoint.rstrip("/")
