"""The operator's side: ``chive-admin ops`` and ``chive-admin dlq`` talking XRPC to a running server.

(``upstream/`` is the network the server itself uses; this package is the command line's client of the server.)
"""
