"""The benchmark's one entry point: authkit against a bare Starlette hello, the FastAPI-Users
peer and the NestJS reference, and the finer tools that narrow what the table cannot.

    python tests/bench/run.py [table] [--runs 3] [--duration 10s]
                        [--targets authkit,hello,peer,nest] [--scenarios me,signin,signup,notfound]
                        [--out tests/bench/results/<time>]
    python tests/bench/run.py --targets authkit --scenarios cores,flood,workers,growth
    python tests/bench/run.py paired [PAIRS] [PATH]            authkit ÷ hello, in pairs
    python tests/bench/run.py paired-trees PAIRS TREE_A TREE_B [PATH]
    python tests/bench/run.py paired-signin [PAIRS] [SECONDS]  authkit's signins ÷ the peer's
    python tests/bench/run.py paired-workers [ROUNDS]          two workers ÷ one, authkit, hello
    python tests/bench/run.py signin-cpu [--peer] [--breakdown N]
    python tests/bench/run.py instructions [--tree DIR] [--scenarios ...]   (valgrind)
    python tests/bench/run.py profile [--profile me]           in-process µs per request
    python tests/bench/run.py two-cores                        what a second core adds here
    python tests/bench/run.py chart --from summary.json [--out chart.svg]

`table` (the default) starts each target in turn alone on CPU 0, runs the same wrk scenarios,
prints one markdown table with the ratios and draws it as chart.svg beside summary.json. The
opt-in scenarios (authkit alone: one core vs two, /auth/me under a signin flood, two workers,
100 vs 100,000 users) each get their own section after the table. `run.py COMMAND --help`
describes each command; what each number means: tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from harness.chart import chart_from
from harness.common import (
    BENCH_DIR,
    LOAD_CPU,
    ROOT,
    SERVER_CPU,
    STATE_DIR,
    Server,
    drop_database,
    pin_to_load_cpu,
    say,
    status_kib,
    trim_log,
)
from harness.extras import (
    EXTRA_SCENARIOS,
    GROWTH_SMALL,
    ExtraContext,
    ExtraRun,
    estimate_seconds,
    run_extra,
)
from harness.extras_report import extras_render, extras_summary, extras_warnings
from harness.measure import SCENARIOS, WrkParams, bcrypt_ceiling, run_root, run_wrk_bench
from harness.paired import main as paired_main
from harness.report import Report, TargetRun, render, summary
from harness.targets import (
    AUTHKIT_SETTINGS,
    DEFAULT_TARGETS,
    TARGET_NAMES,
    Target,
    prepare_targets,
)
from harness.tools import SetupFailed, ensure_tools, find_peers

from authkit.storage.embedded import EmbeddedMongo, EmbeddedMongoError, free_port

STARTUP_SECONDS = {"authkit": 3, "hello": 2, "peer": 5, "nest": 15}  # for the time estimate


def _names(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected a comma-separated list of {', '.join(allowed)}"
            )
        return [n for n in allowed if n in names]  # fixed order, no duplicates

    return parse


def _duration(text: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[smh]?", text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a wrk duration such as 10s or 1m")
    return text


def seconds_of(duration: str) -> float:
    factor = {"s": 1, "m": 60, "h": 3600}.get(duration[-1], 1)
    return float(duration.rstrip("smh")) * factor


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tests/bench/run.py [table]",
        description="authkit against its baselines and peers, each alone on CPU 0, "
        "the load on CPU 1. Prints one markdown table; see tests/bench/README.md. Other "
        f"commands: {', '.join(COMMANDS)} (run.py COMMAND --help).",
    )
    parser.add_argument("--runs", type=int, default=3, help="rounds over all targets (default 3)")
    parser.add_argument("--duration", type=_duration, default="10s", help="per scenario (10s)")
    parser.add_argument(
        "--targets", type=_names(TARGET_NAMES), default=list(DEFAULT_TARGETS),
        help=f"comma-separated, of {','.join(TARGET_NAMES)} (default: {','.join(DEFAULT_TARGETS)})",
    )  # fmt: skip
    parser.add_argument(
        "--scenarios", type=_names(SCENARIOS + EXTRA_SCENARIOS), default=list(SCENARIOS),
        help=f"comma-separated, of {','.join(SCENARIOS)} (default: these four) and the opt-in "
        f"{','.join(EXTRA_SCENARIOS)} (authkit only, each its own section)",
    )  # fmt: skip
    parser.add_argument(
        "--growth-users", type=int, default=100_000,
        help="users in the collection for the growth scenario's large run (default 100000)",
    )  # fmt: skip
    parser.add_argument(
        "--warmup", type=int, default=0,
        help="seconds of unrecorded load before each scenario (default 0, as wrk_bench.sh)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, help="results folder (default tests/bench/results/<time>)"
    )
    parser.add_argument(
        "--tree", type=lambda text: Path(text).resolve(), default=ROOT,
        help="the checkout whose authkit runs (default: this one; e.g. a git worktree)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")
    if args.growth_users <= GROWTH_SMALL:
        parser.error(f"--growth-users must be more than {GROWTH_SMALL}")
    args.main_scenarios = [s for s in args.scenarios if s in SCENARIOS]
    args.extra_scenarios = [s for s in args.scenarios if s in EXTRA_SCENARIOS]
    return args


def _uvicorn_stack(site_packages: list[Path] | None = None) -> str:
    """'uvloop/httptools' or 'asyncio/h11': what uvicorn picks in a venv."""

    def has(module: str) -> bool:
        if site_packages is None:
            return importlib.util.find_spec(module) is not None
        return any((path / module).is_dir() for path in site_packages)

    return (
        f"{'uvloop' if has('uvloop') else 'asyncio'}/{'httptools' if has('httptools') else 'h11'}"
    )


def _git_revision(tree: Path = ROOT) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(tree), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    revision = git("rev-parse", "--short", "HEAD") or "unknown"
    return revision + (" + uncommitted changes" if git("status", "--porcelain") else "")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except OSError:
        return "absent"
    return (done.stdout or done.stderr).strip().splitlines()[0] if done.returncode == 0 else "?"


def _notes(args: argparse.Namespace, params: WrkParams, targets: list[Target]) -> list[str]:
    names = [t.name for t in targets]
    wrk = " ".join(params.wrk_argv()[3:])
    notes = [
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; authkit {_git_revision(args.tree)}"
        f"{'' if args.tree == ROOT else f' (the tree {args.tree})'}; "
        f"{_cpu_model()}, {os.cpu_count()} CPUs; Python {platform.python_version()}.",
        (
            f"Each server alone on CPU {SERVER_CPU}; load `{wrk}` on CPU {LOAD_CPU}; SecantusDB "
            f"{version('secantusdb')} in memory on CPU {LOAD_CPU}, a fresh database per target "
            f"and run. {args.runs} run(s), the targets interleaved (each run starts with the "
            "next one, every server freshly started); the figures are medians over the runs."
        )
        if targets
        else (
            f"Load `{wrk}` on CPU {LOAD_CPU}; SecantusDB {version('secantusdb')} in memory on "
            f"CPU {LOAD_CPU}. {args.runs} run(s); the figures are medians over the runs."
        ),
        f"authkit: {', '.join(f'{k}={v}' for k, v in AUTHKIT_SETTINGS.items())}; everything "
        "else as shipped: sign-in limits, JSON access log and /metrics on.",
        f"uvicorn {version('uvicorn')} runs authkit and hello with {_uvicorn_stack()} "
        "(this venv, --no-access-log --log-level warning).",
    ]
    if args.main_scenarios:
        notes.append(
            "authkit vs this: authkit's median req/s ÷ this target's (2.00x: authkit twice as "
            "fast); for hello, authkit's /auth/me as a share of hello's `GET /`. % of bcrypt "
            "ceiling: req/s ÷ the single-thread bcrypt rate on CPU 0 (checkpw for signin, "
            "hashpw for signup)."
        )
    if args.extra_scenarios:
        notes.append(
            f"Opt-in scenarios ({', '.join(args.extra_scenarios)}): authkit alone, after the "
            "main targets in each round, every setup on a freshly started server and a fresh "
            "database; the CPUs each server had are in its row, wrk always runs on CPU "
            f"{LOAD_CPU}. Growth's large run: {args.growth_users:,} users."
        )
    if "peer" in names:
        site = sorted((STATE_DIR / "peer-venv" / "lib").glob("python*/site-packages"))
        notes.append(
            "FastAPI-Users: tests/bench/peers/fastapi-users-peer (its requirements.txt, "
            f"uvicorn with {_uvicorn_stack(site)}), bcrypt cost 10, 60 s tokens, reads the "
            "user from the database on every /auth/me."
        )
    if "nest" in names:
        notes.append(
            f"NestJS: tests/bench/peers/nest-seed on node {_tool_version(['node', '--version'])},"
            " node's bcrypt (cost 10), started with its run.sh (npm ci once, tsc, node)."
        )
    return notes


def run_target(
    target: Target, round_: int, db_port: int, params: WrkParams, scenarios: list[str], out: Path
) -> TargetRun:
    """Start `target` on CPU 0, run the scenarios, stop it."""
    result = TargetRun(target.name, round_)
    workdir = out / f"run{round_}" / target.name
    workdir.mkdir(parents=True, exist_ok=True)
    database = f"bench_{target.name}_r{round_}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(48)
    launch = target.launch(port, f"mongodb://127.0.0.1:{db_port}/{database}", secret, workdir)
    say(f"run {round_}: starting {target.name} on CPU {SERVER_CPU} ({url})")
    server = Server.start(target.name, launch.argv, launch.env, launch.cwd, workdir / "server.log")
    try:
        server.wait_until_answers(url + "/", target.start_timeout)
        result.idle_rss_mib = status_kib(server.pid, "VmRSS") / 1024
        if target.auth:
            result.rows, result.error = run_wrk_bench(url, server.pid, scenarios, params, workdir)
        else:
            result.rows = {"me": run_root(url, server.pid, params, workdir)}
        result.peak_rss_mib = status_kib(server.pid, "VmHWM") / 1024
        if server.process.poll() is not None:
            result.error = f"{target.name} exited with status {server.process.returncode}"
    except (RuntimeError, ValueError, OSError) as exc:
        result.error = str(exc)
    finally:
        server.stop()
        trim_log(server.log)
        drop_database(db_port, database)
    figures = ", ".join(f"{name} {row.rps:.1f} req/s" for name, row in result.rows.items())
    say(f"run {round_}: {target.name}: {figures or 'no figures'}" + (
        f"; ERROR: {result.error}" if result.error else ""
    ))  # fmt: skip
    return result


def estimate_minutes(
    targets: list[Target], scenarios: list[str], runs: int, seconds: float, warmup: int,
    extras: Sequence[str] = (),
) -> float:  # fmt: skip
    per_scenario = seconds + warmup + 3  # settle, bench user, idle checks
    per_round = 2 * max(2.0, seconds / 2) + 2 if scenarios else 0.0  # bcrypt ceiling
    for target in targets:
        count = len(scenarios) if target.auth else 1
        per_round += count * per_scenario + STARTUP_SECONDS.get(target.name, 5) + 3
    per_round += sum(estimate_seconds(name, seconds, warmup) for name in extras)
    return per_round * runs / 60


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM too: stop the servers and the database, print the table


def _command(module: str) -> Callable[[list[str]], int]:
    """The `main(argv)` of a harness module, imported only when its command runs."""

    def run(argv: list[str]) -> int:
        found: int = importlib.import_module(f"harness.{module}").main(argv)
        return found

    return run


def _paired(command: str) -> Callable[[list[str]], int]:
    return lambda argv: paired_main(command, argv)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "table": lambda argv: table(argv),
    "paired": _paired("paired"),
    "paired-trees": _paired("paired-trees"),
    "paired-signin": _paired("paired-signin"),
    "paired-workers": _paired("paired-workers"),
    "signin-cpu": _command("signin_cpu"),
    "instructions": _command("instructions"),
    "profile": _command("profile_app"),
    "two-cores": _command("two_cores"),
    "chart": _command("chart"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command, rest = (argv[0], argv[1:]) if argv and argv[0] in COMMANDS else ("table", argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return COMMANDS[command](rest)
    except KeyboardInterrupt:
        say("interrupted")
        return 130


def table(argv: list[str]) -> int:
    return bench(parse_args(argv))


def bench(args: argparse.Namespace) -> int:
    params = WrkParams(duration=args.duration, warmup=args.warmup)
    out: Path = args.out or BENCH_DIR / "results" / f"{datetime.now():%Y%m%d-%H%M%S}"
    if not {SERVER_CPU, LOAD_CPU} <= os.sched_getaffinity(0):
        allowed = sorted(os.sched_getaffinity(0))
        say(f"needs CPUs {SERVER_CPU} and {LOAD_CPU}; this process may use {allowed}")
        return 2
    try:
        ensure_tools()
    except SetupFailed as exc:
        say(str(exc))
        return 2
    out.mkdir(parents=True, exist_ok=True)
    main_scenarios: list[str] = args.main_scenarios
    extras: list[str] = args.extra_scenarios
    skipped: dict[str, str] = {}
    names = list(args.targets)
    if not main_scenarios:  # only opt-in scenarios: they need authkit and nothing else
        for name in (n for n in names if n != "authkit"):
            skipped[name] = "only opt-in scenarios were selected, and they measure authkit alone"
        names = []
    peers, where = find_peers()
    targets, skipped_now, failed = prepare_targets(names, peers, where, args.tree)
    skipped.update(skipped_now)
    if "me" not in main_scenarios and any(t.name == "hello" for t in targets):
        targets = [t for t in targets if t.name != "hello"]
        skipped["hello"] = "it is the baseline of the `me` scenario, which is not selected"
    if extras and "authkit" not in args.targets:
        skipped[", ".join(extras)] = "the opt-in scenarios measure authkit, not in --targets"
        extras = []
    for name, reason in skipped.items():
        say(f"skipping {name}: {reason}")
    for name, reason in failed.items():
        say(f"FAILED to set up {name}: {reason}")
    if not targets and not extras:
        say("no target left to measure")
        return 1
    seconds = seconds_of(args.duration)
    minutes = estimate_minutes(targets, main_scenarios, args.runs, seconds, args.warmup, extras)
    what = [f"{', '.join(t.name for t in targets)} x {', '.join(main_scenarios)}"]
    what = (what if targets else []) + ([f"authkit x {', '.join(extras)}"] if extras else [])
    say(
        f"{args.runs} run(s) of {'; '.join(what)}, {args.duration} each: "
        f"about {max(minutes, 1):.0f} min; results in {out}"
    )
    os.sched_setaffinity(0, {LOAD_CPU})  # this harness, and what it starts unpinned, off CPU 0
    runs: list[TargetRun] = []
    extra_runs: list[ExtraRun] = []
    ceilings: list[dict[str, object]] = []
    interrupted = False
    database = EmbeddedMongo(None, log_file=out / "database.log")
    try:
        database.start()
        db_pids = tuple(pin_to_load_cpu(database.port))
        for round_ in range(1, args.runs + 1):
            if targets:
                half = max(2.0, seconds / 2)
                ceilings.append(bcrypt_ceiling(half, out / f"run{round_}"))
                shift = (round_ - 1) % len(targets)  # each round starts with the next target
                for target in targets[shift:] + targets[:shift]:
                    runs.append(
                        run_target(target, round_, database.port, params, main_scenarios, out)
                    )
            context = ExtraContext(
                round_, database.port, params, seconds, out, args.growth_users, db_pids
            )
            for name in extras:
                extra_runs.append(run_extra(name, context))
    except KeyboardInterrupt:
        interrupted = True
        say("interrupted; the table below has what was measured")
    except (EmbeddedMongoError, RuntimeError, ValueError) as exc:
        say(f"stopped: {exc}")
        failed["run"] = str(exc)
    finally:
        database.stop()
    notes = _notes(args, params, targets)
    notes += [f"{name} skipped: {reason}" for name, reason in skipped.items()]
    notes += [f"{name} FAILED: {reason}" for name, reason in failed.items()]
    notes += ["INTERRUPTED: not every run was made."] if interrupted else []
    notes.append(f"Raw outputs (wrk, server logs, bcrypt): {out}")
    labels = [(t.name, t.label) for t in sorted(targets, key=lambda t: TARGET_NAMES.index(t.name))]
    report = Report(
        main_scenarios if targets else [], labels, runs, ceilings, notes,
        extras=extras_render(extra_runs, extras), extra_warnings=extras_warnings(extra_runs),
    )  # fmt: skip
    text = render(report)
    data = summary(report)
    data["extra_scenarios"] = extras
    data["extras"] = extras_summary(extra_runs, extras)
    (out / "table.md").write_text(text)
    (out / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    if data["median_rps"]:
        (out / "chart.svg").write_text(chart_from(data))
    print(text)
    if interrupted:
        return 130
    failures = any(run.error for run in runs) or any(run.error for run in extra_runs)
    return 1 if failed or failures else 0


if __name__ == "__main__":
    sys.exit(main())
