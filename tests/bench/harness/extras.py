"""The opt-in scenarios: issue 6's targets that one pinned server per target cannot show.

    cores    signin and signup with authkit on CPU 0 alone, then on CPUs 0 and 1; the bcrypt
             rate of each core with both hashing at once
    flood    GET /auth/me at 32 connections, alone and while 4 connections flood signin
    workers  GET /auth/me from one worker on CPU 0, then `authkit serve --workers 2` on both;
             the Starlette hello the same way (uvicorn --workers 1, 2): what this machine
             lets any Python server gain from a second worker
    growth   signin and /auth/me with 100 users in the collection, then 100,000; the query plan

They run for the authkit target only, each round after the main table's targets, with the
main table's settings (AUTHKIT_SETTINGS). Every server is freshly started on a fresh database
(`bench_<scenario>_<setup>_r<round>`, dropped after) and stopped by its process group; every
measurement holds BENCH_LOCK and first waits until the server and its CPUs are idle. wrk
always runs on LOAD_CPU: when the server has both CPUs, wrk (and the database) share one of
them with it. What each figure means: tests/bench/README.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shlex
import signal
import statistics
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import PyMongoError

from authkit.storage.embedded import free_port
from harness.common import (
    BENCH_DIR,
    LOAD_CPU,
    SERVER_CPU,
    Server,
    bench_lock,
    cpu_ticks,
    cpu_usage,
    drop_database,
    group_ticks,
    pids_listening,
    run_group,
    say,
    settle,
    tail,
    trim_log,
)
from harness.measure import WrkParams, parse_wrk
from harness.targets import authkit_launch, hello_launch

__all__ = [
    "EXTRA_SCENARIOS",
    "ExtraContext",
    "ExtraRun",
    "Load",
    "estimate_seconds",
    "run_extra",
]

EXTRA_SCENARIOS = ("cores", "flood", "workers", "growth")
ONE_CPU = str(SERVER_CPU)
BOTH_CPUS = f"{SERVER_CPU},{LOAD_CPU}"
BENCH_PASS = "BenchPass123"
FLOOD_CONNECTIONS = 4
FLOOD_LEAD_SECONDS = 1  # the flood runs alone this long first, so the bcrypt threads are busy
GROWTH_SMALL = 100
GROWTH_BATCH = 10_000
GROWTH_PASSWORD = b"GrowthPass123"
_ALNUM = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class ExtraContext:
    """What every opt-in scenario needs from run.py."""

    round: int
    db_port: int
    params: WrkParams
    seconds: float  # params.duration in seconds
    out: Path
    growth_users: int
    db_pids: tuple[int, ...] = ()  # the harness's SecantusDB: its CPU time is the benchmark's


@dataclass(frozen=True)
class Load:
    """One wrk run of an opt-in scenario, and what the server's processes did meanwhile."""

    label: str
    cpus: str  # the server's CPUs, as given to taskset
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: str
    seconds: float  # wall time of the wrk run
    server_cores: float  # CPU time of all the server's processes ÷ wall time; 1.0 = one core
    process_cores: list[float]  # the same for each of its processes, busiest first
    cpu_other: int  # % of the server's CPUs used by anything else: wrk, the database, others
    cpu_steal: int  # % of the server's CPUs the hypervisor stole
    cpu_foreign: int  # % of CPUs 0 and 1 used by none of: server, wrk, database, harness
    settled: bool  # False: the CPUs were still busy after settle's 60 s, measured anyway


@dataclass
class ExtraRun:
    """One opt-in scenario in one round: its wrk runs by key, other figures, or its error."""

    scenario: str
    round: int
    loads: dict[str, Load] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def estimate_seconds(scenario: str, seconds: float, warmup: int) -> float:
    """About how long one round of `scenario` takes, for run.py's time estimate."""
    run = seconds + warmup + 3  # settle and the wrk run
    drain = 3  # after a bcrypt-bound run, its last batch finishes before the next settles
    start = 6  # start, bench user, stop, drop
    return {
        "cores": 2 * start + 4 * (run + drain) + max(2.0, seconds / 2) * 2 + 2,
        "flood": start + 2 * run + FLOOD_LEAD_SECONDS + 2 + drain,
        "workers": 4 * start + 4 * run,
        "growth": 2 * start + 4 * run + 2 * drain + 35,  # 100,000 users: insert, index, drop
    }[scenario]


# --- a server and its bench user --------------------------------------------------------


@dataclass(frozen=True)
class Running:
    """A server under test: its process, URL, CPUs and the bench user's credentials (none
    for the hello baseline)."""

    server: Server
    url: str
    cpus: str
    database: str
    user: str
    token: str

    @property
    def cpu_list(self) -> list[int]:
        return [int(cpu) for cpu in self.cpus.split(",")]


def _http(
    method: str, url: str, body: dict[str, str] | None = None, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read() or b"{}")
            return response.status, payload if isinstance(payload, dict) else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _bench_user(url: str) -> tuple[str, str]:
    """Sign up one user, as wrk_bench.sh does, and check signin and /auth/me: (name, token)."""
    user = "bu" + "".join(secrets.choice(_ALNUM) for _ in range(10))
    credentials = {"username": user, "password": BENCH_PASS}
    status, _ = _http("POST", url + "/auth/signup", credentials)
    if not 200 <= status < 300:
        raise RuntimeError(f"signup of the bench user failed: HTTP {status}")
    status, answer = _http("POST", url + "/auth/signin", credentials)
    token = answer.get("accessToken")
    if not 200 <= status < 300 or not isinstance(token, str):
        raise RuntimeError(f"signin of the bench user gave no accessToken (HTTP {status})")
    status, _ = _http("GET", url + "/auth/me", token=token)
    if not 200 <= status < 300:
        raise RuntimeError(f"GET /auth/me with a fresh token gave HTTP {status}")
    return user, token


def _wait_for_workers(server: Server, port: int, workers: int, timeout: float = 60) -> None:
    """Until `workers` processes besides uvicorn's supervisor hold the listening socket."""
    deadline = time.monotonic() + timeout
    while len(pids_listening(port)) < workers + 1:
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(
                f"{workers} workers did not all start within {timeout:.0f} s; "
                f"its log {server.log} ends with: {tail(server.log)}"
            )
        time.sleep(0.2)


def _wait_until_up(server: Server, url: str, port: int, workers: int | None) -> None:
    server.wait_until_answers(url + "/", 60)
    if workers and workers > 1:
        _wait_for_workers(server, port, workers)


@contextlib.contextmanager
def _authkit(
    ctx: ExtraContext,
    setup: str,
    cpus: str,
    *,
    workers: int | None = None,
    before_start: Callable[[str], None] | None = None,
) -> Iterator[Running]:
    """authkit on `cpus` with a fresh database and a bench user; stopped and dropped after.

    `before_start(database)` fills the database first (growth); `workers` starts it with
    `authkit serve --workers N` instead of uvicorn.
    """
    name = f"authkit-{setup}"
    database = f"bench_{setup.replace('-', '_')}_r{ctx.round}"
    workdir = ctx.out / f"run{ctx.round}" / name
    workdir.mkdir(parents=True, exist_ok=True)
    server: Server | None = None
    try:
        if before_start is not None:
            before_start(database)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        launch = authkit_launch(
            port, f"mongodb://127.0.0.1:{ctx.db_port}/{database}", secrets.token_urlsafe(48),
            workdir, cpus=cpus, workers=workers,
        )  # fmt: skip
        say(f"run {ctx.round}: starting {name} on {_where(cpus)} ({url})")
        server = Server.start(name, launch.argv, launch.env, launch.cwd, workdir / "server.log")
        _wait_until_up(server, url, port, workers)
        user, token = _bench_user(url)
        yield Running(server, url, cpus, database, user, token)
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {server.process.returncode}")
    finally:
        if server is not None:
            server.stop()
            trim_log(server.log)
        drop_database(ctx.db_port, database)


@contextlib.contextmanager
def _hello(ctx: ExtraContext, setup: str, cpus: str, workers: int) -> Iterator[Running]:
    """The Starlette hello (`GET /`) under uvicorn `--workers N` on `cpus`; stopped after."""
    name = f"hello-{setup}"
    workdir = ctx.out / f"run{ctx.round}" / name
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launch = hello_launch(port, workdir, cpus=cpus, workers=workers)
    say(f"run {ctx.round}: starting {name} on {_where(cpus)} ({url})")
    server = Server.start(name, launch.argv, launch.env, launch.cwd, workdir / "server.log")
    try:
        _wait_until_up(server, url, port, workers)
        yield Running(server, url, cpus, database="", user="", token="")
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {server.process.returncode}")
    finally:
        server.stop()
        trim_log(server.log)


# --- one measurement -----------------------------------------------------------------------


class _Meter:
    """CPU time between two readings: the server's (all its processes), its CPUs' use, and
    what of CPUs 0 and 1 went to processes outside the benchmark (other people's work).

    The benchmark's own processes: the server, wrk (the children this harness reaps meanwhile,
    counted by getrusage), the database and this harness.
    """

    HZ = os.sysconf("SC_CLK_TCK")
    BOTH = (SERVER_CPU, LOAD_CPU)

    def __init__(self, running: Running, ctx: ExtraContext, also_ours: Sequence[int] = ()) -> None:
        self._running = running
        self._db_pids = (*ctx.db_pids, *also_ours)  # also_ours: a wrk still running after
        self._start = time.monotonic()
        self._ticks, self._cpu, self._both, self._ours = self._sample()

    def _sample(self) -> tuple[dict[int, int], tuple[int, int, int], tuple[int, int, int], float]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        ours = children.ru_utime + children.ru_stime + me.ru_utime + me.ru_stime
        ours += sum(cpu_ticks(pid) for pid in self._db_pids) / self.HZ
        return (
            group_ticks(self._running.server.pid),
            cpu_usage(self._running.cpu_list),
            cpu_usage(self.BOTH),
            ours,
        )

    def read(self) -> dict[str, Any]:
        ticks, cpu, both, ours = self._sample()
        seconds = time.monotonic() - self._start
        per_process = sorted(
            (t - self._ticks.get(pid, 0) for pid, t in ticks.items()), reverse=True
        )
        server = sum(per_process)
        total = max(cpu[2] - self._cpu[2], 1)
        wall = total / len(self._running.cpu_list)  # ticks of one CPU over the run
        total_both = max(both[2] - self._both[2], 1)
        foreign = both[0] - self._both[0] - server - (ours - self._ours) * self.HZ
        return {
            "seconds": round(seconds, 2),
            "server_cores": round(server / wall, 2),
            "process_cores": [round(t / wall, 2) for t in per_process if t / wall >= 0.01],
            "cpu_other": round(max(cpu[0] - self._cpu[0] - server, 0) / total * 100),
            "cpu_steal": round((cpu[1] - self._cpu[1]) / total * 100),
            "cpu_foreign": round(max(foreign, 0) / total_both * 100),
        }


def _wrk_args(kind: str, running: Running) -> tuple[list[str], dict[str, str]]:
    """wrk's arguments after its options, and the environment its script reads."""
    if kind == "me":
        return ["-H", f"Authorization: Bearer {running.token}", running.url + "/auth/me"], {}
    if kind == "hello":
        return [running.url + "/"], {}
    if kind == "signin":
        script = str(BENCH_DIR / "signin.lua")
        env = {"BENCH_USER": running.user, "BENCH_PASS": BENCH_PASS}
        return ["-s", script, running.url + "/auth/signin"], env
    if kind == "signup":
        prefix = "c" + "".join(secrets.choice(_ALNUM) for _ in range(4))  # fresh names each run
        script = str(BENCH_DIR / "signup.lua")
        return ["-s", script, running.url + "/auth/signup"], {
            "BENCH_PREFIX": prefix,
            "BENCH_PASS": BENCH_PASS,
        }
    raise ValueError(f"unknown kind of request {kind!r}")


def _record(outdir: Path, slug: str, argv: Sequence[str], running: Running) -> None:
    shown = shlex.join(argv)
    if running.token:
        shown = shown.replace(running.token, "<token>")
    with open(outdir / "commands.txt", "a") as commands:
        commands.write(f"{slug}: {shown}\n")


def _wrk(argv: list[str], env: dict[str, str], output: Path) -> dict[str, Any]:
    with open(output, "wb") as handle:
        status = run_group(argv, {**os.environ, **env}, handle, handle)
    text = output.read_text(errors="replace")
    if status != 0:
        raise RuntimeError(f"wrk exited {status}: {text.strip()[-300:]}")
    return parse_wrk(text)


def _settle(running: Running) -> bool:
    return settle(running.server.pid, running.cpu_list, group=True)


def _measure(
    ctx: ExtraContext, running: Running, kind: str, label: str, slug: str, outdir: Path, *,
    settled: bool, warmup: bool = True, also_ours: Sequence[int] = (),
) -> Load:  # fmt: skip
    """One wrk run (ctx.params, on LOAD_CPU) of `kind`; the caller holds the lock.

    `settled` is what the caller's settle() said; `warmup` runs --warmup's unrecorded load
    first (and settles again), when one was asked for; `also_ours`: pids of the benchmark's
    own that run meanwhile (the flood), not to be counted as someone else's.
    """
    slug = slug.replace("@", "-")  # file names: signin-1core.txt
    args, env = _wrk_args(kind, running)
    if warmup and ctx.params.warmup:
        warm = [*ctx.params.wrk_argv(f"{ctx.params.warmup}s"), *args]
        _wrk(warm, env, outdir / f"{slug}.warmup.txt")
        settled = _settle(running)
        args, env = _wrk_args(kind, running)  # signup: fresh names again
    argv = [*ctx.params.wrk_argv(), *args]
    _record(outdir, slug, argv, running)
    meter = _Meter(running, ctx, also_ours)
    figures = _wrk(argv, env, outdir / f"{slug}.txt")
    return Load(label=label, cpus=running.cpus, **figures, **meter.read(), settled=settled)


def _locked(
    ctx: ExtraContext, running: Running, kind: str, label: str, slug: str, outdir: Path
) -> Load:
    """`_measure` under BENCH_LOCK, once the server and its CPUs are idle."""
    with bench_lock():
        settled = _settle(running)
        load = _measure(ctx, running, kind, label, slug, outdir, settled=settled)
    say(f"run {ctx.round}: {label}: {load.rps:.1f} req/s, p50 {load.p50_ms:.1f} ms")
    return load


def _where(cpus: str) -> str:
    return f"CPU {cpus}" if "," not in cpus else f"CPUs {cpus}"


# --- cores ---------------------------------------------------------------------------------


def _bcrypt_per_core(ctx: ExtraContext, outdir: Path) -> dict[str, Any]:
    """bcrypt_rate.py on CPU 0 and CPU 1 at the same time: each core's rate, both busy."""
    seconds = max(2.0, ctx.seconds / 2)
    script = str(BENCH_DIR / "harness" / "bcrypt_rate.py")
    rates: dict[str, Any] = {}
    with bench_lock():
        settle(None, [SERVER_CPU, LOAD_CPU])
        processes = {}
        for cpu in (SERVER_CPU, LOAD_CPU):
            argv = ["taskset", "-c", str(cpu), sys.executable, script, "10", f"{seconds:g}"]
            processes[cpu] = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        try:
            for cpu, process in processes.items():
                stdout, stderr = process.communicate(timeout=4 * seconds + 30)
                (outdir / f"bcrypt_cpu{cpu}.json").write_text(stdout + stderr)
                if process.returncode != 0:
                    raise RuntimeError(f"bcrypt_rate.py on CPU {cpu} exited {process.returncode}")
                rates[f"cpu{cpu}"] = json.loads(stdout)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
    return rates


def run_cores(ctx: ExtraContext, result: ExtraRun, outdir: Path) -> None:
    setups = [("1core", ONE_CPU), ("2cores", BOTH_CPUS)]
    if ctx.round % 2 == 0:
        setups.reverse()  # each round starts with the other one: drift hits both alike
    for setup, cpus in setups:
        with _authkit(ctx, f"cores-{setup}", cpus) as running:
            for kind in ("signin", "signup"):
                label = f"POST /auth/{kind}, authkit on {_where(cpus)}"
                key = f"{kind}@{setup}"
                result.loads[key] = _locked(ctx, running, kind, label, key, outdir)
    result.facts["bcrypt"] = _bcrypt_per_core(ctx, outdir)


# --- flood ---------------------------------------------------------------------------------


def run_flood(ctx: ExtraContext, result: ExtraRun, outdir: Path) -> None:
    with _authkit(ctx, "flood", BOTH_CPUS) as running:
        label = f"GET /auth/me, no flood, authkit on {_where(BOTH_CPUS)}"
        result.loads["me@alone"] = _locked(ctx, running, "me", label, "me-alone", outdir)
        args, env = _wrk_args("signin", running)
        flood_seconds = int(ctx.seconds) + 2 * FLOOD_LEAD_SECONDS
        flood_argv = [
            "taskset", "-c", str(LOAD_CPU), "wrk", "-t1", f"-c{FLOOD_CONNECTIONS}",
            f"-d{flood_seconds}s", "--latency", "--timeout", ctx.params.timeout, *args,
        ]  # fmt: skip
        _record(outdir, "signin-flood", flood_argv, running)
        with bench_lock():
            settled = _settle(running)
            flood_meter = _Meter(running, ctx)
            with open(outdir / "signin-flood.txt", "wb") as output:
                flood = subprocess.Popen(
                    flood_argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                    stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            try:
                time.sleep(FLOOD_LEAD_SECONDS)
                label = f"GET /auth/me during the signin flood, authkit on {_where(BOTH_CPUS)}"
                result.loads["me@flood"] = _measure(
                    ctx, running, "me", label, "me-flood", outdir, settled=settled,
                    warmup=False, also_ours=[flood.pid],
                )  # fmt: skip
                status = flood.wait(timeout=flood_seconds + 60)
            finally:
                if flood.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(flood.pid, signal.SIGKILL)
                    flood.wait()
            text = (outdir / "signin-flood.txt").read_text(errors="replace")
            if status != 0:
                raise RuntimeError(f"the flood's wrk exited {status}: {text.strip()[-300:]}")
            label = f"POST /auth/signin flood (-c{FLOOD_CONNECTIONS}, {flood_seconds} s)"
            figures = {**parse_wrk(text), **flood_meter.read()}
            result.loads["signin@flood"] = Load(
                label=label, cpus=running.cpus, **figures, settled=settled
            )
    me = result.loads["me@flood"]
    say(f"run {ctx.round}: /auth/me during the flood: {me.rps:.1f} req/s, p99 {me.p99_ms:.1f} ms")


# --- workers -------------------------------------------------------------------------------


def run_workers(ctx: ExtraContext, result: ExtraRun, outdir: Path) -> None:
    """authkit's /auth/me, then the hello's `GET /`, each from one worker and from two.

    The hello gains from a second worker only what this machine allows (wrk and the
    database share the cores with the workers): beside it, authkit's gain is its own.
    """
    setups = [
        ("me", "1worker", ONE_CPU, 1),
        ("me", "2workers", BOTH_CPUS, 2),
        ("hello", "1worker", ONE_CPU, 1),
        ("hello", "2workers", BOTH_CPUS, 2),
    ]
    if ctx.round % 2 == 0:
        setups.reverse()
    for kind, setup, cpus, workers in setups:
        key = f"{kind}@{setup}"
        if kind == "me":
            server = _authkit(ctx, f"workers-{setup}", cpus, workers=workers)
            label = f"GET /auth/me, `authkit serve --workers {workers}` on {_where(cpus)}"
        else:
            server = _hello(ctx, setup, cpus, workers)
            label = f"GET / (hello), `uvicorn --workers {workers}` on {_where(cpus)}"
        with server as running:
            result.loads[key] = _locked(ctx, running, kind, label, key, outdir)


# --- growth --------------------------------------------------------------------------------


def _populate(db_port: int, database: str, count: int, password_hash: str) -> float:
    """`count` users (growth-000001...) straight into `users`, then authkit's unique index
    on username (the same `username_1` it makes at start, so its own is a no-op): seconds."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        f"mongodb://127.0.0.1:{db_port}", serverSelectionTimeoutMS=5000
    )
    start = time.perf_counter()
    try:
        users = client[database]["users"]
        for first in range(1, count + 1, GROWTH_BATCH):
            last = min(first + GROWTH_BATCH, count + 1)
            batch = [
                {"username": f"growth-{i:06d}", "password": password_hash, "__v": 0}
                for i in range(first, last)
            ]
            users.insert_many(batch, ordered=False)
        users.create_index("username", unique=True)
    finally:
        client.close()
    return round(time.perf_counter() - start, 1)


def query_plan(users: Collection[dict[str, Any]], username: str) -> dict[str, Any]:
    """The winning plan of the users lookup authkit makes ({"username": name}), if the
    database explains queries: its stages, top down, and what it examined."""
    try:
        explained = users.find({"username": username}).explain()
    except PyMongoError as exc:
        return {"supported": False, "detail": f"explain failed: {type(exc).__name__}: {exc}"}
    plan = explained.get("queryPlanner", {}).get("winningPlan")
    if not isinstance(plan, dict) or "stage" not in plan:
        return {"supported": False, "detail": "explain gave no queryPlanner.winningPlan"}
    stages: list[str] = []
    node: Any = plan
    while isinstance(node, dict) and "stage" in node:
        index = f" {node['indexName']}" if node.get("indexName") else ""
        stages.append(f"{node['stage']}{index}")
        node = node.get("inputStage")
    stats = explained.get("executionStats") or {}
    return {
        "supported": True,
        "plan": " > ".join(stages),
        "stages": [stage.split()[0] for stage in stages],
        "keys_examined": stats.get("totalKeysExamined"),
        "docs_examined": stats.get("totalDocsExamined"),
    }


def lookup_ms(users: Collection[dict[str, Any]], count: int, samples: int = 200) -> float:
    """Median time of `find_one({"username": ...})` from here, over users spread across the
    collection: the database's side of a signin, without bcrypt or HTTP."""
    times = []
    for n in range(samples):
        name = f"growth-{1 + n * max(count - 1, 1) // samples:06d}"
        start = time.perf_counter()
        users.find_one({"username": name})
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def run_growth(ctx: ExtraContext, result: ExtraRun, outdir: Path) -> None:
    sizes = [GROWTH_SMALL, ctx.growth_users]
    if ctx.round % 2 == 0:
        sizes.reverse()
    password_hash = bcrypt.hashpw(GROWTH_PASSWORD, bcrypt.gensalt(10)).decode()
    sized: dict[str, Any] = {}
    result.facts["sizes"] = sized
    for size in sizes:
        facts: dict[str, Any] = {}
        sized[str(size)] = facts

        def populate(database: str, size: int = size, facts: dict[str, Any] = facts) -> None:
            with bench_lock():  # the insert loads CPU 1 (database, harness) for a while
                say(f"run {ctx.round}: inserting {size - 1} users into {database}")
                facts["insert_seconds"] = _populate(ctx.db_port, database, size - 1, password_hash)

        with _authkit(ctx, f"growth-{size}", ONE_CPU, before_start=populate) as running:
            client: MongoClient[dict[str, Any]] = MongoClient(
                f"mongodb://127.0.0.1:{ctx.db_port}", serverSelectionTimeoutMS=5000
            )
            try:
                users = client[running.database]["users"]
                facts["users"] = users.estimated_document_count()  # with the bench user
                with bench_lock():
                    facts["query_plan"] = query_plan(users, running.user)
                    facts["lookup_ms"] = lookup_ms(users, size)
            finally:
                client.close()
            for kind in ("signin", "me"):
                path = "POST /auth/signin" if kind == "signin" else "GET /auth/me"
                label = f"{path}, {size:,} users, authkit on {_where(ONE_CPU)}"
                key = f"{kind}@{size}"
                result.loads[key] = _locked(ctx, running, kind, label, key, outdir)


# --- the entry point -----------------------------------------------------------------------

RUNNERS: dict[str, Callable[[ExtraContext, ExtraRun, Path], None]] = {
    "cores": run_cores,
    "flood": run_flood,
    "workers": run_workers,
    "growth": run_growth,
}


def run_extra(scenario: str, ctx: ExtraContext) -> ExtraRun:
    """One round of an opt-in scenario; its error (if any) is kept with what was measured."""
    result = ExtraRun(scenario, ctx.round)
    outdir = ctx.out / f"run{ctx.round}" / f"extra-{scenario}"
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        RUNNERS[scenario](ctx, result, outdir)
    except (RuntimeError, ValueError, OSError, PyMongoError, subprocess.SubprocessError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        say(f"run {ctx.round}: {scenario}: ERROR: {result.error}")
    return result
