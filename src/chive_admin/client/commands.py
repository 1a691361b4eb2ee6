"""``chive-admin ops …`` and ``chive-admin dlq …``: operations and the dead-letter queue from the terminal.

Exit codes: 0 success (an op that ended ``completed``), 1 a server or connection error (one line on stderr),
2 bad usage, 3 op ended ``partial``, 4 ``failed``, 5 ``cancelled``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from chive_admin._generated import ids
from chive_admin.backfill.triggers import TRIGGER_METHODS
from chive_admin.client.xrpc import AdminClient, ServerError

DEFAULT_URL = "http://127.0.0.1:8590"
ENDED = {"completed": 0, "partial": 3, "failed": 4, "cancelled": 5}
#: the trigger method of each operation type, and which options it takes
TRIGGERS: dict[str, tuple[str, tuple[str, ...]]] = {
    op_type: (TRIGGER_METHODS[op_type], options)
    for op_type, options in {
        "pds-scan": ("pdsUrl",),
        "did-sync": ("did",),
        "freshness-scan": ("tier",),
        "citation-extraction": ("uri",),
        "full-reindex": ("batchSize",),
        "governance-sync": (),
    }.items()
}
_OPTIONS = {"pdsUrl": "pds_url", "did": "did", "tier": "tier", "uri": "uri", "batchSize": "batch_size"}


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    def connection(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--url", help=f"the server (env CHIVE_ADMIN_URL, default {DEFAULT_URL})")
        parser.add_argument("--key", help="API key (env CHIVE_ADMIN_KEY; prefer the env var: flags show in ps)")
        parser.add_argument("--json", action="store_true", help="print the server's JSON answer, for scripts")

    ops = commands.add_parser("ops", help="list, show, trigger, cancel and watch backfill operations")
    actions = ops.add_subparsers(dest="ops_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="active operations, or those in one state")
    listing.add_argument("--status", help="queued, running, cancelling, completed, partial, failed or cancelled")
    show = actions.add_parser("show", help="one operation")
    show.add_argument("op_id", metavar="ID")
    trigger = actions.add_parser("trigger", help="start an operation (or get the identical active one)")
    trigger.add_argument("type", choices=sorted(TRIGGERS))
    trigger.add_argument("--pds-url")
    trigger.add_argument("--did")
    trigger.add_argument("--uri")
    trigger.add_argument("--batch-size", type=int)
    trigger.add_argument("--tier", choices=["hot", "warm", "cold", "all"])
    trigger.add_argument("--watch", action="store_true", help="follow it until it ends (exit code tells how)")
    cancel = actions.add_parser("cancel", help="ask an operation to stop at its next checkpoint")
    cancel.add_argument("op_id", metavar="ID")
    watch = actions.add_parser("watch", help="follow an operation with a progress bar until it ends")
    watch.add_argument("op_id", metavar="ID")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    for parser in (listing, show, trigger, cancel, watch):
        connection(parser)

    dlq = commands.add_parser("dlq", help="the dead-letter queue: list, retry, dismiss")
    dlq_actions = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    dlq_list = dlq_actions.add_parser("list", help="entries in queue order (their position is the INDEX)")
    dlq_list.add_argument("--limit", type=int, default=50)
    dlq_list.add_argument("--offset", type=int, default=0)
    retry = dlq_actions.add_parser("retry", help="retry one entry, or every entry with --all")
    retry.add_argument("index", metavar="INDEX", type=int, nargs="?")
    retry.add_argument("--all", action="store_true")
    retry.add_argument("--error-type")
    dismiss = dlq_actions.add_parser("dismiss", help="drop one entry")
    dismiss.add_argument("index", metavar="INDEX", type=int)
    for parser in (dlq_list, retry, dismiss):
        connection(parser)


def _client(args: argparse.Namespace) -> AdminClient:
    url = args.url or os.environ.get("CHIVE_ADMIN_URL") or DEFAULT_URL
    return AdminClient(url, args.key or os.environ.get("CHIVE_ADMIN_KEY"))


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def _ops_table(operations: list[dict[str, Any]]) -> Table:
    table = Table("id", "type", "status", "stage", "processed", "failed", "started", box=None)
    for op in operations:
        total = op.get("totalRecords")
        done = f"{op['recordsProcessed']}" + (f"/{total}" if total is not None else "")
        table.add_row(
            op["id"],
            op["type"],
            op["status"],
            op.get("stage", ""),
            done,
            str(op.get("recordsFailed", 0)),
            op["startedAt"],
        )
    return table


def run(args: argparse.Namespace) -> int:
    try:
        with _client(args) as client:
            if args.command == "ops":
                return _ops(args, client)
            return _dlq(args, client)
    except ServerError as exc:
        print(f"chive-admin: error: {exc}", file=sys.stderr)
        return 1


def _ops(args: argparse.Namespace, client: AdminClient) -> int:
    console = Console()
    if args.ops_command == "list":
        answer = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, status=args.status)
        if args.json:
            _print_json(answer)
        else:
            console.print(_ops_table(answer.get("operations", [])))
        return 0
    if args.ops_command == "show":
        answer = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, id=args.op_id)
        if args.json:
            _print_json(answer)
        else:
            console.print(_ops_table([answer["operation"]]))
            for key in ("error", "errorCode", "errorContext", "counts", "params"):
                if key in answer["operation"]:
                    console.print(f"{key}: {answer['operation'][key]}")
        return 0
    if args.ops_command == "cancel":
        answer = client.procedure(ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": args.op_id})
        _print_json(answer) if args.json else console.print(f"cancel requested for {args.op_id}")
        return 0
    if args.ops_command == "trigger":
        nsid, accepted = TRIGGERS[args.type]
        body = {name: getattr(args, _OPTIONS[name]) for name in accepted}
        given = [flag for flag, attr in _OPTIONS.items() if getattr(args, attr) is not None and flag not in accepted]
        if given:
            print(f"chive-admin: error: {args.type} takes no {', '.join(given)}", file=sys.stderr)
            return 2
        op_id = str(client.procedure(nsid, body)["operationId"])
        if not args.watch:
            _print_json({"operationId": op_id}) if args.json else console.print(op_id)
            return 0
        return _watch(client, op_id, 1.0, args.json, console)
    return _watch(client, args.op_id, args.interval, args.json, console)


def _watch(client: AdminClient, op_id: str, interval: float, as_json: bool, console: Console) -> int:
    """Poll until the op ends; a live bar on a terminal, one JSON line per poll with --json."""
    with Progress(
        TextColumn("[bold]{task.fields[status]}[/] {task.fields[stage]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TextColumn("eta {task.fields[eta]}"),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
        transient=False,
    ) as progress:
        task = progress.add_task(op_id, total=None, status="", stage="", rate="", eta="-")
        started = time.monotonic()
        while True:
            op = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, id=op_id)["operation"]
            if as_json:
                print(json.dumps(op, sort_keys=True), flush=True)
            done = int(op["recordsProcessed"])
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                completed=done,
                total=op.get("totalRecords"),
                status=op["status"],
                stage=op.get("stage", ""),
                rate=f"{done / elapsed:,.0f} rec/s",
                eta=f"{op['etaSeconds']}s" if "etaSeconds" in op else "-",
            )
            # Draw every polled state at once: the auto-refresh thread can starve on a busy machine and skip a
            # short-lived status entirely.
            progress.refresh()
            if op["status"] in ENDED:
                break
            time.sleep(interval)
    if not as_json:
        line = f"{op_id} {op['status']}: {op['recordsProcessed']} records, {op.get('recordsFailed', 0)} failed"
        if "error" in op:
            line += f" — {op.get('errorCode', 'error')}: {op['error']}"
        console.print(line)
    return ENDED[op["status"]]


def _dlq(args: argparse.Namespace, client: AdminClient) -> int:
    console = Console()
    if args.dlq_command == "list":
        answer = client.query(ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES, limit=args.limit, offset=args.offset)
        if args.json:
            _print_json(answer)
            return 0
        table = Table("index", "type", "uri / did", "retries", "message", box=None)
        for position, entry in enumerate(answer["entries"], start=args.offset):
            target = entry.get("uri") or entry.get("did") or ""
            table.add_row(
                str(position), entry["errorType"], target, str(entry["retryCount"]), entry.get("errorMessage", "")
            )
        console.print(table)
        console.print(f"{answer['total']} entries in all")
        return 0
    if args.dlq_command == "retry":
        if args.all:
            answer = client.procedure(ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ, {"errorType": args.error_type})
        elif args.index is None:
            print("chive-admin: error: give an INDEX or --all", file=sys.stderr)
            return 2
        else:
            answer = client.procedure(ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY, {"index": args.index})
    else:
        answer = client.procedure(ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY, {"index": args.index})
    _print_json(answer) if args.json else console.print(answer.get("message") or answer)
    return 0 if answer.get("success", True) else 1
