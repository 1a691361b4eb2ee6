"""The server process wired together: the Starlette app, the request pipeline and router, and the routes beside XRPC."""
