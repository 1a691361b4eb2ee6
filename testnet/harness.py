"""Start and stop the reference ATProto network (PLC + two PDSes): for the interop tests and scripts/start-testnet.

The network is ``tests/interop/testnet/testnet.mjs`` run by the Node 22 that
``scripts/install-testnet.sh`` installs (with ``@atproto/dev-env``) into ``.cache/testnet/<key>/``.

Locating the install (:func:`locate_install`), in this order:

1. ``CHIVE_TESTNET_DIR``: an install directory printed by ``scripts/install-testnet.sh`` (used as is,
   the script is not run);
2. otherwise ``scripts/install-testnet.sh`` is run: a no-op taking milliseconds when the cache is
   ready, a one-time install of ~1.5 min otherwise. Set ``CHIVE_TESTNET_AUTO_INSTALL=0`` to never
   install from the tests (then a missing install is "unavailable").

Protocol with the node script: it prints ONE JSON line on stdout when everything listens, logs to
stderr, and shuts down cleanly when its stdin closes or on SIGTERM/SIGINT. :class:`Testnet` starts it
in its own process group (session), sends its stderr to a log file (so a full pipe can never block
it), and :meth:`Testnet.close` closes stdin, waits, then escalates SIGTERM → SIGKILL to the whole
group. If the Python process dies without closing, the node script still sees stdin close and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTNET_SRC = REPO_ROOT / "tests" / "interop" / "testnet"
TESTNET_SCRIPT = TESTNET_SRC / "testnet.mjs"
VALIDATE_SCRIPT = TESTNET_SRC / "validate_records.mjs"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-testnet.sh"
REFERENCE_LEXICONS = Path(
    os.environ.get("CHIVE_REFERENCE_LEXICONS", REPO_ROOT.parent / "shared" / "reference" / "chive-lexicons")
)
PROJECT_LEXICONS = REPO_ROOT / "lexicons"

INSTALL_TIMEOUT_S = 1800.0
START_TIMEOUT_S = 90.0
CLOSE_TIMEOUT_S = 25.0


class TestnetUnavailable(RuntimeError):
    """The testnet cannot be used on this machine (no Node/npm, install failed, disabled)."""

    __test__ = False  # not a test class, despite the name


class TestnetError(RuntimeError):
    """The testnet was installed but misbehaved (failed to start, bad output, did not stop)."""

    __test__ = False


def in_ci() -> bool:
    """True when running under CI (env CI=true/1/yes): interop tests must fail there, never skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _read_tail(path: Path, lines: int = 40) -> str:
    try:
        return _tail(path.read_text(encoding="utf-8", errors="replace"), lines)
    except OSError:
        return "(no log)"


def node_binary(install_dir: Path) -> Path:
    """The Node 22 binary of an install (``<dir>/bin/node``, a link made by the install script)."""
    return install_dir / "bin" / "node"


def _check_install_dir(install_dir: Path) -> Path:
    install_dir = install_dir.resolve()
    problems = []
    if not (install_dir / ".ready").is_file():
        problems.append(".ready marker missing")
    if not node_binary(install_dir).exists():
        problems.append("bin/node missing")
    if not (install_dir / "node_modules" / "@atproto" / "dev-env").is_dir():
        problems.append("node_modules/@atproto/dev-env missing")
    if problems:
        raise TestnetUnavailable(
            f"{install_dir} is not a complete testnet install ({', '.join(problems)}); run scripts/install-testnet.sh"
        )
    return install_dir


def locate_install(*, timeout: float = INSTALL_TIMEOUT_S) -> Path:
    """Return the testnet install directory, installing it first if needed.

    Raises :class:`TestnetUnavailable` (with a one-line reason) when it can't be had.
    """
    explicit = os.environ.get("CHIVE_TESTNET_DIR", "").strip()
    if explicit:
        return _check_install_dir(Path(explicit))

    missing = [tool for tool in ("node", "npm", "bash") if shutil.which(tool) is None]
    if missing:
        raise TestnetUnavailable(
            f"{' and '.join(missing)} not found on PATH; the interop testnet needs Node.js + npm "
            f"(then scripts/install-testnet.sh installs Node 22 and @atproto/dev-env)"
        )

    if os.environ.get("CHIVE_TESTNET_AUTO_INSTALL", "1").strip().lower() in {"0", "false", "no", "off"}:
        # Read-only: find a ready install for the current key without running npm.
        result = _run_install_script(timeout=timeout, dry=True)
        if result is None:
            raise TestnetUnavailable(
                "testnet not installed and CHIVE_TESTNET_AUTO_INSTALL=0; run scripts/install-testnet.sh"
            )
        return result
    result = _run_install_script(timeout=timeout, dry=False)
    assert result is not None
    return result


def _run_install_script(*, timeout: float, dry: bool) -> Path | None:
    env = dict(os.environ)
    if dry:
        env["CHIVE_TESTNET_CHECK_ONLY"] = "1"
    try:
        proc = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        raise TestnetUnavailable(
            f"scripts/install-testnet.sh did not finish within {timeout:.0f} s:\n{_tail(stderr)}"
        ) from exc
    if dry and proc.returncode == 3:
        return None
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise TestnetUnavailable(
            f"scripts/install-testnet.sh failed (exit {proc.returncode}): {last[0]}\n"
            f"--- install log tail ---\n{_tail(proc.stderr)}"
        )
    lines = proc.stdout.strip().splitlines()
    if not lines:
        raise TestnetUnavailable("scripts/install-testnet.sh printed no install directory")
    return _check_install_dir(Path(lines[-1]))


@dataclass(frozen=True)
class TestnetInfo:
    """What the node script reports once the network listens."""

    __test__ = False

    plc_url: str
    pds_url: str
    pds2_url: str
    pds_did: str
    pds2_did: str
    admin_password: str
    handle_domain: str
    data_dir: str
    pid: int
    node_version: str
    dev_env_version: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TestnetInfo:
        return cls(
            plc_url=raw["plc"],
            pds_url=raw["pds"],
            pds2_url=raw["pds2"],
            pds_did=raw["pdsDid"],
            pds2_did=raw["pds2Did"],
            admin_password=raw["adminPassword"],
            handle_domain=raw["handleDomain"],
            data_dir=raw["dataDir"],
            pid=int(raw["pid"]),
            node_version=raw["node"],
            dev_env_version=raw["devEnv"],
            raw=raw,
        )


class Testnet:
    """One running reference network: a PLC directory and two PDSes on loopback.

    >>> net = Testnet(locate_install()).start()
    >>> net.pds_url, net.pds2_url, net.plc_url
    >>> net.close()

    Or as a context manager. ``close()`` is idempotent and also registered with :mod:`atexit`.
    """

    __test__ = False

    def __init__(
        self,
        install_dir: Path,
        *,
        start_timeout: float = START_TIMEOUT_S,
        log_enabled: bool | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.install_dir = Path(install_dir).resolve()
        self.start_timeout = start_timeout
        if log_enabled is None:
            log_enabled = os.environ.get("CHIVE_TESTNET_LOG", "").strip().lower() in {"1", "true", "yes"}
        self.log_enabled = log_enabled
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.pgid: int | None = None
        self._info: TestnetInfo | None = None
        self.log_path: Path | None = None
        self.returncode: int | None = None
        self.start_seconds: float | None = None
        self._closed = False

    # -- properties -------------------------------------------------------------------------------

    @property
    def info(self) -> TestnetInfo:
        if self._info is None:
            raise TestnetError("testnet not started")
        return self._info

    @property
    def plc_url(self) -> str:
        return self.info.plc_url

    @property
    def pds_url(self) -> str:
        return self.info.pds_url

    @property
    def pds2_url(self) -> str:
        return self.info.pds2_url

    def signing_key(self, did: str) -> str:
        """The ``#atproto`` key of ``did`` as the PLC directory has it now, as a did:key."""
        import httpx  # imported here: the rest of the harness needs only the standard library
        from atproto_crypto.did import get_did_key

        doc = httpx.get(f"{self.plc_url}/{did}", timeout=10).json()
        method = next(vm for vm in doc["verificationMethod"] if vm["id"].endswith("#atproto"))
        key = get_did_key(method["type"], method["publicKeyMultibase"])
        assert key is not None
        return str(key)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise TestnetError("testnet not started")
        return self.proc.pid

    def stderr_tail(self, lines: int = 40) -> str:
        return _read_tail(self.log_path, lines) if self.log_path else "(no log)"

    # -- lifecycle --------------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # dev-env/PDS logging (pino) is off unless asked for; the script sends it to stderr anyway.
        for key in ("LOG_ENABLED", "LOG_DESTINATION", "TESTNET_DATA_DIR", "TESTNET_IGNORE_STDIN"):
            env.pop(key, None)
        if self.log_enabled:
            env["LOG_ENABLED"] = "true"
        env["TESTNET_NODE_MODULES"] = str(self.install_dir)
        env.update(self.extra_env)
        return env

    def start(self) -> Testnet:
        if self.proc is not None:
            raise TestnetError("testnet already started")
        node = node_binary(self.install_dir)
        if not node.exists():
            raise TestnetUnavailable(f"{node} not found; run scripts/install-testnet.sh")
        fd, log_name = tempfile.mkstemp(prefix="chive-testnet-", suffix=".log")
        self.log_path = Path(log_name)
        started = time.monotonic()
        os.close(fd)
        try:
            # Append mode: with LOG_ENABLED, pino reopens /dev/stderr as a second file description;
            # O_APPEND on both keeps their writes from overwriting each other.
            with open(log_name, "ab") as log_file:
                self.proc = subprocess.Popen(
                    [str(node), str(TESTNET_SCRIPT)],
                    cwd=self.install_dir,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log_file,
                    env=self._env(),
                    start_new_session=True,  # own session + process group: close() kills the group
                )
        except OSError as exc:
            self.log_path.unlink(missing_ok=True)
            raise TestnetError(f"cannot run {node}: {exc}") from exc
        self.pgid = self.proc.pid
        atexit.register(self.close)
        try:
            line = self._read_ready_line(started + self.start_timeout)
            raw = json.loads(line)
            self._info = TestnetInfo.from_json(raw)
        except Exception as exc:
            self._kill_group()
            detail = str(exc) if isinstance(exc, TestnetError) else f"{type(exc).__name__}: {exc}"
            raise TestnetError(
                f"the testnet did not start: {detail}\n--- node stderr tail ({self.log_path}) ---\n{self.stderr_tail()}"
            ) from exc
        self.start_seconds = time.monotonic() - started
        return self

    def _read_ready_line(self, deadline: float) -> str:
        assert self.proc is not None
        assert self.proc.stdout is not None
        stdout = self.proc.stdout
        buf = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TestnetError(f"no JSON line on stdout within {self.start_timeout:.0f} s")
                if not sel.select(timeout=min(remaining, 0.5)):
                    if self.proc.poll() is not None:
                        raise TestnetError(f"node exited with code {self.proc.returncode} before it was ready")
                    continue
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    code = self.proc.wait(timeout=5)
                    raise TestnetError(f"node closed stdout (exit code {code}) before it was ready")
                buf += chunk
        line, _, rest = bytes(buf).partition(b"\n")
        if rest.strip():
            raise TestnetError(f"unexpected extra stdout after the JSON line: {rest[:200]!r}")
        return line.decode()

    def _group_alive(self) -> bool:
        if self.pgid is None:
            return False
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.pgid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, sig)

    def _kill_group(self) -> None:
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
            self.returncode = self.proc.returncode
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> int | None:
        """Stop the network: close stdin, wait; then SIGTERM, then SIGKILL the process group.

        Returns the node process's exit code (0 for a clean shutdown). Idempotent.
        """
        if self._closed or self.proc is None:
            return self.returncode
        self._closed = True
        atexit.unregister(self.close)
        proc = self.proc
        try:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    proc.wait(timeout=10)
        finally:
            # Anything left in the group (there should be nothing) goes too.
            if self._group_alive():
                self._signal_group(signal.SIGKILL)
                deadline = time.monotonic() + 5
                while self._group_alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
            if proc.stdout is not None:
                with contextlib.suppress(OSError):
                    proc.stdout.close()
            self.returncode = proc.returncode
            # The script removes its data dir on a clean exit; not after SIGKILL.
            if self._info is not None and self._info.data_dir:
                data_dir = Path(self._info.data_dir)
                if data_dir.name.startswith("chive-testnet-"):
                    shutil.rmtree(data_dir, ignore_errors=True)
            if self.returncode == 0 and self.log_path is not None and not os.environ.get("CHIVE_TESTNET_KEEP_LOG"):
                with contextlib.suppress(OSError):
                    self.log_path.unlink()
        return self.returncode

    def __enter__(self) -> Testnet:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


def lexicon_sources(required: str = "pub/chive/eprint/submission.json") -> dict[str, Path]:
    """Lexicon trees that hold Chive's record lexicons: ``reference`` (Chive's own, when present) and
    ``project`` (this repo's ``lexicons/``, once it carries the record lexicons)."""
    found = {}
    for name, root in (("reference", REFERENCE_LEXICONS), ("project", PROJECT_LEXICONS)):
        if (root / required).is_file():
            found[name] = root
    return found


def validate_records(
    install_dir: Path,
    records: list[tuple[str, dict[str, Any]]],
    *,
    lexicon_dir: Path = REFERENCE_LEXICONS,
    timeout: float = 60.0,
) -> list[str | None]:
    """Validate ``(collection, record)`` pairs with the reference validator (``@atproto/lexicon``).

    Loads every lexicon under ``lexicon_dir`` and returns, per record, ``None`` if it is valid or the
    validator's error message.
    """
    if not lexicon_dir.is_dir():
        raise TestnetUnavailable(f"reference lexicons not found at {lexicon_dir} (set CHIVE_REFERENCE_LEXICONS)")
    payload = json.dumps(
        {"lexiconDir": str(lexicon_dir), "records": [{"collection": c, "record": r} for c, r in records]}
    )
    install_dir = Path(install_dir).resolve()
    env = dict(os.environ, TESTNET_NODE_MODULES=str(install_dir))
    proc = subprocess.run(
        [str(node_binary(install_dir)), str(VALIDATE_SCRIPT)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=install_dir,
        check=False,
    )
    if proc.returncode != 0:
        raise TestnetError(f"validate_records.mjs failed (exit {proc.returncode}):\n{_tail(proc.stderr)}")
    results = json.loads(proc.stdout)["results"]
    return [None if r["ok"] else r["error"] for r in results]
