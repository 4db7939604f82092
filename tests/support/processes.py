"""Real processes for the tests: servers in a process group of their own, commands that must
exit, and the environment both get.

- `Launcher(workdir)`: starts `python <args>` servers (`AppProcess`) on free loopback ports
  and, on `stop_all()` or leaving its `with`, stops each with its whole group. The `launch`
  fixture (tests/conftest.py) is one per test; module-scoped servers make their own.
- `run_python(args, env, cwd)`: `python <args>` that must exit by itself.
- `clean_environ(overrides)`: this environment minus every variable authkit reads.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from authkit.settings.loader import ENV_VARS
from authkit.storage.embedded import free_port

__all__ = [
    "SERVE_ARGS",
    "STARTUP_TIMEOUT",
    "STOP_TIMEOUT",
    "UVICORN_ARGS",
    "AppProcess",
    "Launcher",
    "clean_environ",
    "embedded_db_port",
    "eventually",
    "free_port",
    "group_alive",
    "port_closed",
    "run_python",
    "wait_until",
    "with_database",
]

STARTUP_TIMEOUT = 30.0  # seconds; a server that has not answered by then is broken
STOP_TIMEOUT = 15.0
COMMAND_TIMEOUT = 60.0  # a command waits at most 20 s for a database that is stopping

UVICORN_ARGS = ("-m", "uvicorn", "authkit.asgi:app", "--host", "127.0.0.1", "--port", "{port}")
SERVE_ARGS = ("-m", "authkit", "serve", "--port", "{port}")


def with_database(uri: str, name: str) -> str:
    """`uri` naming database `name` instead of the one it names (hosts and options kept)."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def clean_environ(overrides: Mapping[str, str | None] = ()) -> dict[str, str]:
    """This process's environment without any variable authkit reads, plus `overrides`.

    AUTHKIT_* variables go too: the server refuses unknown ones (AUTHKIT_TEST_MONGO_URI).
    An override of None removes the variable.
    """
    env = {
        k: v for k, v in os.environ.items() if k not in ENV_VARS and not k.startswith("AUTHKIT_")
    }
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in dict(overrides).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def port_closed(port: int) -> bool:
    """True when nothing listens on `port` on loopback (a stopped server's database, say)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def embedded_db_port(stderr: str) -> int:
    """The port `authkit serve` says it started the embedded database on."""
    found = re.search(r"started the embedded database at mongodb://127\.0\.0\.1:(\d+)/", stderr)
    assert found, stderr
    return int(found[1])


def group_alive(pgid: int) -> bool:
    """True while any process of process group `pgid` is still running."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a member we may not signal still exists
        return True
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def eventually(
    check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll `check` until it returns something truthy, and return that (for work a server
    does after it answered); fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"still {what or repr(found)} after {timeout:g} s")
        time.sleep(interval)


class AppProcess:
    """One server process (and whatever it starts), in a process group of its own."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        port: int,
        logs: Path,
        executable: str = sys.executable,
    ) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.cwd = cwd
        self._stdout_path = logs / f"server-{port}.stdout"
        self._stderr_path = logs / f"server-{port}.stderr"
        with self._stdout_path.open("wb") as out, self._stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [executable, *args],
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own group: teardown reaches its children too
            )
        self.pgid = self.process.pid

    def stderr(self) -> str:
        return self._stderr_path.read_text("utf-8", errors="replace")

    def stdout(self) -> str:
        return self._stdout_path.read_text("utf-8", errors="replace")

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Poll GET / until the server answers anything; fail early if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode} before answering:\n"
                    + self.stderr()
                )
            try:
                httpx.get(self.base_url + "/", timeout=1.0)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"server did not answer on {self.base_url} within {timeout:.0f} s:\n"
                        + self.stderr()
                    ) from None
                time.sleep(0.05)

    def send(self, sig: int) -> None:
        """Send `sig` to the server process only (not its group), as `kill PID` does."""
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        return self.process.wait(timeout)

    def children_alive(self) -> bool:
        """True while a process the server started (e.g. the embedded database) still runs."""
        return group_alive(self.pgid)

    def shutdown(self) -> None:
        """Stop the server and everything in its group: SIGTERM, then SIGKILL after a while."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if group_alive(self.pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            if not wait_until(lambda: not group_alive(self.pgid), STOP_TIMEOUT):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                wait_until(lambda: not group_alive(self.pgid), STOP_TIMEOUT)


class Launcher:
    """`launcher(args, env, cwd=None, port=None, wait=True, executable=None)`: run
    `python <args>` (or `<executable> <args>`, say a venv's `authkit`) as a server.

    `args` may contain "{port}" (a free port unless `port` is given); `env` overrides a
    cleaned environment (None unsets); `cwd` defaults to `workdir`, where the servers' logs
    go too. `stop_all()`, or leaving `with Launcher(...)`, stops every server started here,
    newest first, each with its whole process group.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "server-logs"
        self.logs.mkdir(exist_ok=True)
        self.started: list[AppProcess] = []

    def __call__(
        self,
        args: Sequence[str],
        env: Mapping[str, str | None] = (),
        *,
        cwd: Path | None = None,
        port: int | None = None,
        wait: bool = True,
        executable: str | None = None,
    ) -> AppProcess:
        port = port or free_port()
        server = AppProcess(
            [a.format(port=port) for a in args],
            clean_environ(env),
            cwd or self.workdir,
            port,
            self.logs,
            executable or sys.executable,
        )
        self.started.append(server)
        if wait:
            server.wait_ready()
        return server

    def stop_all(self) -> None:
        while self.started:
            self.started.pop().shutdown()

    def __enter__(self) -> Launcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()


def run_python(
    args: Sequence[str],
    env: Mapping[str, str | None],
    cwd: Path,
    *,
    stdin: str = "",
    timeout: float = COMMAND_TIMEOUT,
) -> tuple[int, str, str]:
    """Run `python <args>` in a cleaned environment plus `env`; it must exit by itself.

    Returns (exit code, stdout, stderr). One still running after `timeout` seconds fails
    the test (subprocess.run kills it first).
    """
    try:
        done = subprocess.run(
            [sys.executable, *args],
            env=clean_environ(env),
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"python {' '.join(args)} kept running instead of exiting: {exc.stderr!r}")
    return done.returncode, done.stdout, done.stderr
