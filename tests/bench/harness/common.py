"""What every part of the harness shares: paths, the two CPUs, server processes, /proc readings.

The layout on a 2-core machine: each server under test runs alone on SERVER_CPU; the load
generator (wrk), the database and this harness run on LOAD_CPU.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from pymongo import MongoClient

__all__ = [
    "BENCH_DIR",
    "BENCH_LOCK",
    "LOAD_CPU",
    "PEERS_DIR",
    "ROOT",
    "SERVER_CPU",
    "STATE_DIR",
    "Server",
    "bench_lock",
    "cpu_ticks",
    "cpu_usage",
    "drop_database",
    "group_pids",
    "group_ticks",
    "pids_listening",
    "pin_to_load_cpu",
    "run_group",
    "say",
    "settle",
    "status_kib",
    "tail",
    "trim_log",
]

BENCH_DIR = Path(__file__).resolve().parents[1]  # tests/bench
ROOT = BENCH_DIR.parents[1]  # the checkout
# The peers' sources (FastAPI-Users, NestJS), kept in the repository so a clone can measure
# them; BENCH_PEERS names another folder with the same two subfolders.
PEERS_DIR = Path(os.environ.get("BENCH_PEERS") or BENCH_DIR / "peers").expanduser()
# Installs the harness makes (peer venv, NestJS copy, logs): outside git, ignored by its own
# .gitignore.
STATE_DIR = ROOT / ".bench"
SERVER_CPU = 0
LOAD_CPU = 1
# The lock wrk_bench.sh takes around each scenario: benchmarks by other people on this machine
# take it too, so two load runs never overlap. Same default and variable as the script.
BENCH_LOCK = Path(os.environ.get("BENCH_LOCK") or "/tmp/bench.lock")  # noqa: S108 - shared lock


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def trim_log(path: Path, keep: int = 200, limit: int = 1 << 20) -> None:
    """Keep a large log's first and last `keep` lines: authkit logs a line per request."""
    if not path.is_file() or path.stat().st_size <= limit:
        return
    lines = path.read_bytes().splitlines(keepends=True)
    cut = f"[... {len(lines) - 2 * keep} lines cut by tests/bench/run.py ...]\n".encode()
    path.write_bytes(b"".join([*lines[:keep], cut, *lines[-keep:]]))


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log, for an error message."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line[-300:] for line in text[-lines:])


@contextlib.contextmanager
def bench_lock() -> Iterator[None]:
    """flock(2) on BENCH_LOCK, as `flock $BENCH_LOCK ...` in wrk_bench.sh does."""
    with open(BENCH_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- /proc readings ----------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    """A kB field of /proc/PID/status (VmRSS, VmHWM), 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all threads), in clock ticks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)


def group_pids(pgid: int) -> list[int]:
    """The live processes of a process group: a server started by `Server.start` and every
    process it made (uvicorn's workers, multiprocessing's helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            if int(stat[stat.rindex(")") + 2 :].split()[2]) == pgid:  # field 5 of stat(5)
                found.append(int(entry.name))
    return sorted(found)


def group_ticks(pgid: int) -> dict[int, int]:
    """utime + stime of each live process of a process group, by pid."""
    return {pid: cpu_ticks(pid) for pid in group_pids(pgid)}


def cpu_usage(cpu: int | Sequence[int]) -> tuple[int, int, int]:
    """(busy, steal, total) ticks of one CPU, or the sum over several, from /proc/stat,
    counted as wrk_bench.sh does."""
    wanted = {f"cpu{c}" for c in ([cpu] if isinstance(cpu, int) else cpu)}
    busy = steal = total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in wanted:
            values = [int(v) for v in parts[1:]]
            busy += values[0] + values[1] + values[2] + values[5] + values[6]
            steal += values[7]
            total += sum(values)
            wanted.discard(parts[0])
    if wanted:
        raise RuntimeError(f"{', '.join(sorted(wanted))} not in /proc/stat")
    return busy, steal, total


def settle(
    pid: int | None, cpu: int | Sequence[int] = SERVER_CPU, max_seconds: int = 60, *,
    group: bool = False,
) -> bool:  # fmt: skip
    """Wait until the server (if any) and its CPU have been idle for 1 s: < 5% / < 10%.

    Queued bcrypt work from a previous scenario, or someone else's run on that CPU, would
    otherwise eat into the next measurement. False when still busy after `max_seconds`.
    `cpu` may be several CPUs (each may be 10% busy); with `group`, `pid` is a process
    group and all its processes count (a server with workers).
    """
    hz = os.sysconf("SC_CLK_TCK")
    cpus = 1 if isinstance(cpu, int) else len(cpu)

    def ticks() -> int:
        if not pid:
            return 0
        return sum(group_ticks(pid).values()) if group else cpu_ticks(pid)

    for _ in range(max_seconds):
        ticks0, cpu0 = ticks(), cpu_usage(cpu)
        time.sleep(1)
        ticks1, cpu1 = ticks(), cpu_usage(cpu)
        if ticks1 - ticks0 < hz // 20 + 1 and cpu1[0] - cpu0[0] < cpus * (hz // 10 + 1):
            return True
    where = f"CPU {cpu}" if isinstance(cpu, int) else f"CPUs {','.join(map(str, cpu))}"
    say(f"warning: {where} still busy after {max_seconds} s; measuring anyway")
    return False


# --- a server under test ---------------------------------------------------------------


class Server:
    """A server process in its own process group, its output in a log file.

    Example:

        server = Server.start("hello", ["taskset", "-c", "0", ...], env, cwd, log)
        try:
            server.wait_until_answers("http://127.0.0.1:3000", timeout=60)
        finally:
            server.stop()

    Every start command here ends in `exec` of the server itself (taskset, run.sh), so the
    pid is the server's, and its RSS and CPU time are the server's.
    """

    def __init__(self, name: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @classmethod
    def start(
        cls, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path
    ) -> Server:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as output:
            process = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: stop() ends npm/tsc children too
            )
        return cls(name, process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_until_answers(self, url: str, timeout: float) -> None:
        """Until `GET url` gets any HTTP response; RuntimeError if it exits or times out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with status {self.process.returncode} before "
                    f"answering; its log {self.log} ends with: {tail(self.log)}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # a 404 is an answer
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} did not answer {url} within {timeout:.0f} s; "
                        f"its log {self.log} ends with: {tail(self.log)}"
                    ) from None
                time.sleep(0.2)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout` seconds."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                say(f"{self.name} did not stop within {timeout:.0f} s of SIGTERM; killing it")
        # Children left in the group (a run.sh that had not exec'd yet) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def run_group(
    argv: Sequence[str], env: Mapping[str, str], stdout: IO[bytes], stderr: IO[bytes]
) -> int:
    """Run a command in its own process group and return its status; if we are interrupted,
    the whole group (wrk_bench.sh, its flock, its wrk) is ended, not just the command."""
    process = subprocess.Popen(
        list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        start_new_session=True,
    )  # fmt: skip
    try:
        return process.wait()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise


def pids_listening(port: int) -> list[int]:
    """The pids with a TCP socket listening on `port` (from `ss`)."""
    done = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted({int(pid) for pid in re.findall(r"pid=(\d+)", done.stdout)})


def drop_database(port: int, name: str) -> None:
    """Drop database `name` on the harness's SecantusDB; a failure is only reported."""
    client: MongoClient[dict[str, object]] = MongoClient(
        f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=5000
    )
    try:
        client.drop_database(name)
    except Exception as exc:  # the next target gets a new name anyway
        say(f"could not drop database {name}: {type(exc).__name__}: {exc}")
    finally:
        client.close()


def pin_to_load_cpu(port: int) -> list[int]:
    """Move every thread of the processes listening on `port` (the database) to LOAD_CPU;
    their pids."""
    pids = pids_listening(port)
    if not pids:
        raise RuntimeError(f"no process listens on the database's port {port}")
    for pid in pids:
        subprocess.run(
            ["taskset", "-a", "-cp", str(LOAD_CPU), str(pid)],
            stdout=subprocess.DEVNULL, check=True,
        )  # fmt: skip
    return pids
