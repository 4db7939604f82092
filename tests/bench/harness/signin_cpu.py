"""Where a signin's CPU goes besides bcrypt: signins called in-process against a real
MongoDB-protocol server (SecantusDB in memory), CPU time of all threads per signin, beside
what `checkpw` and each kind of pymongo call cost on their own.

    python tests/bench/run.py signin-cpu                # 300 signins, bcrypt cost 4
    python tests/bench/run.py signin-cpu --signins 1000
    python tests/bench/run.py signin-cpu --peer         # and the FastAPI-Users peer the same way
    python tests/bench/run.py signin-cpu --breakdown 3  # as shipped, then without each feature
    python tests/bench/run.py signin-cpu --breakdown 3 --peer   # and the peer in each round

`--peer` runs the peer's app (tests/bench/peers/fastapi-users-peer, in the venv the harness
makes for it, .bench/peer-venv, installed on first use) in a process of its own,
against the same database server, its bcrypt set to the same cost: what the two spend on
a signin besides bcrypt, measured minutes apart at most.

`--breakdown N` runs the signins in a fresh process per setting, N rounds in turn: as
shipped, without the sign-in limits, without refresh tokens, without both (what the peer
has); the medians say what each feature costs a signin.

Cost 4 keeps bcrypt small so the rest shows; the server's own share (the database process)
is not counted. Other settings are as shipped (sign-in limits and refresh tokens on) unless
the environment says otherwise, e.g. AUTHKIT_SIGNIN_LIMIT_ACCOUNT=off
AUTHKIT_SIGNIN_LIMIT_ADDRESS=off, or AUTHKIT_REFRESH_TOKENS=off. Figures are CPU time, so
they move with the machine's load: compare runs taken minutes apart, not across days.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pymongo

# Run as a script too (its children, in this venv or the peer's): the checkout measured (this
# one, or BENCH_TREE's: `--tree`), and this folder for profile_app.
sys.path.insert(0, os.environ.get("BENCH_TREE") or str(Path(__file__).resolve().parents[3]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROUNDS = 4
BODY = json.dumps({"username": "cpuprobe", "password": "CpuProbe123"}).encode()


def cpu_ms(calls: int, run: Any) -> float:
    started = time.process_time()
    for i in range(calls):
        run(i)
    return (time.process_time() - started) / calls * 1000


async def post(app: Any, path: str) -> int:
    from profile_app import request_scope

    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    scope = {**request_scope(path, headers), "method": "POST"}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def signins(uri: str, count: int) -> float:
    from profile_app import app_and_settings, log_to_a_file

    os.environ.update(
        JWT_SECRET="p" * 48,
        BCRYPT_ROUNDS=str(ROUNDS),
        MONGO_URI=uri,
    )
    create_app, settings = app_and_settings()
    handler = log_to_a_file()  # as shipped: an access line per request, to a file
    per_signin = await _timed_signins(create_app(settings), count)
    handler.flush()  # the last lines, still waiting for their event-loop turn to end
    return per_signin


async def _timed_signins(app: Any, count: int) -> float:
    async with app.router.lifespan_context(app):
        if await post(app, "/auth/signup") != 201:
            raise SystemExit("signup failed")
        for _ in range(20):  # warm: connection pool, worker threads, caches
            await post(app, "/auth/signin")
        started = time.process_time()
        for _ in range(count):
            if await post(app, "/auth/signin") != 201:
                raise SystemExit("signin failed")
        return (time.process_time() - started) / count * 1000


async def peer_signins(peer_dir: str, uri: str, count: int) -> float:
    """In the peer's venv: its app, with its bcrypt cost set to ours."""
    os.environ.update(MONGO_URI=uri, JWT_SECRET="p" * 48)
    sys.path.insert(0, peer_dir)
    from fastapi_users.password import PasswordHelper
    from pwdlib import PasswordHash
    from pwdlib.hashers.bcrypt import BcryptHasher

    import app as peer

    # The app looks the helper up when a request builds its user manager.
    peer.password_helper = PasswordHelper(PasswordHash((BcryptHasher(rounds=ROUNDS),)))
    return await _timed_signins(peer.app, count)


_LIMITS_OFF = {"AUTHKIT_SIGNIN_LIMIT_ACCOUNT": "off", "AUTHKIT_SIGNIN_LIMIT_ADDRESS": "off"}
_REFRESH_OFF = {"AUTHKIT_REFRESH_TOKENS": "off"}
_FEATURES_OFF: dict[str, dict[str, str]] = {
    "as shipped": {},
    "sign-in limits off": _LIMITS_OFF,
    "refresh tokens off": _REFRESH_OFF,
    "both off": {**_LIMITS_OFF, **_REFRESH_OFF},
}


def _child_figure(argv: list[str], what: str, env: dict[str, str] | None = None) -> float:
    """Run a child measurement (this script, in some interpreter): the figure it prints last."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def breakdown(
    uri: str, count: int, rounds: int, peer: Callable[[str], float] | None
) -> dict[str, list[float]]:
    """CPU per signin for each setting of _FEATURES_OFF, each in a process of its own, and
    `peer(uri)`'s in each round when given."""
    figures: dict[str, list[float]] = {name: [] for name in _FEATURES_OFF}
    if peer is not None:
        figures["FastAPI-Users peer"] = []
    for round_ in range(rounds):
        for number, (name, off) in enumerate(_FEATURES_OFF.items()):
            # A database each: every child signs its user up first.
            own_uri = f"{uri}_{round_}_{number}"
            argv = [sys.executable, __file__, "--child", own_uri, str(count)]
            figures[name].append(_child_figure(argv, f"signins {name}", {**os.environ, **off}))
        if peer is not None:
            figures["FastAPI-Users peer"].append(peer(f"{uri}_{round_}_peer"))
    return figures


def run_peer(peer_python: Path, peer_dir: Path, uri: str, *, count: int) -> float:
    argv = [str(peer_python), __file__, "--peer-child", str(peer_dir), uri, str(count)]
    return _child_figure(argv, "the peer's signins")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/bench/run.py signin-cpu", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--signins", type=int, default=300)
    parser.add_argument("--peer", action="store_true", help="measure the FastAPI-Users peer too")
    parser.add_argument("--peer-python", type=Path, help="default: .bench/peer-venv's")
    parser.add_argument("--peer-dir", type=Path, help="default: tests/bench/peers/...")
    parser.add_argument("--breakdown", type=int, metavar="ROUNDS", help="each feature's cost")
    parser.add_argument("--tree", type=Path, help="another checkout's code (a git worktree)")
    parser.add_argument("--peer-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        uri, count = args.child
        print(asyncio.run(signins(uri, int(count))))
        return 0
    if args.peer_child:
        peer_dir, uri, count = args.peer_child
        print(asyncio.run(peer_signins(peer_dir, uri, int(count))))
        return 0
    # Imported here: the children above run as scripts, the peer's in its own venv.
    from harness.common import PEERS_DIR, STATE_DIR
    from harness.tools import find_peers, prepare_peer

    if args.tree is not None:  # every authkit signin in a child, with that tree's code
        os.environ["BENCH_TREE"] = str(args.tree.resolve())
    args.peer_python = args.peer_python or STATE_DIR / "peer-venv/bin/python"
    args.peer_dir = args.peer_dir or PEERS_DIR / "fastapi-users-peer"
    if args.peer and not args.peer_python.exists():
        prepare_peer(*find_peers())  # the peer's venv, .bench/peer-venv, on first use
    if args.peer and not (args.peer_python.exists() and (args.peer_dir / "app.py").exists()):
        raise SystemExit(f"no peer: {args.peer_python} or {args.peer_dir}/app.py is missing")
    from authkit.storage.embedded import EmbeddedMongo

    with EmbeddedMongo(None, database="signincpu") as database:
        if args.breakdown:
            peer_run = (
                functools.partial(run_peer, args.peer_python, args.peer_dir, count=args.signins)
                if args.peer
                else None
            )
            figures = breakdown(database.uri, args.signins, args.breakdown, peer_run)
            print(f"CPU per signin, all threads, bcrypt cost {ROUNDS} (median of {args.breakdown})")
            for name, values in figures.items():
                shown = ", ".join(f"{v:.2f}" for v in values)
                print(f"  {name:20s} {statistics.median(values):6.2f} ms   ({shown})")
            return 0
        per_signin = (
            _child_figure([sys.executable, __file__, "--child", database.uri, str(args.signins)],
                          f"signins in {args.tree}")
            if args.tree is not None
            else asyncio.run(signins(database.uri, args.signins))
        )  # fmt: skip
        peer = (
            # Same database: the peer's users live in Beanie's `User`, ours in `users`.
            run_peer(args.peer_python, args.peer_dir, database.uri, count=args.signins)
            if args.peer
            else None
        )
        collection = pymongo.MongoClient(database.uri).get_default_database()["probe"]
        collection.insert_one({"n": -1})
        insert = cpu_ms(args.signins, lambda i: collection.insert_one({"n": i, "pad": "x" * 100}))
        find = cpu_ms(args.signins, lambda i: collection.find_one({"n": i}))
    hashed = bcrypt.hashpw(b"CpuProbe123", bcrypt.gensalt(ROUNDS))
    check = cpu_ms(args.signins, lambda _: bcrypt.checkpw(b"CpuProbe123", hashed))
    print(f"signin, all threads:        {per_signin:6.2f} ms CPU (bcrypt cost {ROUNDS})")
    print(f"  checkpw alone:            {check:6.2f} ms")
    print(
        f"  pymongo insert_one alone: {insert:6.2f} ms   (a signin inserts a session and a token)"
    )
    print(f"  pymongo find_one alone:   {find:6.2f} ms   (the user; the sign-in limits)")
    if peer is not None:
        print(f"FastAPI-Users peer, all threads: {peer:6.2f} ms CPU (bcrypt cost {ROUNDS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
