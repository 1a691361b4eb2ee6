"""``chive-admin ops`` and ``dlq`` as an operator runs them: the real CLI against a real server, and the progress
display under a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support.api import Operation, call, operation, started, wait_ended
from support.auth import bearer
from support.scripted import Answer, scripted_server
from support.server import ServerProcess, cli_command, count_job_server, create_key

from chive_admin._generated import ids
from chive_admin.clock import parse_stamp

ADMIN = "did:plc:opsadmin00000000000000000"
#: what a hostile PDS can put in an error message or a record: window title, clear screen, rich markup (a link, a
#: closing tag that crashed rich), an emoji code, a right-to-left override
HOSTILE = "\x1b]0;pwned\x07\x1b[2J[link=https://evil.example]click[/link] [/] :warning: \u202eevil"
OP_ID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")

Served = tuple[ServerProcess, str]


def serve_counting(tmp: Path, job_env: dict[str, str], *extra: str) -> Iterator[Served]:
    db = tmp / "ops.db"
    key = create_key(db, ADMIN, "ops")
    server = count_job_server(
        tmp, ["--db", str(db), "--admin-did", ADMIN, "--allow-private-network", *extra], job_env
    ).start()
    try:
        yield server, key
    finally:
        server.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_counting(
        tmp_path_factory.mktemp("ops"), {"TEST_JOB_ITEMS": "300", "TEST_JOB_DELAY": "0.02", "TEST_JOB_DLQ_EVERY": "100"}
    )


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One worker, kept busy by a count that outlasts the tests: whatever is triggered next stays queued."""
    for served in serve_counting(
        tmp_path_factory.mktemp("busy"), {"TEST_JOB_ITEMS": "100000", "TEST_JOB_DELAY": "0.05"}, "--workers", "1"
    ):
        trigger_count(served, 1)
        yield served


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    """A server whose count job writes hostile text into its dead letters and its failure, counting repositories
    (no record total); and the id of the op that failed."""
    env = {
        "TEST_JOB_ITEMS": "20",
        "TEST_JOB_DLQ_EVERY": "5",
        "TEST_JOB_FAIL_AT": "12",
        "TEST_JOB_TEXT": HOSTILE,
        "TEST_JOB_UNIT": "repos",
        "TEST_JOB_DELAY": "0.02",
    }
    for served in serve_counting(tmp_path_factory.mktemp("hostile"), env):
        op_id = trigger_count(served, 1)
        assert wait_ended_on(served, op_id)["status"] == "failed"
        yield served, op_id


def cli(served: Served, *args: str, columns: int = 200) -> subprocess.CompletedProcess[str]:
    server, key = served
    env = {**os.environ, "CHIVE_ADMIN_URL": server.url, "CHIVE_ADMIN_KEY": key, "COLUMNS": str(columns)}
    return subprocess.run(cli_command(*args), capture_output=True, text=True, env=env, timeout=120, check=False)


def raw_cli(served: Served, *args: str) -> bytes:
    """Everything the command wrote, stdout then stderr, byte for byte (wide enough that no cell wraps)."""
    server, key = served
    env = {**os.environ, "CHIVE_ADMIN_URL": server.url, "CHIVE_ADMIN_KEY": key, "COLUMNS": "400"}
    done = subprocess.run(cli_command(*args), capture_output=True, env=env, timeout=120, check=False)
    return done.stdout + done.stderr


def http(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served[0].url)


def operation_of(served: Served, op_id: str) -> Operation:
    with http(served) as client:
        return operation(client, op_id, headers=bearer(served[1]))


def wait_ended_on(served: Served, op_id: str) -> Operation:
    with http(served) as client:
        return wait_ended(client, op_id, headers=bearer(served[1]))


def trigger_count(served: Served, batch: int) -> str:
    with http(served) as client:
        body = {"type": "testCount", "batchSize": batch}
        return started(call(client, ids.PUB_CHIVE_ADMIN_TRIGGER_BACKFILL, body, headers=bearer(served[1])))


def _ctrl_c_as_in_a_terminal() -> None:
    # a command started in the background of a shell without job control (nohup, `cmd &` in a script) inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt; a terminal's Ctrl-C has its default action
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """The real CLI under a pseudo-terminal (a live display, as an operator sees it); its output read as it comes."""

    def __init__(self, served: Served, *args: str) -> None:
        server, key = served
        env = {**os.environ, "CHIVE_ADMIN_URL": server.url, "CHIVE_ADMIN_KEY": key, "COLUMNS": "120", "TERM": "xterm"}
        self.primary, secondary = pty.openpty()
        self.proc = subprocess.Popen(
            cli_command(*args),
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            env=env,
            close_fds=True,
            preexec_fn=_ctrl_c_as_in_a_terminal,
        )
        os.close(secondary)
        self.seen = b""

    def read_until(self, done: Callable[[bytes], bool], seconds: float = 60) -> bool:
        """Read until ``done(output)`` or the command ends (then everything it wrote is read)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not done(self.seen):
            ready, _, _ = select.select([self.primary], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(self.primary, 65536)
                except OSError:  # the command has ended and closed its side
                    return done(self.seen)
                if not chunk:
                    return done(self.seen)
                self.seen += chunk
            elif self.proc.poll() is not None:
                return done(self.seen)
        return done(self.seen)

    def finish(self, seconds: float = 60) -> int:
        try:
            self.read_until(lambda _: False, seconds)
            return self.proc.wait(30)
        finally:
            os.close(self.primary)
            if self.proc.poll() is None:
                self.proc.kill()

    @property
    def text(self) -> str:
        return self.seen.decode(errors="replace")


def test_trigger_and_watch_a_completed_op(served: Served) -> None:
    done = cli(served, "ops", "trigger", "full-reindex", "--batch-size", "100", "--watch", "--json")
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert (last["type"], last["status"]) == ("full-reindex", "completed")
    shown = cli(served, "ops", "show", last["id"], "--json")
    assert json.loads(shown.stdout)["operation"]["id"] == last["id"]
    listed = cli(served, "ops", "list", "--status", "completed", "--json")
    assert last["id"] in {op["id"] for op in json.loads(listed.stdout)["operations"]}
    human = cli(served, "ops", "show", last["id"])
    assert "batchSize=100" in human.stdout  # a JSON object as key=value, never a Python dict
    assert "{" not in human.stdout


def test_a_failed_op_exits_non_zero_with_its_error(served: Served) -> None:
    failed = cli(served, "ops", "trigger", "pds-scan", "--pds-url", "http://127.0.0.1:9", "--watch")
    assert failed.returncode == 4
    op_id = failed.stdout.split()[0]
    assert OP_ID.fullmatch(op_id)  # the id comes first, as soon as the op is queued
    assert f"{op_id} queued (pds-scan)" in failed.stdout
    assert "failed" in failed.stdout
    assert "pds_unreachable" in failed.stdout


def test_cancel_and_watch_a_cancelled_op(served: Served) -> None:
    op_id = trigger_count(served, 1)
    cancelled = cli(served, "ops", "cancel", op_id)
    assert cancelled.returncode == 0
    watched = cli(served, "ops", "watch", op_id, "--interval", "0.1")
    assert watched.returncode == 5
    assert "cancelled" in watched.stdout


def test_ops_list_shows_recent_ops_of_every_state_with_whole_ids(served: Served) -> None:
    ended = cli(served, "ops", "trigger", "full-reindex", "--batch-size", "7", "--watch", "--json")
    completed = json.loads(ended.stdout.splitlines()[-1])["id"]
    failed = cli(served, "ops", "trigger", "pds-scan", "--pds-url", "http://127.0.0.1:9", "--watch").stdout.split()[0]
    running = trigger_count(served, 1)
    try:
        wide = cli(served, "ops", "list")
        assert wide.returncode == 0, wide.stderr
        assert "failed (pds_unreachable)" in wide.stdout  # every state by default, a failure with its code
        assert " completed " in wide.stdout
        narrow = cli(served, "ops", "list", columns=50)
        for op_id in (completed, failed, running):
            assert op_id in narrow.stdout  # other columns wrap; an id is never cut
        assert "…" not in narrow.stdout
        assert cli(served, "ops", "list", "--limit", "1", "--json").stdout.count('"id"') == 1
    finally:
        cli(served, "ops", "cancel", running)


def test_ops_accept_a_unique_id_prefix(served: Served) -> None:
    first, second = trigger_count(served, 1), trigger_count(served, 2)
    shown = cli(served, "ops", "show", second[:20])
    assert shown.returncode == 0, shown.stderr
    assert second in shown.stdout
    shared = first[: next(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)]
    ambiguous = cli(served, "ops", "cancel", shared)
    assert ambiguous.returncode == 2
    assert "give more of it" in ambiguous.stderr
    for op_id in (first, second):
        cancelled = cli(served, "ops", "cancel", op_id[:22].lower())
        assert cancelled.stdout.strip() == f"cancel requested for {op_id}"
    assert cli(served, "ops", "watch", first[:22], "--interval", "0.1").returncode == 5


def test_server_errors_are_one_line(served: Served) -> None:
    missing = cli(served, "ops", "cancel", "01NOSUCHOP")
    assert missing.returncode == 1
    assert missing.stderr == "chive-admin: error: no operation id is or starts with '01NOSUCHOP'\n"
    wrong_key = subprocess.run(
        cli_command("ops", "list", "--url", served[0].url, "--key", "ca_wrong"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong_key.returncode == 1
    assert wrong_key.stderr.startswith("chive-admin: error: AuthenticationRequired")
    misuse = cli(served, "ops", "trigger", "governance-sync", "--did", "did:plc:x")
    assert misuse.returncode == 2
    assert misuse.stderr == "chive-admin: error: governance-sync takes no --did\n"


def test_a_trial_network_backfill_is_triggered_with_collection_and_limit(served: Served) -> None:
    made = cli(
        served, "ops", "trigger", "pds-scan", "--collection", "pub.chive.review.comment", "--limit", "5", "--json"
    )
    assert made.returncode == 0, made.stderr
    op_id = json.loads(made.stdout)["operationId"]
    shown = json.loads(cli(served, "ops", "show", op_id, "--json").stdout)["operation"]
    assert (shown["type"], shown["params"]) == ("pds-scan", {"collection": "pub.chive.review.comment", "limit": 5})
    cli(served, "ops", "cancel", op_id)


def test_client_errors_are_words_not_class_names(served: Served) -> None:
    unreachable = cli(served, "ops", "list", "--url", "http://127.0.0.1:9")
    assert unreachable.returncode == 1
    assert unreachable.stderr == "chive-admin: error: cannot reach http://127.0.0.1:9: connection refused\n"
    no_scheme = cli(served, "ops", "list", "--url", f"127.0.0.1:{served[0].port}")
    assert no_scheme.returncode == 2
    assert no_scheme.stderr.endswith(": the URL needs http:// or https://\n")
    bad_port = cli(served, "dlq", "list", "--url", "http://127.0.0.1:port")
    assert (bad_port.returncode, bad_port.stderr.count("\n")) == (2, 1)
    assert "not a valid URL" in bad_port.stderr


def test_dlq_commands(served: Served) -> None:
    op_id = trigger_count(served, 50)
    assert cli(served, "ops", "watch", op_id, "--interval", "0.1").returncode == 3  # partial: dead letters
    listed = cli(served, "dlq", "list", "--json")
    total = json.loads(listed.stdout)["total"]
    assert total >= 3
    human = cli(served, "dlq", "list")
    assert human.stdout.splitlines()[0].split() == [
        "index",
        "id",
        "error",
        "type",
        "uri",
        "/",
        "did",
        "retries",
        "message",
    ]
    assert "entries in all; retry or dismiss one by its INDEX" in human.stdout
    dismissed = cli(served, "dlq", "dismiss", "0")
    assert dismissed.returncode == 0
    assert dismissed.stdout.startswith("index 0: Entry ")
    assert json.loads(cli(served, "dlq", "list", "--json").stdout)["total"] == total - 1
    retried = cli(served, "dlq", "retry", "--all", "--json")
    assert json.loads(retried.stdout)["retriedCount"] == total - 1
    assert cli(served, "dlq", "retry").stderr == "chive-admin: error: give an INDEX (from `dlq list`) or --all\n"


def test_help_says_which_type_takes_each_trigger_flag() -> None:
    shown = subprocess.run(
        cli_command("ops", "trigger", "--help"), capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"}
    ).stdout
    flat = " ".join(shown.split())
    for flag, op_type in (
        ("--pds-url", "pds-scan"),
        ("--did", "did-sync"),
        ("--tier", "freshness-scan"),
        ("--uri", "citation-extraction"),
        ("--batch-size", "full-reindex"),
        ("--collection", "pds-scan"),
        ("--limit", "pds-scan"),
    ):
        assert re.search(rf"{flag} \S+ {op_type} only:", flat), flag
    dlq_help = subprocess.run(cli_command("dlq", "--help"), capture_output=True, text=True).stdout
    assert "INDEX" in dlq_help


def test_watch_shows_live_progress_on_a_terminal(served: Served) -> None:
    op_id = trigger_count(served, 1)  # 300 batches of 0.02 s: several polls see it running
    terminal = Terminal(served, "ops", "watch", op_id, "--interval", "0.2")
    code = terminal.finish()
    assert code == 3  # partial: every 100th item is dead-lettered
    text = terminal.text
    assert "running" in text
    assert "rec/s" in text
    assert "/300" in text
    assert " records " in text
    assert "\x1b[" in text  # redrawn in place, a live display
    assert f"{op_id} partial" in text


def test_ctrl_c_stops_watching_not_the_operation(served: Served) -> None:
    op_id = trigger_count(served, 1)
    terminal = Terminal(served, "ops", "watch", op_id, "--interval", "0.2")
    try:
        assert terminal.read_until(lambda seen: b"running" in seen)
        terminal.proc.send_signal(signal.SIGINT)
    finally:
        code = terminal.finish()
    assert code == 130
    assert f"stopped watching; {op_id} is still running" in terminal.text
    assert "Traceback" not in terminal.text
    assert operation_of(served, op_id)["status"] in ("running", "partial")  # the op went on
    cli(served, "ops", "cancel", op_id)


def test_ctrl_c_in_trigger_watch_after_the_id_is_out(busy: Served) -> None:
    terminal = Terminal(busy, "ops", "trigger", "full-reindex", "--watch")
    try:
        assert terminal.read_until(lambda seen: seen.count(b"queued") >= 2)  # the id first, then a poll
        terminal.proc.send_signal(signal.SIGINT)
    finally:
        code = terminal.finish()
    assert code == 130
    op_id = terminal.text.split()[0]
    assert terminal.text.startswith(f"{op_id} queued (full-reindex)")
    assert OP_ID.fullmatch(op_id), terminal.text
    assert f"stopped watching; {op_id} is still queued" in terminal.text
    assert "Traceback" not in terminal.text
    assert operation_of(busy, op_id)["status"] == "queued"  # one busy worker: it waits its turn


def test_watch_rides_through_a_server_restart(tmp_path: Path) -> None:
    for served in serve_counting(tmp_path, {"TEST_JOB_ITEMS": "150", "TEST_JOB_DELAY": "0.03"}):
        server, key = served
        op_id = trigger_count(served, 1)
        env = {**os.environ, "CHIVE_ADMIN_URL": server.url, "CHIVE_ADMIN_KEY": key}
        watch = subprocess.Popen(
            cli_command("ops", "watch", op_id, "--json", "--interval", "0.2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        again = ServerProcess(args=server.args, cwd=server.cwd, env=server.env, port=server.port)
        try:
            assert watch.stdout is not None
            assert json.loads(watch.stdout.readline())["id"] == op_id  # watching
            server.stop()
            time.sleep(1)  # a few refused polls
            again.start()
            out, err = watch.communicate(timeout=120)
        finally:
            again.stop()
            if watch.poll() is None:
                watch.kill()
        assert watch.returncode == 0, err
        assert json.loads(out.decode().splitlines()[-1])["status"] == "completed"
        assert b"connection refused; reconnecting" in err
        assert b"reconnected" in err
        assert b"Traceback" not in err


def test_progress_counts_repositories_and_the_ops_own_rate(hostile: tuple[Served, str]) -> None:
    served, op_id = hostile
    op = operation_of(served, op_id)
    assert "totalRecords" not in op
    watched = cli(served, "ops", "watch", op_id)
    assert watched.returncode == 4
    assert f"{op['processedRepos']}/20 repos" in watched.stdout
    seconds = (parse_stamp(str(op["completedAt"])) - parse_stamp(str(op["startedAt"]))).total_seconds()
    assert f"{int(str(op['recordsProcessed'])) / seconds:,.0f} rec/s" in watched.stdout  # not since the watch began


def test_server_text_is_printed_literally(hostile: tuple[Served, str]) -> None:
    served, op_id = hostile
    for args in (
        ("ops", "show", op_id),
        ("ops", "list"),
        ("ops", "watch", op_id),
        ("dlq", "list"),
        ("ops", "show", "\x1b[2J\x1b]0;title\x07"),
    ):
        output = raw_cli(served, *args)
        assert b"\x1b" not in output, args
        assert b"\xe2\x80\xae" not in output, args  # no raw right-to-left override
        assert b"Traceback" not in output, args
    for args in (("ops", "show", op_id), ("dlq", "list")):
        output = raw_cli(served, *args)
        assert b"\\x1b]0;pwned\\x07\\x1b[2J" in output  # made visible
        assert b"[link=https://evil.example]click[/link] [/] :warning: \\u202eevil" in output
    for args in (("ops", "show", op_id), ("dlq", "list")):  # on a terminal rich styles: no OSC, no clear screen
        terminal = Terminal(served, *args)
        assert terminal.finish() == 0
        assert b"\x1b]" not in terminal.seen
        assert b"\x1b[2J" not in terminal.seen
        assert "[/]" in terminal.text


def test_an_answer_of_another_shape_is_one_line() -> None:
    with scripted_server() as (url, script):
        script.default = Answer(200, b'{"operations": 5, "operation": "x", "entries": [1], "total": "many"}')
        for args in (("ops", "list"), ("ops", "show", "01ABC"), ("ops", "watch", "01ABC"), ("dlq", "list")):
            done = subprocess.run(
                cli_command(*args, "--url", url), capture_output=True, text=True, timeout=60, check=False
            )
            assert done.returncode == 1, args
            assert done.stderr == "chive-admin: error: the server's answer is not what this command expects\n", args


def test_status_without_live_indexing(served: Served) -> None:
    done = cli(served, "status")
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "health: healthy",
        "firehose cursor: none, dead letters: " + str(json.loads(cli(served, "dlq", "list", "--json").stdout)["total"]),
        "live indexing is off in this server process (no --firehose-url)",
    ]


def test_status_shows_each_firehose_source(tmp_path: Path) -> None:
    unreachable = "http://127.0.0.1:1"  # nothing listens: the source stays disconnected
    for served in serve_counting(tmp_path, {}, "--firehose-url", unreachable):
        answer = json.loads(cli(served, "status", "--json").stdout)
        (source,) = answer["firehose"]["sources"]
        assert (source["url"], source["connected"], source["lagMs"]) == (unreachable, False, 0)
        assert answer["health"]["status"] == "healthy"  # not down for a minute yet
        lines = cli(served, "status").stdout.splitlines()
        assert lines[0] == "health: healthy"
        assert lines[2].split() == ["source", "state", "cursor", "lag", "events/s", "problem"]
        assert lines[3].split()[:3] == [unreachable, "disconnected", "since"]
        assert lines[3].split()[-4:] == ["none", "0.0", "s", "0.0"]
