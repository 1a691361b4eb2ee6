"""A throwaway PostgreSQL cluster for the tests and benchmarks of the PostgreSQL backend.

:meth:`PostgresCluster.start` runs ``initdb`` into a new temporary directory and ``pg_ctl start`` on a free
loopback port; :meth:`PostgresCluster.destroy` stops it and removes every file. In between the cluster can be
stopped and started again on the same port, its files kept, to test a server whose database went away.

Who connects how:

* ``chive`` (:attr:`PostgresCluster.user`), a role with LOGIN and CREATEDB but not a superuser, over TCP on
  127.0.0.1 with a random password (SCRAM): what the server under test uses, through :meth:`PostgresCluster.url`;
* ``postgres`` (:attr:`PostgresCluster.superuser`), trusted over the Unix socket only, which lives in the
  cluster's directory (mode 0700): the harness's own ``psql`` for creating roles and databases.

The binaries are the newest PostgreSQL on the machine (``pg_config --bindir``, else ``/usr/lib/postgresql/*/bin``,
else ``initdb`` on PATH); ``scripts/install-postgres.sh`` installs Debian's when there is none. The server refuses
to run as root, so under root every PostgreSQL program runs as the ``postgres`` system user (``runuser``) and the
cluster's directory belongs to it.

Durability is left as in production (``fsync`` stays on): the tests kill servers and restart the database and
must see what a real deployment would. Only ``initdb`` skips its final sync (``--no-sync``): a crash of the whole
machine during a test run is not something a test needs to survive.

If Python exits without destroying a cluster, an :mod:`atexit` hook does it; a process killed outright leaves a
``chive-pg-*`` directory and its postmaster behind (``pg_ctl stop -D <dir>/data`` ends it).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-postgres.sh"

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 120.0
# tries at a free port: another process may take the one picked before the server binds it
PORT_ATTEMPTS = 3

REQUIRED_PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql")
SYSTEM_USER = "postgres"
# Unix socket paths are capped at 107 bytes (sun_path); the socket is <dir>/.s.PGSQL.<port>
_MAX_SOCKET_PATH = 107
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be run on this machine (no server binaries, no ``postgres`` system user under root)."""


class PostgresError(RuntimeError):
    """PostgreSQL is installed but the cluster misbehaved (did not start or stop, a command failed)."""


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _has_server(bindir: Path) -> bool:
    return all(os.access(bindir / program, os.X_OK) for program in REQUIRED_PROGRAMS)


def _version_key(path: Path) -> tuple[int, str]:
    # /usr/lib/postgresql/<major>/bin: sort 15 above 9.6 numerically
    name = path.parent.name
    major = name.split(".", 1)[0]
    return (int(major) if major.isdigit() else -1, name)


def find_bindir() -> Path:
    """The directory of the newest PostgreSQL server binaries on this machine.

    Raises :class:`PostgresUnavailable` naming ``scripts/install-postgres.sh`` when there is none.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        # Debian's pg_config comes with libpq-dev and may name a version whose server is not installed: checked below
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True))
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).resolve().parent)
    for candidate in candidates:
        if _has_server(candidate):
            return candidate
    raise PostgresUnavailable(
        f"no PostgreSQL server binaries found ({', '.join(REQUIRED_PROGRAMS)} in `pg_config --bindir`, "
        f"/usr/lib/postgresql/*/bin or beside initdb on PATH); run scripts/install-postgres.sh"
    )


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _check_identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a plain PostgreSQL name ([a-z_][a-z0-9_]*, at most 63 characters): {name!r}")
    return name


def _ident(name: str) -> str:
    return f'"{_check_identifier(name)}"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _clean_env() -> dict[str, str]:
    # PGHOST, PGPORT, PGDATA, PGOPTIONS, PGSERVICE… of the caller's shell must not redirect the harness's commands
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


class PostgresCluster:
    """A throwaway PostgreSQL cluster on a free loopback port, in a temp dir, password auth over TCP.

    >>> with PostgresCluster.start() as cluster:
    ...     name = cluster.create_database()
    ...     url = cluster.url(name)  # postgresql://chive:<password>@127.0.0.1:<port>/<name>

    ``stop()`` keeps the files and the port for ``start_again()``; ``destroy()`` (also on leaving the ``with``
    block, and at interpreter exit) stops the server and removes the directory.
    """

    host = "127.0.0.1"
    user = "chive"
    superuser = "postgres"

    def __init__(self, *, root: Path, bindir: Path, run_as: str | None, password: str) -> None:
        self.root = root
        self.bindir = bindir
        self.run_as = run_as
        self.password = password
        self.port = 0
        self.start_seconds: float | None = None
        self._destroyed = False
        self._owner_pid = os.getpid()

    # -- layout -----------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return _tail(self.log_path.read_text(encoding="utf-8", errors="replace"), lines)
        except OSError:
            return "(no log)"

    def postmaster_pid(self) -> int | None:
        """The server's pid from ``postmaster.pid`` if that file exists and the process runs, else None."""
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        except OSError:
            return None
        if not first.isdigit():
            return None
        pid = int(first)
        return pid if _pid_running(pid) else None

    # -- lifecycle --------------------------------------------------------------------------------

    @classmethod
    def start(cls, base_dir: Path | None = None) -> PostgresCluster:
        """initdb a new cluster in a new directory (under ``base_dir``, else the temp dir) and start it.

        Returns once it accepts connections. On any failure nothing is left running and the directory is removed.
        """
        started = time.monotonic()
        bindir = find_bindir()
        run_as: str | None = None
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            run_as = SYSTEM_USER
            try:
                owner = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root but there is no {SYSTEM_USER!r} system user to run PostgreSQL as; "
                    f"run scripts/install-postgres.sh"
                ) from None
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root but runuser (util-linux) is not on PATH")
        root = Path(tempfile.mkdtemp(prefix="chive-pg-", dir=base_dir)).resolve()
        cluster = cls(root=root, bindir=bindir, run_as=run_as, password=secrets.token_hex(16))
        atexit.register(cluster._destroy_at_exit)
        try:
            if owner is not None:
                os.chown(root, owner.pw_uid, owner.pw_gid)
            cluster._check_root()
            cluster._initdb()
            cluster._start_on_free_port()
            cluster._create_role()
        except BaseException:
            cluster.destroy()
            raise
        cluster.start_seconds = time.monotonic() - started
        return cluster

    def stop(self) -> None:
        """``pg_ctl stop -m fast``; the files and the port are kept for :meth:`start_again`. A no-op when stopped."""
        if self.postmaster_pid() is None:
            return
        result = self._run(
            [self._bin("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(STOP_TIMEOUT_S))],
            timeout=STOP_TIMEOUT_S + 10,
            check=False,
        )
        if result.returncode == 0 and self.postmaster_pid() is None:
            return
        self._kill()
        raise PostgresError(
            f"pg_ctl stop -m fast failed (exit {result.returncode}); the server was killed\n"
            f"{_tail(result.stderr)}\n--- server log tail ({self.log_path}) ---\n{self.log_tail()}"
        )

    def start_again(self) -> None:
        """``pg_ctl start`` the stopped cluster on the same port; returns once it accepts connections."""
        if self._destroyed:
            raise PostgresError("the cluster was destroyed")
        if self.postmaster_pid() is not None:
            raise PostgresError("the cluster is already running")
        self._start_server()

    def destroy(self) -> None:
        """Stop the server if it runs (killing it if it will not stop) and remove every file. Idempotent."""
        if self._destroyed:
            return
        self._destroyed = True
        atexit.unregister(self._destroy_at_exit)
        try:
            # a stop() that fails has killed the server: the files go all the same
            with contextlib.suppress(PostgresError):
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _destroy_at_exit(self) -> None:
        # a forked child that exits through atexit must not take its parent's cluster with it
        if os.getpid() == self._owner_pid:
            self.destroy()

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()

    # -- databases --------------------------------------------------------------------------------

    def url(self, dbname: str, *, password: str | None = None) -> str:
        """``postgresql://chive:<password>@127.0.0.1:<port>/<dbname>``; ``password`` replaces the real one."""
        secret = self.password if password is None else password
        return f"postgresql://{self.user}:{quote(secret, safe='')}@{self.host}:{self.port}/{_check_identifier(dbname)}"

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """CREATE DATABASE owned by ``chive`` (a random name when None), a copy of ``template`` if given.

        A template must have no open connection while it is copied (PostgreSQL refuses otherwise).
        """
        name = _check_identifier(name) if name is not None else f"chive_{secrets.token_hex(6)}"
        sql = f"CREATE DATABASE {_ident(name)} OWNER {_ident(self.user)}"
        if template is not None:
            sql += f" TEMPLATE {_ident(template)}"
        self.run_sql(sql)
        return name

    def drop_database(self, name: str) -> None:
        """DROP DATABASE … WITH (FORCE): its connections are ended first. No error if it does not exist."""
        self.run_sql(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")

    def run_sql(self, sql: str, *, dbname: str = "postgres") -> str:
        """Run SQL as the superuser over the Unix socket; returns psql's unaligned, tuples-only output."""
        result = self._run(
            [
                self._bin("psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                self.superuser,
                "-d",
                _check_identifier(dbname),
            ],
            input_text=sql,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresError(f"psql failed (exit {result.returncode}): {_tail(result.stderr, 10)}")
        return result.stdout

    # -- internals --------------------------------------------------------------------------------

    def _bin(self, program: str) -> str:
        return str(self.bindir / program)

    def _run(
        self, argv: list[str], *, input_text: str | None = None, timeout: float = COMMAND_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", self.run_as, "--", *argv] if self.run_as is not None else argv
        try:
            result = subprocess.run(
                command,
                input=input_text,
                stdin=None if input_text is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=self.root,  # the postgres user may not be allowed into the caller's working directory
                env=_clean_env(),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s") from exc
        except OSError as exc:
            raise PostgresError(f"cannot run {argv[0]}: {exc}") from exc
        if check and result.returncode != 0:
            raise PostgresError(
                f"{Path(argv[0]).name} failed (exit {result.returncode}):\n{_tail(result.stderr or result.stdout)}"
            )
        return result

    def _check_root(self) -> None:
        longest = self.socket_dir / ".s.PGSQL.65535.lock"
        if len(os.fsencode(longest)) > _MAX_SOCKET_PATH:
            raise PostgresError(f"{self.root} is too long a path for PostgreSQL's Unix socket; use a shorter base_dir")
        if self.run_as is not None and self._run(["test", "-w", str(self.root)], check=False).returncode != 0:
            raise PostgresError(
                f"the {self.run_as} user cannot write {self.root}: every directory above it must be searchable "
                f"by that user; use a base_dir under /tmp"
            )

    def _initdb(self) -> None:
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.superuser,
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )

    def _configure(self, port: int) -> None:
        # the last setting of a name wins: appending again on a port retry is enough
        settings = (
            "\n# chive-admin test cluster (testnet/postgres.py)\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            f"unix_socket_directories = {_literal(str(self.socket_dir))}\n"
            "unix_socket_permissions = 0700\n"
            "max_connections = 200\n"
        )
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(settings)
        self.port = port

    def _start_on_free_port(self) -> None:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._configure(free_port())
            try:
                self._start_server()
                return
            except PostgresError:
                taken = "could not bind" in self.log_tail(10) or "already in use" in self.log_tail(10)
                if not taken or attempt == PORT_ATTEMPTS:
                    raise

    def _start_server(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        result = self._run(
            [
                self._bin("pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                str(int(START_TIMEOUT_S)),
            ],
            timeout=START_TIMEOUT_S + 10,
            check=False,
        )
        if result.returncode != 0:
            self._kill()  # pg_ctl may give up waiting on a postmaster that is still starting
            raise PostgresError(
                f"PostgreSQL did not start on port {self.port} (pg_ctl exit {result.returncode}): "
                f"{_tail(result.stderr or result.stdout, 5)}\n"
                f"--- server log tail ({self.log_path}) ---\n{self.log_tail()}"
            )
        # pg_ctl -w waits for the postmaster's "ready" mark; a connection proves the TCP listener is ours and up
        while True:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError as exc:
                if time.monotonic() >= deadline:
                    self._kill()
                    raise PostgresError(
                        f"PostgreSQL started but {self.host}:{self.port} refuses connections ({exc})\n"
                        f"--- server log tail ({self.log_path}) ---\n{self.log_tail()}"
                    ) from exc
                time.sleep(0.05)

    def _kill(self) -> None:
        """Stop the server the hard way: immediate shutdown, then SIGKILL to the postmaster."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        with contextlib.suppress(PostgresError):
            self._run(
                [self._bin("pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "10"],
                timeout=20,
                check=False,
            )
        if _pid_running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _pid_running(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def _create_role(self) -> None:
        self.run_sql(f"CREATE ROLE {_ident(self.user)} WITH LOGIN CREATEDB PASSWORD {_literal(self.password)}")
