"""``chive-admin ops …``, ``chive-admin dlq …`` and ``chive-admin status``: operations, the dead-letter queue, and the
server's health with its firehose sources, from the terminal.

Exit codes: 0 success (an op that ended ``completed``), 1 a server or connection error (one line on stderr),
2 bad usage, 3 op ended ``partial``, 4 ``failed``, 5 ``cancelled``, 130 stopped watching with Ctrl-C.

Everything the server says is printed through :mod:`chive_admin.cli.terminal` (literal, controls visible), and
ids are never cut: other columns wrap first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Column, Table

from chive_admin._generated import ids
from chive_admin.backfill.job_types import LEXICON_TYPES, TRIGGER_METHODS
from chive_admin.cli.http import AdminClient, ServerError
from chive_admin.cli.terminal import console as plain_console
from chive_admin.cli.terminal import literal, visible
from chive_admin.clock import parse_stamp

DEFAULT_URL = "http://127.0.0.1:8590"
ENDED = {"completed": 0, "partial": 3, "failed": 4, "cancelled": 5}
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
#: how many operations ``ops list`` shows unless told otherwise
DEFAULT_LISTED = 20
#: a watch rides through a server restart: retries start this far apart, double up to the cap, and stop after
#: this long without an answer
RECONNECT_FIRST, RECONNECT_CAP, RECONNECT_GIVE_UP = 0.5, 5.0, 300.0

#: the trigger method of each operation type, and which options it takes
TRIGGERS: dict[str, tuple[str, tuple[str, ...]]] = {
    op_type: (TRIGGER_METHODS[op_type], options)
    for op_type, options in {
        "pds-scan": ("pdsUrl", "collection", "limit"),
        "did-sync": ("did",),
        "freshness-scan": ("tier",),
        "citation-extraction": ("uri",),
        "full-reindex": ("batchSize",),
        "governance-sync": (),
    }.items()
}
#: each trigger option: its flag's destination, and what it means
_OPTIONS = {
    "pdsUrl": ("pds_url", "base URL of one PDS to scan (without it: every PDS, through the relay)"),
    "collection": ("collection", "without --pds-url: discover through the relay only this pub.chive collection"),
    "limit": ("limit", "without --pds-url: at most this many repositories (a trial run)"),
    "did": ("did", "the account to re-sync"),
    "tier": ("tier", "records to re-check, by time since last verified"),
    "uri": ("uri", "at:// URI of one eprint (without it: every eprint not yet extracted)"),
    "batchSize": ("batch_size", "records written per batch (without it: the server's default)"),
}


#: options that triggerBackfill takes and the type's own trigger method does not
BACKFILL_ONLY = ("collection", "limit")
TRIGGER_NAMES = {kind.name: kind.trigger_name for kind in LEXICON_TYPES if kind.trigger_name is not None}


class UsageError(Exception):
    """A command line the server need not see to refuse."""


def _takers(option: str) -> str:
    return ", ".join(op_type for op_type, (_, accepted) in TRIGGERS.items() if option in accepted)


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    def connection(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--url", help=f"the server (env CHIVE_ADMIN_URL, default {DEFAULT_URL})")
        parser.add_argument("--key", help="API key (env CHIVE_ADMIN_KEY; prefer the env var: flags show in ps)")
        parser.add_argument("--json", action="store_true", help="print the server's JSON answer, for scripts")

    id_help = "an operation id, or a prefix of one that no other active or recent operation shares"
    ops = commands.add_parser("ops", help="list, show, trigger, cancel and watch backfill operations")
    actions = ops.add_subparsers(dest="ops_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="recent operations of every state, newest first (or those in one state)")
    listing.add_argument("--status", help="queued, running, cancelling, completed, partial, failed or cancelled")
    listing.add_argument(
        "--limit", type=int, default=DEFAULT_LISTED, help=f"at most this many (default {DEFAULT_LISTED})"
    )
    show = actions.add_parser("show", help="one operation in full")
    show.add_argument("op_id", metavar="ID", help=id_help)
    trigger = actions.add_parser("trigger", help="start an operation (or get the identical active one)")
    trigger.add_argument("type", choices=sorted(TRIGGERS))
    for option, (dest, meaning) in _OPTIONS.items():
        flag = "--" + dest.replace("_", "-")
        extra: dict[str, Any] = {"type": int} if option in ("batchSize", "limit") else {}
        if option == "tier":
            extra["choices"] = ["hot", "warm", "cold", "all"]
        trigger.add_argument(flag, dest=dest, help=f"{_takers(option)} only: {meaning}", **extra)
    trigger.add_argument("--watch", action="store_true", help="follow it until it ends (exit code tells how)")
    cancel = actions.add_parser("cancel", help="ask an operation to stop at its next checkpoint")
    cancel.add_argument("op_id", metavar="ID", help=id_help)
    watch = actions.add_parser("watch", help="follow an operation with a progress bar until it ends")
    watch.add_argument("op_id", metavar="ID", help=id_help)
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    for parser in (listing, show, trigger, cancel, watch):
        connection(parser)

    dlq = commands.add_parser("dlq", help="the dead-letter queue: list, retry, dismiss entries by INDEX")
    dlq_actions = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    dlq_list = dlq_actions.add_parser("list", help="entries in queue order; INDEX is an entry's position")
    dlq_list.add_argument("--limit", type=int, default=50, help="entries to show, 1 to 100 (default 50)")
    dlq_list.add_argument("--offset", type=int, default=0, help="start at this INDEX (default 0)")
    retry = dlq_actions.add_parser("retry", help="retry the entry at INDEX, or every entry with --all")
    retry.add_argument("index", metavar="INDEX", type=int, nargs="?", help="the entry's INDEX in `dlq list`")
    retry.add_argument("--all", action="store_true", help="retry every entry (or every one of --error-type)")
    retry.add_argument("--error-type", help="with --all: only entries of this type")
    dismiss = dlq_actions.add_parser("dismiss", help="drop the entry at INDEX")
    dismiss.add_argument("index", metavar="INDEX", type=int, help="the entry's INDEX in `dlq list`")
    for parser in (dlq_list, retry, dismiss):
        connection(parser)

    status = commands.add_parser(
        "status", help="the server's health and its firehose sources (connected, cursor, lag, events/s)"
    )
    connection(status)


def _client(args: argparse.Namespace) -> AdminClient:
    url = args.url or os.environ.get("CHIVE_ADMIN_URL") or DEFAULT_URL
    try:
        return AdminClient(url, args.key or os.environ.get("CHIVE_ADMIN_KEY"))
    except ValueError as exc:
        raise UsageError(f"--url: '{visible(url)}': {exc}") from None


def run(args: argparse.Namespace) -> int:
    try:
        with _client(args) as client:
            if args.command == "ops":
                return _ops(args, client)
            if args.command == "status":
                return _status(args, client)
            return _dlq(args, client)
    except UsageError as exc:
        print(f"chive-admin: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ServerError as exc:
        print(f"chive-admin: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (KeyError, TypeError, AttributeError):  # an answer of another shape: a proxy, or another server
        print("chive-admin: error: the server's answer is not what this command expects", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("chive-admin: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


# --- operations -------------------------------------------------------------------------------------------------


def _recent(client: AdminClient) -> list[dict[str, Any]]:
    """Active operations and the most recently ended ones, newest first."""
    active = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS).get("operations", [])
    ended = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_HISTORY).get("operations", [])
    unique = {str(op.get("id")): op for op in [*ended, *active]}
    return sorted(unique.values(), key=lambda op: str(op.get("startedAt", "")), reverse=True)


def _resolve(client: AdminClient, given: str) -> str:
    """The full id ``given`` names: itself when an operation has it, else the one active or recent id it starts."""
    try:
        return str(client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, id=given)["operation"]["id"])
    except ServerError as exc:
        if exc.status != 400 or not given:  # 400: no operation has that id (or it is no id at all)
            raise
    matches = sorted({str(op["id"]) for op in _recent(client) if str(op["id"]).upper().startswith(given.upper())})
    if not matches:
        raise ServerError(f"no operation id is or starts with '{visible(given)}'")
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        raise UsageError(f"'{visible(given)}' starts {len(matches)} operation ids ({shown}): give more of it")
    return matches[0]


def _status_cell(op: dict[str, Any]) -> str:
    code = op.get("errorCode")
    status = str(op.get("status", ""))
    return f"{status} ({code})" if code and status in ("failed", "partial") else status


def _processed(op: dict[str, Any]) -> str:
    total = op.get("totalRecords")
    return f"{op.get('recordsProcessed', 0)}" + (f"/{total}" if total is not None else "")


def _table(kept: tuple[str, ...], wrapped: tuple[str, ...]) -> Table:
    """Columns ``kept`` whole (ids: they fold only if not even one fits, never an ellipsis), then ``wrapped`` ones,
    which wrap first to make room."""
    columns = [Column(h, no_wrap=True, overflow="fold") for h in kept] + [Column(h, overflow="fold") for h in wrapped]
    return Table(*columns, box=None, pad_edge=False)


def _ops_table(operations: Iterable[dict[str, Any]]) -> Table:
    table = _table(("id",), ("type", "status", "stage", "records", "started (UTC)"))
    for op in operations:
        table.add_row(
            *(
                literal(cell)
                for cell in (
                    op.get("id", ""),
                    op.get("type", ""),
                    _status_cell(op),
                    op.get("stage", ""),
                    _processed(op) + (f", {op['recordsFailed']} failed" if op.get("recordsFailed") else ""),
                    _moment(op.get("startedAt")),
                )
            )
        )
    return table


def _moment(stamp: Any) -> str:
    """A timestamp to the second, for a table (``ops show`` and ``--json`` keep the server's own)."""
    try:
        return parse_stamp(str(stamp)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(stamp or "")


def _pairs(value: Any) -> str:
    """A JSON object as ``key=value, …`` (nested values as JSON); anything else as JSON."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v, sort_keys=True)}" for k, v in value.items())
    return json.dumps(value, sort_keys=True)


def _details(op: dict[str, Any]) -> Table:
    repos = f"{op.get('processedRepos', 0)}/{op['totalRepos']}" if "totalRepos" in op else op.get("processedRepos")
    rows: list[tuple[str, Any]] = [
        ("id", op.get("id")),
        ("type", op.get("type")),
        ("status", op.get("status")),
        ("stage", op.get("stage")),
        ("records", _processed(op)),
        ("repositories", repos),
        ("records failed", op.get("recordsFailed")),
        ("started", op.get("startedAt")),
        ("started by", op.get("startedBy")),
        ("updated", op.get("updatedAt")),
        ("completed", op.get("completedAt")),
        ("attempts", op.get("attempts")),
        ("eta", f"{op['etaSeconds']} s" if "etaSeconds" in op else None),
        ("rate", _rate(op) or None),
        ("error code", op.get("errorCode")),
        ("error", op.get("error")),
        ("error context", _pairs(op["errorContext"]) if "errorContext" in op else None),
        ("counts", _pairs(op["counts"]) if "counts" in op else None),
        ("params", _pairs(op["params"]) if "params" in op else None),
    ]
    grid = Table.grid(Column(style="bold", no_wrap=True), Column(overflow="fold"), padding=(0, 2))
    for name, value in rows:
        if value is not None:
            grid.add_row(name, literal(value if isinstance(value, str) else str(value)))
    return grid


def _ops(args: argparse.Namespace, client: AdminClient) -> int:
    out = plain_console()
    if args.ops_command == "list":
        if args.status:
            found = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, status=args.status).get("operations", [])
        else:
            found = _recent(client)
        shown = found[: max(args.limit, 0)]
        if args.json:
            _print_json({"operations": shown})
        elif not shown:
            out.print("no operations" + (f" with status {visible(args.status)}" if args.status else ""))
        else:
            out.print(_ops_table(shown))
            if len(found) > len(shown):
                out.print(f"{len(shown)} of {len(found)} shown; --limit {len(found)} shows them all")
        return 0
    if args.ops_command == "trigger":
        return _trigger(args, client, out)
    op_id = _resolve(client, args.op_id)
    if args.ops_command == "show":
        answer = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, id=op_id)
        _print_json(answer) if args.json else out.print(_details(answer["operation"]))
        return 0
    if args.ops_command == "cancel":
        answer = client.procedure(ids.PUB_CHIVE_ADMIN_CANCEL_BACKFILL, {"id": op_id})
        _print_json(answer) if args.json else out.print(f"cancel requested for {op_id}")
        return 0
    if not 0.05 <= args.interval <= 3600:
        raise UsageError("--interval: give seconds between 0.05 and 3600")
    return _watch(client, op_id, args.interval, args.json, out)


def _trigger(args: argparse.Namespace, client: AdminClient, out: Console) -> int:
    nsid, accepted = TRIGGERS[args.type]
    given = [name for name, (dest, _) in _OPTIONS.items() if getattr(args, dest) is not None and name not in accepted]
    if given:
        flags = ", ".join("--" + _OPTIONS[name][0].replace("_", "-") for name in given)
        raise UsageError(f"{args.type} takes no {flags}")
    body = {name: getattr(args, _OPTIONS[name][0]) for name in accepted}
    if any(body.get(name) is not None for name in BACKFILL_ONLY):
        # options only triggerBackfill takes (lexicon extensions): the op is started through it
        given_body = {name: value for name, value in body.items() if value is not None}
        answer = client.procedure(
            ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, {"type": TRIGGER_NAMES[args.type], **given_body}
        )
        op_id = str(answer["operation"]["id"])
    else:
        body = {name: value for name, value in body.items() if name not in BACKFILL_ONLY}
        op_id = str(client.procedure(nsid, body)["operationId"])
    if not args.watch:
        _print_json({"operationId": op_id}) if args.json else out.print(op_id)
        return 0
    if not args.json:  # the id first, so that it is known even if the watch is stopped at once
        out.print(f"{op_id} queued ({args.type}); Ctrl-C stops watching, not the operation")
    return _watch(client, op_id, 1.0, args.json, out)


# --- watching ---------------------------------------------------------------------------------------------------


def _seconds_between(start: Any, end: Any) -> float | None:
    try:
        return (parse_stamp(str(end)) - parse_stamp(str(start))).total_seconds()
    except (TypeError, ValueError):
        return None


def _rate(op: dict[str, Any]) -> str:
    """Records a second over the op's own life (triggered to its last update), wherever the watch began."""
    seconds = _seconds_between(op.get("startedAt"), op.get("completedAt") or op.get("updatedAt"))
    if not seconds or seconds <= 0:
        return ""
    return f"{int(op.get('recordsProcessed', 0)) / seconds:,.0f} rec/s"


def _elapsed(op: dict[str, Any]) -> str:
    seconds = _seconds_between(op.get("startedAt"), op.get("completedAt") or op.get("updatedAt"))
    if seconds is None or seconds < 0:
        return ""
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _bar(op: dict[str, Any]) -> tuple[int, int | None, str]:
    """Done, total and unit of the bar: records when their total is known, else repositories when theirs is."""
    if op.get("totalRecords") is None and op.get("totalRepos") is not None:
        return int(op.get("processedRepos", 0)), int(op["totalRepos"]), "repos"
    total = op.get("totalRecords")
    return int(op.get("recordsProcessed", 0)), int(total) if total is not None else None, "records"


def _poll(client: AdminClient, op_id: str, say: Callable[[str], None]) -> dict[str, Any]:
    """The op's state now; while the server gives no answer (a restart), retries with backoff and says so."""
    delay, outage = RECONNECT_FIRST, None
    while True:
        try:
            operation: dict[str, Any] = client.query(ids.PUB_CHIVE_ADMIN_GET_BACKFILL_STATUS, id=op_id)["operation"]
        except ServerError as exc:
            if not exc.transient:
                raise
            if outage is None:
                outage = time.monotonic()
                say(f"{exc}; reconnecting (retrying for up to {RECONNECT_GIVE_UP:.0f} s)")
            elif time.monotonic() - outage > RECONNECT_GIVE_UP:
                raise ServerError(f"{exc}; gave up reconnecting after {RECONNECT_GIVE_UP:.0f} s") from None
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_CAP)
            continue
        if outage is not None:
            say("reconnected")
        return operation


def _watch(client: AdminClient, op_id: str, interval: float, as_json: bool, out: Console) -> int:
    """Poll until the op ends; a live bar on a terminal, one JSON line per poll with --json."""
    notices = plain_console(stderr=True)
    op: dict[str, Any] = {}
    try:
        for polled in _follow(client, op_id, interval, as_json, out, notices.print):
            op = polled  # the last state seen, for the line a Ctrl-C leaves
    except KeyboardInterrupt:
        state = f"is still {visible(op['status'])}" if "status" in op else "goes on"  # no poll answered yet
        notices.print(f"stopped watching; {op_id} {state}")
        return EXIT_INTERRUPTED
    if not as_json:
        line = f"{op_id} {op['status']}: {op.get('recordsProcessed', 0)} records, {op.get('recordsFailed', 0)} failed"
        if "error" in op or "errorCode" in op:
            line += f" — {op.get('errorCode', 'error')}: {op.get('error', '')}"
        out.print(literal(line))
    return ENDED[op["status"]]


def _follow(
    client: AdminClient, op_id: str, interval: float, as_json: bool, out: Console, say: Callable[[str], None]
) -> Iterator[dict[str, Any]]:
    """Each polled state of the op, drawn as it comes, up to and including the one it ended in."""
    with Progress(
        TextColumn("{task.fields[status]}", style="bold", markup=False),
        TextColumn("{task.fields[stage]}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[unit]}", markup=False),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}", markup=False),
        TextColumn("eta {task.fields[eta]}", markup=False),
        TextColumn("{task.fields[elapsed]}", markup=False),
        console=out,
        disable=as_json,
        transient=False,
    ) as progress:
        task = progress.add_task(op_id, total=None, status="", stage="", unit="", rate="", eta="", elapsed="")
        while True:
            op = _poll(client, op_id, say)
            yield op  # before it is shown: a Ctrl-C after this state is on screen knows it
            if as_json:
                print(json.dumps(op, sort_keys=True), flush=True)
            done, total, unit = _bar(op)
            progress.update(
                task,
                completed=done,
                total=total,
                status=visible(op.get("status", "")),
                stage=visible(op.get("stage", "")),
                unit=unit,
                rate=_rate(op),
                eta=f"{op['etaSeconds']}s" if "etaSeconds" in op else "-",
                elapsed=_elapsed(op),
            )
            # Draw every polled state at once: the auto-refresh thread can starve on a busy machine and skip a
            # short-lived status entirely.
            progress.refresh()
            if op.get("status") in ENDED:
                return
            time.sleep(interval)


# --- dead-letter queue ------------------------------------------------------------------------------------------


def _dlq_table(entries: list[dict[str, Any]], offset: int) -> Table:
    table = _table(("index", "id"), ("error type", "uri / did", "retries", "message"))
    for index, entry in enumerate(entries, start=offset):
        target = entry.get("uri") or entry.get("did") or ""
        cells = (index, entry.get("id", ""), entry.get("errorType", ""), target, entry.get("retryCount", 0))
        table.add_row(*(literal(str(cell)) for cell in cells), literal(entry.get("errorMessage", "")))
    return table


def _dlq(args: argparse.Namespace, client: AdminClient) -> int:
    out = plain_console()
    if args.dlq_command == "list":
        answer = client.query(ids.PUB_CHIVE_ADMIN_LIST_DLQ_ENTRIES, limit=args.limit, offset=args.offset)
        if args.json:
            _print_json(answer)
            return 0
        entries = answer.get("entries", [])
        if entries:
            out.print(_dlq_table(entries, args.offset))
        total = answer.get("total", 0)
        out.print(
            f"{total} entries in all; retry or dismiss one by its INDEX "
            "(indexes shift when an entry leaves: list again before the next one)"
            if total
            else "0 entries in all: the dead-letter queue is empty"
        )
        return 0
    if args.dlq_command == "retry" and args.all:
        answer = client.procedure(ids.PUB_CHIVE_ADMIN_RETRY_ALL_DLQ, {"errorType": args.error_type})
        _print_json(answer) if args.json else out.print(f"{answer.get('retriedCount', 0)} entries sent back for retry")
        return 0
    if args.index is None:
        raise UsageError("give an INDEX (from `dlq list`) or --all")
    nsid = ids.PUB_CHIVE_ADMIN_RETRY_DLQ_ENTRY if args.dlq_command == "retry" else ids.PUB_CHIVE_ADMIN_DISMISS_DLQ_ENTRY
    answer = client.procedure(nsid, {"index": args.index})
    if args.json:
        _print_json(answer)
    else:
        out.print(literal(f"index {args.index}: {answer.get('message') or ('done' if answer.get('success') else '')}"))
    return 0 if answer.get("success", True) else EXIT_ERROR


# --- status ------------------------------------------------------------------------------------------------------


def _lag(source: dict[str, Any]) -> str:
    return f"{int(source['lagMs']) / 1000:.1f} s" if "lagMs" in source else "unknown"


def _sources_table(sources: list[dict[str, Any]]) -> Table:
    table = _table(("source",), ("state", "cursor", "lag", "events/s", "problem"))
    for source in sources:
        state = "connected" if source.get("connected") else "disconnected"
        cells = (
            source.get("url", ""),
            f"{state} since {_moment(source.get('since'))}",
            source.get("cursor", "none"),
            _lag(source),
            f"{int(source.get('eventsLastMinute', 0)) / 60:.1f}",
            source.get("problem", ""),
        )
        table.add_row(*(literal(str(cell)) for cell in cells))
    return table


def _status(args: argparse.Namespace, client: AdminClient) -> int:
    health = client.query(ids.PUB_CHIVE_ADMIN_GET_SYSTEM_HEALTH)
    firehose = client.query(ids.PUB_CHIVE_ADMIN_GET_FIREHOSE_STATUS)
    if args.json:
        _print_json({"health": health, "firehose": firehose})
        return 0
    out = plain_console()
    out.print(literal(f"health: {health.get('status', '')}"))
    cursor = firehose.get("cursor", "none")
    out.print(literal(f"firehose cursor: {cursor}, dead letters: {firehose.get('dlqCount', 0)}"))
    sources = firehose.get("sources", [])
    if sources:
        out.print(_sources_table(sources))
    else:
        out.print("live indexing is off in this server process (no --firehose-url)")
    return 0
