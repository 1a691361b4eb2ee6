"""The XRPC layer: one error type, one request pipeline, one router."""
