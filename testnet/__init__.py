"""The local ATProto network: a PLC directory and two PDSes of the reference implementation (``@atproto/dev-env``),
on loopback. The interop tests start one per session; ``scripts/start-testnet`` starts one in the foreground for
trying chive-admin by hand, and ``scripts/seed-testnet`` fills a PDS with accounts holding ``pub.chive`` records.

- ``harness``: where the Node install is (``scripts/install-testnet.sh``), starting and stopping the network;
- ``pds_client``: a small synchronous XRPC client for its PDSes;
- ``records``: builders of ``pub.chive.*`` records, valid against Chive's lexicons;
- ``seed``: accounts with records, as ``scripts/seed-testnet`` makes them.
"""
