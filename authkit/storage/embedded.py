"""The embedded MongoDB-protocol server: SecantusDB, run as a child process.

SecantusDB is GPL-2.0 and beta, so authkit never imports it: it runs
`python -m secantus` (from the optional `authkit[embedded]` extra) and talks
to it over the wire like any MongoDB. For development and tests; production
points MONGO_URI at MongoDB itself.

Example:

    # not run: starts a database server (python -m secantus)
    with EmbeddedMongo(data_dir=Path(".authkit/db")) as server:
        os.environ["MONGO_URI"] = server.uri
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pymongo import MongoClient
from pymongo.errors import PyMongoError

__all__ = ["EmbeddedMongo", "EmbeddedMongoError", "free_port", "make_private_dir"]


class EmbeddedMongoError(RuntimeError):
    pass


# Run by the database's interpreter before it becomes SecantusDB: Linux is asked to send it
# SIGTERM when the process that started it dies, even by SIGKILL, so that a killed `authkit
# serve` does not leave its database running over the data directory. argv[1] is the
# parent's pid: a parent that died before the request was made is noticed here.
_STOP_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM)\n"  # 1: PR_SET_PDEATHSIG
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'secantus', *sys.argv[2:]])\n"
)


def make_private_dir(path: Path) -> None:
    """`path` as a directory only its owner can enter: created 0700 (missing parents too),
    or tightened to 0700 when it is ours already, which hides the files an older version
    left readable inside it. Someone else's directory is left as it is."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(0o700)


def _private_log(path: Path) -> int:
    """`path` opened for appending, created 0600: the database may log what it stores."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with contextlib.suppress(PermissionError):  # one an older version left 0644
        os.fchmod(fd, 0o600)
    return fd


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedMongo:
    """A SecantusDB process on a free loopback port; `data_dir=None` keeps data in memory.

    `stop_with_parent` (Linux) ends the database when the thread that started it ends
    or its process dies, however it dies: start it from a thread that lives as long as
    the database should. `pass_fds` are file descriptors the database process keeps
    open (a lock on its data directory, held for as long as the database runs).
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        database: str = "authkit",
        python: str = sys.executable,
        log_file: Path | None = None,
        stop_with_parent: bool = False,
        pass_fds: Sequence[int] = (),
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.database = database
        self._python = python
        self._log_file = log_file
        self._stop_with_parent = stop_with_parent and sys.platform.startswith("linux")
        self._pass_fds = tuple(pass_fds)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 30.0) -> None:
        storage = ":memory:" if self.data_dir is None else str(self.data_dir)
        if self.data_dir is not None:
            make_private_dir(self.data_dir)
        log = _private_log(self._log_file) if self._log_file else subprocess.DEVNULL
        launcher = (
            ["-c", _STOP_WITH_PARENT, str(os.getpid())]
            if self._stop_with_parent
            else ["-m", "secantus"]
        )
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [
                    self._python,
                    *launcher,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--storage-path",
                    storage,
                    "--log-level",
                    "WARNING",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=self._pass_fds,
                # The database creates its files readable by this user only: they hold
                # every user's password hash and session.
                umask=0o077,
            )
        finally:
            if log is not subprocess.DEVNULL:
                os.close(log)
        self._wait_until_ready(timeout)

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250
        )
        try:
            while True:
                if self._process is None or self._process.poll() is not None:
                    raise EmbeddedMongoError(self._why_it_exited())
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise EmbeddedMongoError(
                            f"the embedded database did not answer on port {self.port} "
                            f"within {timeout:.0f} s"
                        ) from None
                    time.sleep(0.1)
        finally:
            client.close()

    def _why_it_exited(self) -> str:
        code = self._process.returncode if self._process is not None else None
        reasons = [f"the embedded database exited (code {code}) before answering"]
        if self._python == sys.executable and importlib.util.find_spec("secantus") is None:
            reasons.append(
                "the `secantusdb` package is not installed: pip install 'authkit[embedded]'"
            )
        elif self.data_dir is not None:
            reasons.append(f"is another process (a second `authkit serve`?) using {self.data_dir}?")
        if self._log_file is not None and self._log_file.is_file():
            lines = self._log_file.read_text(errors="replace").strip().splitlines()
            if lines:
                tail = lines[-1][-300:]
                reasons.append(f"its log {self._log_file.resolve()} ends with: {tail}")
        return "; ".join(reasons)

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedMongo:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
