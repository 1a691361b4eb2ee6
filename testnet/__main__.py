"""``python -m testnet start|seed``: what ``scripts/start-testnet`` and ``scripts/seed-testnet`` run.

``start`` runs the network in the foreground until Ctrl-C (or SIGTERM), printing its URLs once everything listens;
``--json`` prints the node script's one JSON line instead, for scripts. ``seed`` writes accounts with ``pub.chive``
records to a PDS of it and prints each account.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict

from testnet.harness import Testnet, TestnetError, TestnetUnavailable, locate_install
from testnet.pds_client import PdsClient, XrpcError
from testnet.seed import seed

#: fixed ports, so that the README's commands work as written (dev-env's own choice for its PLC and PDS)
PLC_PORT, PDS_PORT, PDS2_PORT = 2582, 2583, 2584
#: the handle domain of dev-env's PDSes
HANDLE_DOMAIN = ".test"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m testnet", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = commands.add_parser("start", help="run the network in the foreground; Ctrl-C stops it")
    start.add_argument("--plc-port", type=int, default=PLC_PORT, help=f"PLC directory port (default {PLC_PORT})")
    start.add_argument("--pds-port", type=int, default=PDS_PORT, help=f"first PDS port (default {PDS_PORT})")
    start.add_argument("--pds2-port", type=int, default=PDS2_PORT, help=f"second PDS port (default {PDS2_PORT})")
    start.add_argument("--json", action="store_true", help="print the network's JSON line instead of the URLs")
    sow = commands.add_parser("seed", help="create accounts with pub.chive records on a PDS")
    sow.add_argument("--pds", default=f"http://localhost:{PDS_PORT}", help="the PDS (default %(default)s)")
    sow.add_argument("--accounts", type=int, default=3, help="accounts to create (default %(default)s)")
    sow.add_argument("--eprints", type=int, default=2, help="eprints per account (default %(default)s)")
    sow.add_argument("--json", action="store_true", help="print the accounts as JSON")
    return parser


def start(args: argparse.Namespace) -> int:
    try:
        install = locate_install()
    except TestnetUnavailable as exc:
        print(f"testnet: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    ports = {"TESTNET_PLC_PORT": args.plc_port, "TESTNET_PDS_PORT": args.pds_port, "TESTNET_PDS2_PORT": args.pds2_port}
    net = Testnet(install, extra_env={name: str(port) for name, port in ports.items()})
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        net.start()
    except TestnetError as exc:
        print(f"testnet: {exc}", file=sys.stderr)
        return 1
    try:
        info = net.info
        if args.json:
            print(json.dumps(info.raw), flush=True)
        else:
            print(
                f"PLC   {info.plc_url}\n"
                f"PDS   {info.pds_url}   (service DID {info.pds_did})\n"
                f"PDS2  {info.pds2_url}   (service DID {info.pds2_did})\n"
                f"handles end in {info.handle_domain}; PDS admin password {info.admin_password}\n"
                "Ctrl-C stops the network and deletes its data.",
                flush=True,
            )
        while not stop.wait(0.5):
            if net.proc is not None and net.proc.poll() is not None:
                print(f"testnet: the network stopped by itself (exit {net.proc.returncode})", file=sys.stderr)
                return 1
    finally:
        code = net.close()
    return 0 if code == 0 else 1


def seed_command(args: argparse.Namespace) -> int:
    with PdsClient(args.pds, handle_domain=HANDLE_DOMAIN) as client:
        try:
            accounts = seed(client, accounts=args.accounts, eprints=args.eprints)
        except (XrpcError, OSError, ValueError) as exc:
            print(f"testnet: cannot seed {args.pds}: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps({"pds": args.pds, "accounts": [asdict(a) for a in accounts]}))
        return 0
    print(f"seeded {args.pds}: {len(accounts)} accounts, {sum(a.total for a in accounts)} pub.chive records")
    for account in accounts:
        kinds = ", ".join(f"{count} {nsid.rsplit('.', 1)[-1]}" for nsid, count in account.records.items())
        print(f"  {account.did}  {account.handle}  password {account.password}  ({kinds})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "start":
        return start(args)
    return seed_command(args)


if __name__ == "__main__":
    sys.exit(main())
