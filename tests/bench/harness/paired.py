"""Paired measurements: servers that run at the same time, loaded in turn in short windows.

On a shared VM one server's req/s moves by 20-30% from one minute to the next, so the main
table's rounds (minutes between two targets) give wide spreads of a ratio. Here every server
of a comparison is up at once (only the one under load is busy), wrk on LOAD_CPU loads each
in turn, the order alternating, and the median of the pairs' ratios is the figure.

    paired          authkit's /auth/me (or another PATH) as a share of the Starlette hello
    paired-trees    one checkout of authkit against another (B's req/s as a share of A's)
    paired-signin   authkit's signins against the FastAPI-Users peer's
    paired-workers  two workers ÷ one, authkit's `authkit serve` and the hello's uvicorn

authkit settings in the environment pass through to every authkit started here
(`AUTHKIT_ACCESS_LOG=false run.py paired 12`); the bench's BCRYPT_ROUNDS=10 and
JWT_EXPIRES_IN=1h win. The database is one SecantusDB in memory on LOAD_CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from authkit.storage.embedded import EmbeddedMongo, free_port
from harness.common import BENCH_DIR, LOAD_CPU, ROOT, SERVER_CPU, Server, pin_to_load_cpu, say
from harness.targets import (
    Launch,
    authkit_launch,
    hello_launch,
    passed_settings,
    peer_launch,
)
from harness.tools import (
    SetupFailed,
    TargetUnavailable,
    ensure_tools,
    find_peers,
    prepare_peer,
)

__all__ = ["COMMANDS", "main"]

BOTH_CPUS = f"{SERVER_CPU},{LOAD_CPU}"


def wrk_rps(
    url: str, seconds: float, header: str | None = None, *, script: Path | None = None,
    timeout: str = "10s",
) -> float:  # fmt: skip
    """req/s of wrk on LOAD_CPU, 32 connections, against `url` for `seconds`."""
    argv = [
        "taskset", "-c", str(LOAD_CPU), "wrk", "-t1", "-c32", f"-d{seconds:g}s",
        "--timeout", timeout, "-H", header or "X-Bench: 1",
    ]  # fmt: skip
    if script is not None:
        argv += ["-s", str(script)]
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=False)
    found = re.search(r"^Requests/sec:\s+([0-9.]+)", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk against {url} failed: {(done.stderr or done.stdout)[-300:]}")
    refused = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", done.stdout)
    if refused:  # counted in req/s all the same: a 429 or 401 is not a measurement
        say(f"warning: {refused[1]} non-2xx answers from {url} in this window")
    return float(found[1])


def _post_json(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def bench_token(url: str, username: str, password: str) -> str:
    """Sign the user up on the authkit at `url` (if new) and return an access token."""
    credentials = {"username": username, "password": password}
    _post_json(url + "/auth/signup", credentials)
    status, body = _post_json(url + "/auth/signin", credentials)
    if status != 201 or "accessToken" not in body:
        raise RuntimeError(f"signin on {url} answered {status}")
    return str(body["accessToken"])


def summarize(unit: str, ratios: list[float]) -> str:
    """'median of N pairs: M (quartiles Q1-Q3)', as the shell scripts printed it."""
    form = ".1f" if unit == "%" else ".3f"
    middle, quartiles = statistics.median(ratios), statistics.quantiles(ratios, n=4)
    return (
        f"median of {len(ratios)} pairs: {middle:{form}}{unit} "
        f"(quartiles {quartiles[0]:{form}}-{quartiles[2]:{form}}{unit})"
    )


def _revision(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.strip() or "unknown"


class Session:
    """The database and the servers of one paired measurement, stopped on exit."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.secret = secrets.token_urlsafe(48)
        self.servers: list[Server] = []
        self.database = EmbeddedMongo(None, log_file=out / "db.log")

    def uri(self, name: str) -> str:
        return f"mongodb://127.0.0.1:{self.database.port}/{name}"

    def start(self, name: str, launch: Launch) -> Server:
        server = Server.start(name, launch.argv, launch.env, launch.cwd, self.out / f"{name}.log")
        self.servers.append(server)
        return server

    def workdir(self) -> Path:
        path = self.out / "cwd"  # an empty folder: no developer's ./.env is read
        path.mkdir(exist_ok=True)
        return path


@contextlib.contextmanager
def session(out: Path | None) -> Iterator[Session]:
    folder = out or Path(tempfile.mkdtemp(prefix="authkit-paired-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.sched_setaffinity(0, {LOAD_CPU})  # this harness, and what it starts, off SERVER_CPU
    current = Session(folder)
    current.database.start()
    try:
        pin_to_load_cpu(current.database.port)
        yield current
    finally:
        for server in reversed(current.servers):
            server.stop()
        current.database.stop()


def _settings_note() -> str:
    given = passed_settings()
    return " ".join(f"{k}={v}" for k, v in sorted(given.items())) or "as shipped"


def _write(out: Path, name: str, data: dict[str, Any]) -> None:
    (out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")


def paired(args: argparse.Namespace) -> int:
    """authkit's PATH as a share of the hello's `GET /`, 3 s windows in alternating pairs."""
    with session(args.out) as run:
        ak_port, hello_port = free_port(), free_port()
        workdir = run.workdir()
        authkit = run.start("authkit", authkit_launch(
            ak_port, run.uri("paired"), run.secret, workdir, settings=passed_settings(),
            tree=args.tree
        ))  # fmt: skip
        hello = run.start("hello", hello_launch(hello_port, workdir))
        ak_url, hello_url = f"http://127.0.0.1:{ak_port}", f"http://127.0.0.1:{hello_port}"
        authkit.wait_until_answers(ak_url + "/healthz", 60)
        hello.wait_until_answers(hello_url + "/", 60)
        token = bench_token(ak_url, "paireduser", "PairedPass123")

        def authkit_rps(seconds: float) -> float:
            return wrk_rps(ak_url + args.path, seconds, f"Authorization: Bearer {token}")

        def hello_rps(seconds: float) -> float:
            return wrk_rps(hello_url + "/", seconds)

        authkit_rps(min(2, args.window)), hello_rps(min(2, args.window))  # warm both up
        print(f"| pair | authkit {args.path} req/s | hello req/s | authkit / hello |")
        print("|---|---|---|---|")
        pairs: list[dict[str, float]] = []
        for i in range(1, args.pairs + 1):
            if i % 2:
                a = authkit_rps(args.window)
                h = hello_rps(args.window)
            else:
                h = hello_rps(args.window)
                a = authkit_rps(args.window)
            pairs.append({"authkit": a, "hello": h, "ratio": a / h * 100})
            print(f"| {i} | {a:.2f} | {h:.2f} | {a / h * 100:.1f}% |", flush=True)
        print(summarize("%", [p["ratio"] for p in pairs]))
        print(f"settings: {_settings_note()}; {_revision(args.tree)}; logs in {run.out}")
        _write(
            run.out, "paired", {"path": args.path, "settings": passed_settings(), "pairs": pairs}
        )
    return 0


def paired_trees(args: argparse.Namespace) -> int:
    """Tree B's req/s as a share of tree A's, both authkit, in alternating pairs."""
    trees = [Path(args.tree_a).resolve(), Path(args.tree_b).resolve()]
    with session(args.out) as run:
        urls = []
        for name, tree in zip(("a", "b"), trees, strict=True):
            port = free_port()
            # A database each: two versions may keep their collections differently (an
            # index one makes, the other would refuse), and neither must measure the other's.
            launch = authkit_launch(
                port, run.uri(f"pairedtrees_{name}"), run.secret, run.workdir(), tree=tree,
                settings=passed_settings(),
            )  # fmt: skip
            server = run.start(name, launch)
            urls.append(f"http://127.0.0.1:{port}")
            server.wait_until_answers(urls[-1] + "/healthz", 60)
        tokens = {url: bench_token(url, "paireduser", "PairedPass123") for url in urls}

        def rps(url: str, seconds: float) -> float:
            return wrk_rps(url + args.path, seconds, f"Authorization: Bearer {tokens[url]}")

        rps(urls[0], min(2, args.window)), rps(urls[1], min(2, args.window))  # warm up
        print("| pair | A req/s | B req/s | B / A |")
        print("|---|---|---|---|")
        pairs: list[dict[str, float]] = []
        for i in range(1, args.pairs + 1):
            if i % 2:
                a = rps(urls[0], args.window)
                b = rps(urls[1], args.window)
            else:
                b = rps(urls[1], args.window)
                a = rps(urls[0], args.window)
            pairs.append({"a": a, "b": b, "ratio": b / a * 100})
            print(f"| {i} | {a:.2f} | {b:.2f} | {b / a * 100:.1f}% |", flush=True)
        print(f"B / A, {summarize('%', [p['ratio'] for p in pairs])}")
        print(
            f"A: {trees[0]} ({_revision(trees[0])}); B: {trees[1]} ({_revision(trees[1])}); "
            f"logs in {run.out}"
        )
        _write(run.out, "paired-trees", {"trees": [str(t) for t in trees], "pairs": pairs})
    return 0


def paired_signin(args: argparse.Namespace) -> int:
    """authkit's signins ÷ the FastAPI-Users peer's, in alternating windows of SECONDS."""
    peers, where = find_peers()
    try:
        folder = prepare_peer(peers, where)
    except (TargetUnavailable, SetupFailed) as exc:
        say(str(exc))
        return 2
    body = {"username": "benchuser", "password": "BenchPass123"}  # signin.lua's defaults
    with session(args.out) as run:
        ak_port, peer_port = free_port(), free_port()
        workdir = run.workdir()
        authkit = run.start("authkit", authkit_launch(
            ak_port, run.uri("pairedauthkit"), run.secret, workdir, settings=passed_settings(),
            tree=args.tree
        ))  # fmt: skip
        peer = run.start("peer", peer_launch(folder)(
            peer_port, run.uri("pairedpeer"), run.secret, workdir
        ))  # fmt: skip
        urls = {"authkit": f"http://127.0.0.1:{ak_port}", "peer": f"http://127.0.0.1:{peer_port}"}
        for server, url in ((authkit, urls["authkit"]), (peer, urls["peer"])):
            server.wait_until_answers(url + "/", 90)
            _post_json(url + "/auth/signup", body)
            status, _ = _post_json(url + "/auth/signin", body)
            if status != 201:
                raise RuntimeError(f"signin on {url} answered {status}; logs in {run.out}")

        def rate(name: str, seconds: float) -> float:
            got = wrk_rps(
                urls[name] + "/auth/signin", seconds, script=BENCH_DIR / "signin.lua",
                timeout="30s",
            )  # fmt: skip
            # wrk's last 32 signins are still queued in the server (3 s of bcrypt): let them
            # finish before the other server's turn, or they would take its CPU.
            time.sleep(5)
            return got

        rate("authkit", 3), rate("peer", 3)  # warm both up
        print("| pair | authkit signin/s | peer signin/s | authkit / peer |")
        print("|---|---|---|---|")
        pairs: list[dict[str, float]] = []
        for i in range(1, args.pairs + 1):
            if i % 2:
                a = rate("authkit", args.seconds)
                p = rate("peer", args.seconds)
            else:
                p = rate("peer", args.seconds)
                a = rate("authkit", args.seconds)
            pairs.append({"authkit": a, "peer": p, "ratio": a / p})
            print(f"| {i} | {a:.2f} | {p:.2f} | {a / p:.3f}x |", flush=True)
        print(summarize("x", [p["ratio"] for p in pairs]))
        print(f"settings: {_settings_note()}; commit {_revision(args.tree)}; logs in {run.out}")
        _write(run.out, "paired-signin", {"settings": passed_settings(), "pairs": pairs})
    return 0


def paired_workers(args: argparse.Namespace) -> int:
    """Two workers ÷ one, for authkit (`authkit serve --workers N`) and for the hello
    (`uvicorn --workers N`): four servers up at once, each loaded 3 s per round."""
    cpus = {1: str(SERVER_CPU), 2: BOTH_CPUS}
    with session(args.out) as run:
        urls: dict[str, str] = {}
        waits: list[tuple[Server, str]] = []
        workdir = run.workdir()
        for n in (1, 2):
            port = free_port()
            launch = authkit_launch(
                port, run.uri("pairedworkers"), run.secret, workdir, cpus=cpus[n], workers=n,
                settings=passed_settings(), tree=args.tree,
            )  # fmt: skip
            urls[f"ak{n}"] = f"http://127.0.0.1:{port}"
            waits.append((run.start(f"authkit{n}", launch), urls[f"ak{n}"] + "/healthz"))
            port = free_port()
            urls[f"hello{n}"] = f"http://127.0.0.1:{port}"
            server = run.start(f"hello{n}", hello_launch(port, workdir, cpus=cpus[n], workers=n))
            waits.append((server, urls[f"hello{n}"] + "/"))
        for server, url in waits:
            server.wait_until_answers(url, 90)
        # Both authkits share the database: one user, and its token is good on either.
        token = bench_token(urls["ak1"], "workersuser", "WorkersPass123")
        time.sleep(3)  # uvicorn's --workers: every worker listening before the first window

        def rps(name: str, seconds: float) -> float:
            if name.startswith("ak"):
                return wrk_rps(urls[name] + "/auth/me", seconds, f"Authorization: Bearer {token}")
            return wrk_rps(urls[name] + "/", seconds)

        order = ["ak1", "ak2", "hello1", "hello2"]
        for name in order:
            rps(name, min(2, args.window))  # warm all up
        print(
            "| round | authkit, 1 worker | 2 workers | authkit 2 ÷ 1 "
            "| hello, 1 worker | 2 workers | hello 2 ÷ 1 |"
        )
        print("|---|---|---|---|---|---|---|")
        rounds: list[dict[str, float]] = []
        for i in range(1, args.rounds + 1):
            got = {name: rps(name, args.window) for name in (order if i % 2 else order[::-1])}
            ak, hello = got["ak2"] / got["ak1"], got["hello2"] / got["hello1"]
            share = (ak - 1) / (hello - 1) * 100 if hello > 1 else 0.0
            rounds.append({**got, "authkit_gain": ak, "hello_gain": hello, "share": share})
            print(
                f"| {i} | {got['ak1']:.2f} | {got['ak2']:.2f} | {ak:.3f}x "
                f"| {got['hello1']:.2f} | {got['hello2']:.2f} | {hello:.3f}x |",
                flush=True,
            )
        print(f"authkit, two workers ÷ one: {summarize('x', [r['authkit_gain'] for r in rounds])}")
        print(f"hello, two workers ÷ one:   {summarize('x', [r['hello_gain'] for r in rounds])}")
        print(
            "authkit's gain (2 ÷ 1 - 1) as a share of the hello's: "
            f"{summarize('%', [r['share'] for r in rounds])}"
        )
        print(f"settings: {_settings_note()}; {_revision(args.tree)}; logs in {run.out}")
        _write(run.out, "paired-workers", {"settings": passed_settings(), "rounds": rounds})
    return 0


def _at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{text}: must be {low} or more")
        return value

    return parse


def _parser(command: str) -> argparse.ArgumentParser:
    doc = {
        "paired": paired,
        "paired-trees": paired_trees,
        "paired-signin": paired_signin,
        "paired-workers": paired_workers,
    }[command].__doc__
    parser = argparse.ArgumentParser(
        prog=f"tests/bench/run.py {command}", description=(doc or "").strip()
    )
    if command == "paired":
        parser.add_argument("pairs", nargs="?", type=_at_least(2), default=12)
        parser.add_argument("path", nargs="?", default="/auth/me", help="authkit's path")
    elif command == "paired-trees":
        parser.add_argument("pairs", type=_at_least(2))
        parser.add_argument("tree_a", help="checkout A (e.g. a git worktree of the commit before)")
        parser.add_argument("tree_b", help="checkout B (e.g. .)")
        parser.add_argument("path", nargs="?", default="/auth/me")
    elif command == "paired-signin":
        parser.add_argument("pairs", nargs="?", type=_at_least(2), default=8)
        parser.add_argument("seconds", nargs="?", type=_at_least(1), default=10, help="window")
    else:
        parser.add_argument("rounds", nargs="?", type=_at_least(2), default=10)
    if command != "paired-trees":
        parser.add_argument(
            "--tree", type=lambda text: Path(text).resolve(), default=ROOT,
            help="the checkout whose authkit runs (default: this one)",
        )  # fmt: skip
    if command != "paired-signin":
        parser.add_argument("--window", type=float, default=3.0, help="seconds per window (3)")
    parser.add_argument("--out", type=Path, help="logs and the pairs as JSON (default: a tmp dir)")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "paired": paired,
    "paired-trees": paired_trees,
    "paired-signin": paired_signin,
    "paired-workers": paired_workers,
}


def main(command: str, argv: list[str]) -> int:
    args = _parser(command).parse_args(argv)
    try:
        ensure_tools()  # wrk and the rest, as the table installs them: a fresh machine has none
    except SetupFailed as exc:
        say(str(exc))
        return 2
    try:
        return COMMANDS[command](args)
    except RuntimeError as exc:
        say(f"stopped: {exc}")
        return 1
