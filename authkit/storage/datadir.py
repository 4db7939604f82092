"""One embedded database per data directory, shared by `authkit serve` and every other command.

Two files make that hold:

- the lock, `<data dir>/authkit.lock`: an exclusive `flock` held by whoever runs the
  embedded database over the directory, for as long as it runs. The database process
  inherits the lock, so it stays held until the database itself has exited, even when
  the process that started it was killed. No second database is ever started over the
  same data (WiredTiger would refuse it with "Device or resource busy").
- the record, `<data dir>.serve.json` next to the directory: where the database of a
  running `authkit serve` listens, `{"uri", "pid", "data_dir"}`, written atomically with
  mode 0600 once that database answers, and removed when serve exits cleanly.

`embedded_database(data_dir, ...)` is how a command gets a database over the directory:

- the lock is free: nobody runs one there; a record left behind is stale (its serve was
  killed) and removed; the command starts its own database, under the lock;
- the lock is held and the record is live (its pid runs, its database answers a ping):
  the command uses that database; `authkit serve` (`publish=True`) refuses to start;
- the lock is held and no record is live: a serve may be starting, or another command
  finishing, so it waits up to `wait` seconds for either, then raises DataDirBusy; when
  the lock says its database outlived the process that started it (a killed serve's,
  told to stop and stopping), it waits up to STOPPING_WAIT more for it to finish.

Example:

    # not run: starts a database server (python -m secantus)
    from pymongo import MongoClient

    with embedded_database(Path(".authkit/db"), log_file=Path(".authkit/cli.log")) as db:
        with MongoClient(db.uri) as client:
            client.admin.command("ping")
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from authkit.storage.embedded import EmbeddedMongo, EmbeddedMongoError, make_private_dir

__all__ = [
    "LOCK_NAME",
    "DataDirBusy",
    "DataDirLock",
    "EmbeddedDatabase",
    "ServeRecord",
    "embedded_database",
    "live_record",
    "record_path",
]

LOCK_NAME = "authkit.lock"
# Long enough for a killed serve's database to finish exiting (SecantusDB takes 2-3 s to
# stop) or for another command to finish; short enough that a stuck holder is reported.
DEFAULT_WAIT = 20.0
# A killed serve's database exits by itself, and on a loaded machine that may outlast
# DEFAULT_WAIT: while it still runs, its lock is about to come free, so it is waited for.
STOPPING_WAIT = 60.0
_POLL = 0.2
_PING_TIMEOUT_MS = 1000


class DataDirBusy(EmbeddedMongoError):
    """The data directory's database is run by another process that does not share it."""


def record_path(data_dir: Path) -> Path:
    """Where `authkit serve` says where its database over `data_dir` listens."""
    data_dir = data_dir.resolve()
    return data_dir.parent / f"{data_dir.name}.serve.json"


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process: it exists
        return True
    try:  # a killed process its parent has not reaped yet still answers signal 0
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _answers(uri: str) -> bool:
    client: MongoClient[dict[str, Any]] = MongoClient(
        uri, serverSelectionTimeoutMS=_PING_TIMEOUT_MS, connectTimeoutMS=_PING_TIMEOUT_MS
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


@attrs.frozen
class ServeRecord:
    uri: str
    pid: int
    data_dir: str

    @classmethod
    def read(cls, path: Path) -> ServeRecord | None:
        """The record at `path`; None when there is none or it is not one (a torn copy, say)."""
        try:
            raw = json.loads(path.read_text("utf-8"))
            record = cls(uri=raw["uri"], pid=raw["pid"], data_dir=raw["data_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not (
            isinstance(record.uri, str)
            and isinstance(record.pid, int)
            and isinstance(record.data_dir, str)
        ):
            return None
        return record

    def write(self, path: Path) -> None:
        """Atomically: a reader sees the old record or this one, never half of it."""
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(attrs.asdict(self), out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    def is_live(self, data_dir: Path) -> bool:
        return (
            self.data_dir == str(data_dir.resolve())
            and _pid_running(self.pid)
            and _answers(self.uri)
        )


def live_record(data_dir: Path) -> ServeRecord | None:
    """The record of the `authkit serve` running the database over `data_dir`, if it is live."""
    record = ServeRecord.read(record_path(data_dir))
    return record if record is not None and record.is_live(data_dir) else None


class DataDirLock:
    """The exclusive lock on a data directory; the file says who took it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise RuntimeError("the lock is not held")
        return self._fd

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.note(str(os.getpid()))
        return True

    def note(self, text: str) -> None:
        """Write who holds the lock into its file, for the message of whoever finds it taken."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode() + b"\n", 0)

    def holder(self) -> str:
        try:
            return self.path.read_text("utf-8", errors="replace").strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor of the lock releases it


@attrs.frozen
class EmbeddedDatabase:
    """A database over a data directory: `served_by` is the pid of the `authkit serve`
    whose database this is, None when it was started for the caller."""

    uri: str
    data_dir: Path
    served_by: int | None = None


@contextlib.contextmanager
def embedded_database(
    data_dir: Path,
    *,
    log_file: Path,
    publish: bool = False,
    wait: float | None = None,
) -> Iterator[EmbeddedDatabase]:
    """The database over `data_dir` for as long as the block runs: the running serve's, or
    one started here (and published, when `publish`: that is `authkit serve`)."""
    wait = DEFAULT_WAIT if wait is None else wait
    data_dir = data_dir.resolve()
    lock = DataDirLock(data_dir)
    deadline = time.monotonic() + wait
    stopping: int | None = None
    while not _try_lock(lock):
        record = live_record(data_dir)
        if record is not None:
            if publish:
                raise DataDirBusy(
                    f"another `authkit serve` (pid {record.pid}) already runs the embedded "
                    f"database over {data_dir} at {record.uri}; stop it first (the other "
                    "commands use its database while it runs)"
                )
            yield EmbeddedDatabase(record.uri, data_dir, served_by=record.pid)
            return
        if time.monotonic() > deadline and stopping is None:
            stopping = _orphaned_database(lock)
            if stopping is not None:
                deadline = time.monotonic() + STOPPING_WAIT
                continue
        if time.monotonic() > deadline:
            if stopping is not None:
                waited = wait + STOPPING_WAIT
                raise DataDirBusy(
                    f"the embedded database over {data_dir} (pid {stopping}) outlived the "
                    f"process that started it and is still stopping after {waited:.0f} s; "
                    "stop it, or set MONGO_URI"
                )
            raise DataDirBusy(
                f"the embedded database's data in {data_dir} is in use by another process "
                f"(its lock {lock.path} is held by pid {lock.holder()}) that has not "
                f"published it in {record_path(data_dir)} within {wait:.0f} s; stop that "
                "process, or set MONGO_URI"
            )
        time.sleep(_POLL)
    try:
        # Whoever ran a database here before is gone: a record it left says nothing now.
        record_file = record_path(data_dir)
        with contextlib.suppress(FileNotFoundError):
            record_file.unlink()
        server = EmbeddedMongo(
            data_dir, log_file=log_file, stop_with_parent=True, pass_fds=(lock.fd,)
        )
        server.start()
        try:
            lock.note(f"{os.getpid()} (embedded database: pid {server.pid})")
            if publish:
                ServeRecord(server.uri, os.getpid(), str(data_dir)).write(record_file)
            try:
                yield EmbeddedDatabase(server.uri, data_dir)
            finally:
                if publish:
                    _remove_own_record(record_file)
        finally:
            server.stop()
    finally:
        lock.release()


def _orphaned_database(lock: DataDirLock) -> int | None:
    """The pid of the database holding `lock` when the process that started it is gone
    (what DataDirLock.note wrote: "<starter> (embedded database: pid <database>)")."""
    found = re.fullmatch(r"(\d+) \(embedded database: pid (\d+)\)", lock.holder())
    if found is None or _pid_running(int(found[1])) or not _pid_running(int(found[2])):
        return None
    return int(found[2])


def _try_lock(lock: DataDirLock) -> bool:
    try:
        make_private_dir(lock.path.parent)
        return lock.try_acquire()
    except OSError as exc:
        raise EmbeddedMongoError(
            f"cannot lock the data directory {lock.path.parent}: {exc.strerror or exc}"
        ) from None


def _remove_own_record(path: Path) -> None:
    record = ServeRecord.read(path)
    if record is not None and record.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
