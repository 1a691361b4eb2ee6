"""The operator dashboard at ``/admin/``: a static page and script shipped in the package, no build step, talking
to the same XRPC methods as every other client with the operator's API key."""
