"""CPU instructions per request inside authkit, counted by valgrind's callgrind: a figure that
does not move with the machine's load, so two commits can be compared on a busy host.

    python tests/bench/run.py instructions                  # /auth/me, 404, /auth/me, no token
    python tests/bench/run.py instructions --scenarios me --env AUTHKIT_ACCESS_LOG=false
    python tests/bench/run.py instructions --tree /tmp/before    # another checkout (a worktree)
    python tests/bench/run.py instructions --scenarios access-line  # the access line alone
    python tests/bench/run.py instructions --scenarios hello,me  # Starlette's hello beside

Each scenario runs twice under callgrind, with 500 and with 2,500 requests of the
in-process harness (harness/profile_app.py: the ASGI app on mongomock, no HTTP server);
the difference divided by 2,000 is the cost of one request, start-up excluded. It counts
user-space instructions of the Python process, so it leaves out uvicorn's socket work
and the kernel: use it to compare changes to authkit, and run.py's table or paired for req/s.
Needs valgrind (Debian package `valgrind`). About a minute per scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SMALL, LARGE = 500, 2500
HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def count(tree: Path, scenario: str, requests: int, env: dict[str, str]) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        scenario,
        str(requests),
        "--tree",
        str(tree),
    ]
    done = subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{scenario}: valgrind failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def child(tree: Path, scenario: str, requests: int) -> None:
    # The tree measured comes first on the path, ahead of any installed authkit, with its own
    # in-process harness: tests/bench/harness/profile_app.py, or bench/profile_app.py in a
    # checkout from before the bench moved under tests/.
    harness = tree / "tests" / "bench" / "harness"
    sys.path[:0] = [str(harness if (harness / "profile_app.py").is_file() else tree / "bench")]
    sys.path[:0] = [str(tree)]
    sys.path[:] = [sys.path[0], sys.path[1], *(p for p in sys.path[2:] if p != str(HERE))]
    if scenario == "access-line":
        access_lines(requests)
        return
    import profile_app

    if scenario == "hello":
        asyncio.run(hello(requests))
        return

    async def run() -> None:
        app = profile_app.build_app()
        async with app.router.lifespan_context(app):
            make = profile_app.scenarios(app, fresh_tokens=False)[scenario]
            await profile_app.measure(app, make, 300)  # warm: caches, first-use imports
            await profile_app.measure(app, make, requests)

    asyncio.run(run())


async def hello(requests: int) -> None:
    """The bare Starlette hello (tests/bench/hello_starlette.py), the baseline of the table."""
    import profile_app

    sys.path.insert(0, str(HERE.parent))
    from hello_starlette import app

    def make() -> dict[str, object]:
        return profile_app.request_scope("/", [])

    await profile_app.measure(app, make, 300)
    await profile_app.measure(app, make, requests)


def access_lines(count: int) -> None:
    """One request's access line, alone: RequestObserver._log_access in a running loop, to a
    file through authkit's handler, as the server writes it."""
    import profile_app

    from authkit.ops.observer import RequestObserver

    class User:
        identity, is_authenticated = "6650c0ffee0123456789abcd", True

    profile_app.log_to_a_file()
    scope = {"method": "GET", "path": "/auth/me", "client": ("127.0.0.1", 50000), "user": User()}

    async def run() -> None:
        for _ in range(count):
            RequestObserver._log_access(scope, "/auth/me", 200, 0.00012, "0" * 32)

    asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/bench/run.py instructions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--scenarios", default="me,notfound,me-no-token")
    parser.add_argument("--tree", type=Path, default=HERE.parents[2], help="default: this one")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--child", nargs=2, metavar=("SCENARIO", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.tree.resolve(), args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        print("bench: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    env = dict(item.split("=", 1) for item in args.env)
    label = " ".join(args.env) or "settings as shipped"
    for scenario in args.scenarios.split(","):
        small = count(args.tree, scenario, SMALL, env)
        large = count(args.tree, scenario, LARGE, env)
        per_request = (large - small) / (LARGE - SMALL)
        print(f"{scenario:12} {per_request / 1000:8.1f}k instructions/request ({label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
