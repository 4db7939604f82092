"""The measurements: wrk_bench.sh's scenarios, a plain `GET /` run, and the bcrypt ceiling.

Every measurement holds BENCH_LOCK, waits until CPU 0 is idle, and runs its load on LOAD_CPU.
The results come back as `Row`s: one wrk run each, the columns of wrk_bench.sh's table.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.common import (
    BENCH_DIR,
    LOAD_CPU,
    SERVER_CPU,
    bench_lock,
    cpu_ticks,
    cpu_usage,
    run_group,
    settle,
    status_kib,
    tail,
)

__all__ = ["Row", "WrkParams", "bcrypt_ceiling", "run_root", "run_wrk_bench"]

SCENARIOS = ("me", "signin", "signup", "notfound")
WRK_BENCH = BENCH_DIR / "wrk_bench.sh"


@dataclass(frozen=True)
class WrkParams:
    """The fixed wrk parameters of shared/bench, the same for every target and scenario."""

    duration: str = "10s"
    connections: int = 32
    threads: int = 1
    timeout: str = "10s"
    warmup: int = 0  # seconds of unrecorded warm-up per scenario (wrk_bench.sh's WARMUP)

    def wrk_argv(self, duration: str | None = None) -> list[str]:
        return [
            "taskset", "-c", str(LOAD_CPU), "wrk", f"-t{self.threads}", f"-c{self.connections}",
            f"-d{duration or self.duration}", "--latency", "--timeout", self.timeout,
        ]  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One wrk run: throughput, latency, errors, the server's RSS and the CPU 0 shares (%)."""

    scenario: str
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: str
    rss_before_mib: int
    rss_after_mib: int
    cpu_server: int
    cpu_other: int
    cpu_steal: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def latency_ms(text: str) -> float:
    """wrk's '612.00us', '41.28ms', '2.57s', '1.02m' in milliseconds."""
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(match[1]) * _UNITS_MS[match[2]]


def parse_row(line: str) -> Row:
    """A line of wrk_bench.sh's rows.md:
    | me | 686.33 | 6867 | 41.28ms | 450.19ms | 0 | none | 127 | 158 | 100/0/0 |
    """
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 10 or not cells[1]:
        raise ValueError(f"unexpected row from wrk_bench.sh: {line.strip()!r}")
    server, other, steal = (int(v) for v in cells[9].split("/"))
    return Row(
        scenario=cells[0],
        rps=float(cells[1]),
        requests=int(cells[2]),
        p50_ms=latency_ms(cells[3]),
        p99_ms=latency_ms(cells[4]),
        non2xx=int(cells[5]),
        socket_errors=cells[6],
        rss_before_mib=int(cells[7]),
        rss_after_mib=int(cells[8]),
        cpu_server=server,
        cpu_other=other,
        cpu_steal=steal,
    )


def run_wrk_bench(
    url: str, pid: int, scenarios: list[str], params: WrkParams, outdir: Path
) -> tuple[dict[str, Row], str | None]:
    """The vendored wrk_bench.sh against `url`: its rows by scenario, and an error or None.

    It signs up one user, checks signin and /auth/me, then runs each scenario under the lock
    after an idle wait. Its printed table goes to outdir/table.md, raw wrk outputs beside it.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    script_env = {
        **os.environ,
        "DURATION": params.duration,
        "CONNS": str(params.connections),
        "THREADS": str(params.threads),
        "WRK_TIMEOUT": params.timeout,
        "WARMUP": str(params.warmup),
        "WRK_CPU": str(LOAD_CPU),
        "SERVER_CPU": str(SERVER_CPU),
        "SERVER_PID": str(pid),
        "SCENARIOS": " ".join(scenarios),
        "OUTDIR": str(outdir),
    }
    if not os.access(WRK_BENCH, os.X_OK):  # it runs itself again under flock: needs +x
        WRK_BENCH.chmod(WRK_BENCH.stat().st_mode | 0o111)
    with open(outdir / "table.md", "wb") as table, open(outdir / "stderr.txt", "wb") as errors:
        status = run_group([str(WRK_BENCH), url], script_env, table, errors)
    rows: dict[str, Row] = {}
    rows_file = outdir / "rows.md"
    for line in rows_file.read_text().splitlines() if rows_file.is_file() else []:
        if line.strip():
            row = parse_row(line)
            rows[row.scenario] = row
    error = None
    if status != 0:
        error = f"wrk_bench.sh exited {status}: {tail(outdir / 'stderr.txt', 3)}"
    elif missing := [s for s in scenarios if s not in rows]:
        error = f"wrk_bench.sh gave no row for {', '.join(missing)}"
    return rows, error


def parse_wrk(text: str) -> dict[str, Any]:
    """The figures of one `wrk --latency` output."""

    def find(pattern: str) -> str | None:
        match = re.search(pattern, text, re.MULTILINE)
        return match[1] if match else None

    rps, requests = find(r"^Requests/sec:\s+([0-9.]+)"), find(r"^\s*(\d+) requests in")
    p50, p99 = find(r"^\s+50%\s+(\S+)"), find(r"^\s+99%\s+(\S+)")
    if rps is None or requests is None or p50 is None or p99 is None:
        raise ValueError("wrk printed no result")
    return {
        "rps": float(rps),
        "requests": int(requests),
        "p50_ms": latency_ms(p50),
        "p99_ms": latency_ms(p99),
        "non2xx": int(find(r"Non-2xx or 3xx responses:\s+(\d+)") or 0),
        "socket_errors": find(r"Socket errors: (.*)$") or "none",
    }


def run_root(url: str, pid: int, params: WrkParams, outdir: Path) -> Row:
    """`GET url/` with the same wrk parameters, measured the way wrk_bench.sh measures.

    For the hello baseline, which has no auth routes for wrk_bench.sh to drive.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    argv = [*params.wrk_argv(), url + "/"]
    with bench_lock():
        settle(pid)
        if params.warmup:
            warm = [*params.wrk_argv(f"{params.warmup}s"), url + "/"]
            with open(outdir / "root.warmup.txt", "wb") as output:
                subprocess.run(warm, stdout=output, stderr=subprocess.STDOUT, check=False)
            settle(pid)
        rss0, ticks0, cpu0 = status_kib(pid, "VmRSS"), cpu_ticks(pid), cpu_usage(SERVER_CPU)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        rss1, ticks1, cpu1 = status_kib(pid, "VmRSS"), cpu_ticks(pid), cpu_usage(SERVER_CPU)
    (outdir / "root.txt").write_text(done.stdout + done.stderr)
    (outdir / "commands.txt").write_text(shlex.join(argv) + "\n")
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip()[-300:]}")
    figures = parse_wrk(done.stdout)
    total = max(cpu1[2] - cpu0[2], 1)
    server = ticks1 - ticks0
    return Row(
        scenario="me",  # the baseline of the /auth/me scenario
        rss_before_mib=rss0 // 1024,
        rss_after_mib=rss1 // 1024,
        cpu_server=round(server / total * 100),
        cpu_other=round(max(cpu1[0] - cpu0[0] - server, 0) / total * 100),
        cpu_steal=round((cpu1[1] - cpu0[1]) / total * 100),
        **figures,
    )


def bcrypt_ceiling(seconds: float, outdir: Path) -> dict[str, Any]:
    """Python bcrypt cost 10, one thread pinned to SERVER_CPU: hashes and checks per second."""
    outdir.mkdir(parents=True, exist_ok=True)
    argv = [
        "taskset", "-c", str(SERVER_CPU), sys.executable,
        str(BENCH_DIR / "harness" / "bcrypt_rate.py"), "10", f"{seconds:g}",
    ]  # fmt: skip
    with bench_lock():
        settle(None)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    (outdir / "bcrypt.json").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"bcrypt_rate.py exited {done.returncode}: {done.stderr[-300:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result
