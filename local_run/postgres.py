"""A throwaway PostgreSQL server for one AIRFLOW_HOME: MWAA runs Airflow on PostgreSQL, so the local
scheduler does too (SQLite's one writer turns concurrent components into lock errors MWAA never has)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from employee_pipeline.waiting import WaitTimeoutError, wait_until

DATABASE = ROLE = "airflow"
START_TIMEOUT_S = 60
# Read by airflow_records: which server holds this home's metadata while it runs.
URL_FILE = "postgres.url"
# The server refuses to run as root; Debian's package creates this user, `nobody` is the fallback.
SERVER_USERS = ("postgres", "nobody")
# TCP on 127.0.0.1 only, no Unix socket (its default directory may not be ours to write);
# a throwaway database, so durability only costs time.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not on PATH nor in /usr/lib/postgresql/*/bin: "
    "install them ('sudo apt-get install postgresql' on Debian/Ubuntu, 'brew install postgresql' on macOS)"
)


class PostgresError(RuntimeError):
    """PostgreSQL is missing, or its server did not start."""


@dataclass(frozen=True)
class Postgres:
    home: Path
    root: Path  # the data directory and the server's log
    port: int
    bin: Path
    user: str | None  # the unprivileged user it runs as when we are root

    @property
    def url(self) -> str:
        """For ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``."""
        return f"postgresql+psycopg2://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"


def binaries() -> Path:
    """The directory holding initdb, pg_ctl and postgres (Debian keeps them off PATH)."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(d) for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)]
    for directory in candidates:
        if all((directory / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise PostgresError(INSTALL_HINT)


def _version(bin_dir: str) -> int:
    name = Path(bin_dir).parent.name
    return int(name) if name.isdigit() else 0


def url_of(home: Path) -> str | None:
    """The SQLAlchemy URL of the server running for ``home``, if one is."""
    path = home / URL_FILE
    return path.read_text().strip() if path.exists() else None


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in SERVER_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    raise PostgresError(f"running as root, and none of the users {SERVER_USERS} exists to run PostgreSQL as")


def _run(server: Postgres, *command: str, timeout: float = START_TIMEOUT_S) -> None:
    argv = [str(server.bin / command[0]), *command[1:]]
    if server.user:
        argv = ["runuser", "-u", server.user, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        log = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
        raise PostgresError(f"{command[0]} exited {done.returncode}: {done.stderr.strip()}\n{log}".strip())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(home: Path) -> Postgres:
    """initdb, start and create the database; a fresh server each time (the local AWS is fresh too)."""
    bin_dir, user = binaries(), _server_user()
    home.mkdir(parents=True, exist_ok=True)
    if user:
        # The home's parents may be private to root (pytest's are): the server's files live outside it.
        root = Path(tempfile.mkdtemp(prefix="airflow-postgres-"))
        account = pwd.getpwnam(user)
        os.chown(root, account.pw_uid, account.pw_gid)
    else:
        root = home / "postgres"
        shutil.rmtree(root, ignore_errors=True)  # what an earlier, killed session left
        root.mkdir()
    server = Postgres(home=home, root=root, port=_free_port(), bin=bin_dir, user=user)
    try:
        _run(server, "initdb", "-D", str(server.data), "-U", ROLE, "--auth=trust", "-E", "UTF8", "--locale=C", "-N")
        settings = {**SETTINGS, "port": str(server.port)}
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        _run(server, "pg_ctl", "start", "-w", "-t", str(START_TIMEOUT_S), "-D", str(server.data), "-l", str(server.log))
        _run(server, "createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", ROLE, DATABASE)
        (home / URL_FILE).write_text(server.url)
    except BaseException:
        # Failed or interrupted (Ctrl-C, SIGTERM) half-way: nothing may outlive us.
        stop(server)
        raise
    return server


def stop(server: Postgres) -> None:
    """``pg_ctl stop -m fast``, then harder; the server's files go with it."""
    (server.home / URL_FILE).unlink(missing_ok=True)
    pid = _postmaster_pid(server)
    if pid is not None and not _pg_ctl_stop(server):
        # pg_ctl starts the server as a session leader: its group is the server and its backends.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _wait_gone(pid)
    shutil.rmtree(server.root, ignore_errors=True)


def _pg_ctl_stop(server: Postgres) -> bool:
    """True once the server has exited (``-w``: pg_ctl waits for it)."""
    for mode in ("fast", "immediate"):
        with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
            _run(server, "pg_ctl", "stop", "-w", "-t", "20", "-m", mode, "-D", str(server.data), timeout=30)
            return True
    return False


def _postmaster_pid(server: Postgres) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int((server.data / "postmaster.pid").read_text().split("\n", 1)[0])
    return None


def _wait_gone(pid: int, timeout: float = 10) -> None:
    import psutil

    # Best effort: a process that outlives its SIGKILL is left to the operating system.
    with contextlib.suppress(psutil.NoSuchProcess, WaitTimeoutError):
        process = psutil.Process(pid)
        # A zombie is gone: init reaps it when it gets to it.
        wait_until(
            lambda: process.status() == psutil.STATUS_ZOMBIE,
            timeout=timeout,
            interval=0.1,
            message=f"PostgreSQL (pid {pid}) did not end",
        )


@contextlib.contextmanager
def running(home: Path) -> Iterator[Postgres]:
    """A server for ``home`` while the block runs, stopped however the block ends."""
    server = start(home)
    try:
        yield server
    finally:
        stop(server)
