"""Where a request's time goes inside authkit, without the HTTP server: the ASGI app called
directly, in this process, on mongomock.

    python tests/bench/run.py profile                 # µs per request for each path
    python tests/bench/run.py profile --profile me  # and pyinstrument's tree for one of them
    SHOW_ALL=1 python tests/bench/run.py profile --profile me  # the tree with library frames too
    python tests/bench/run.py profile --fresh-tokens  # /auth/me with a new token every request

The figures leave out uvicorn (HTTP parsing, the socket): `tests/bench/run.py` measures the whole
server. What this adds is a profile that is deterministic enough to compare two commits:
run it before and after a change, on a quiet machine, and read the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The checkout measured: this one, or the one BENCH_TREE names (`--tree`, another
# `git worktree` for before/after), ahead of any installed authkit.
TREE = Path(os.environ.get("BENCH_TREE") or Path(__file__).resolve().parents[3])
sys.path.insert(0, str(TREE))

SECRET = "profile-secret-" + "x" * 40


def log_to_a_file(log_format: str = "json", level: str = "info") -> logging.Handler:
    """authkit's logging as shipped (an access line per request), into a temporary file as
    a server's stderr would be; flush the handler returned before reading the file."""
    try:
        from authkit.ops.logs import configure_logging
    except ImportError:  # a tree from before authkit/ was grouped by capability
        from authkit.logs import configure_logging  # type: ignore[no-redef]

    configure_logging(log_format, level)
    handler = logging.getLogger("authkit").handlers[0]
    handler.setStream(tempfile.TemporaryFile("w"))  # type: ignore[attr-defined]  # noqa: SIM115
    return handler


def build_app() -> Any:
    import mongomock

    os.environ.update(JWT_SECRET=SECRET, JWT_EXPIRES_IN="1h", BCRYPT_ROUNDS="4")
    create_app, settings = app_and_settings()
    log_to_a_file(settings.observability.log_format, settings.observability.log_level)
    return create_app(settings, database=mongomock.MongoClient().db)


def app_and_settings() -> tuple[Any, Any]:
    """authkit's create_app and the settings from this environment, in this tree's API or,
    for an older tree (`--tree`), in the API it had (app.create_app, config.load_settings)."""
    try:
        from authkit import create_app, load_settings

        return create_app, load_settings(os.environ)
    except ImportError:
        from app import create_app  # type: ignore[attr-defined, no-redef]
        from config import load_settings  # type: ignore[attr-defined, no-redef]

        return create_app, load_settings(env_file=None)


def request_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:3000"), (b"user-agent", b"wrk"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 3000),
    }


async def call(app: Any, scope: dict[str, Any]) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


def scenarios(app: Any, fresh_tokens: bool) -> dict[str, Callable[[], dict[str, Any]]]:
    try:
        from authkit.tokens.issuer import TokenIssuer
    except ImportError:  # an older tree
        from authkit.tokens import TokenIssuer  # type: ignore[attr-defined, no-redef]

    issuer = TokenIssuer(SECRET, 3600)  # the app's: same secret
    token = issuer.issue(user_id="6650c0ffee0123456789abcd", username="profuser")
    me = request_scope("/auth/me", [(b"authorization", f"Bearer {token}".encode())])
    counter = iter(range(10**9))

    def me_fresh() -> dict[str, Any]:
        fresh = issuer.issue(user_id="6650c0ffee0123456789abcd", username=f"u{next(counter)}")
        return request_scope("/auth/me", [(b"authorization", f"Bearer {fresh}".encode())])

    return {
        "me": me_fresh if fresh_tokens else (lambda: me),
        "notfound": lambda: request_scope("/bench-not-found", []),
        "healthz": lambda: request_scope("/healthz", []),
        "me-no-token": lambda: request_scope("/auth/me", []),
    }


async def measure(app: Any, make: Callable[[], dict[str, Any]], n: int) -> float:
    scopes = [make() for _ in range(n)]
    started = time.perf_counter()
    for scope in scopes:
        await call(app, scope)
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_main(argv))


async def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="tests/bench/run.py profile", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5, help="median over this many rounds")
    parser.add_argument("--profile", metavar="SCENARIO", help="print pyinstrument's tree")
    parser.add_argument("--fresh-tokens", action="store_true", help="a new token per request")
    parser.add_argument("--tree", type=Path, help="another checkout's code (a git worktree)")
    args = parser.parse_args(argv)
    if args.tree is not None:  # in a process of its own, its code first on the path
        rest = [a for a in (argv or sys.argv[1:]) if a not in ("--tree", str(args.tree))]
        env = {**os.environ, "BENCH_TREE": str(args.tree.resolve())}
        return subprocess.run([sys.executable, __file__, *rest], env=env, check=False).returncode

    app = build_app()
    async with app.router.lifespan_context(app):
        cases = scenarios(app, args.fresh_tokens)
        for name, make in cases.items():
            status = await call(app, make())
            if status not in (200, 401, 404):
                raise SystemExit(f"{name}: unexpected status {status}")
            await measure(app, make, 2000)  # warm up
            rounds = [await measure(app, make, args.requests) for _ in range(args.rounds)]
            print(
                f"{name:12} {statistics.median(rounds):7.1f} µs/request (median of {args.rounds})"
            )
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0001, async_mode="disabled")
            profiler.start()
            await measure(app, cases[args.profile], args.requests)
            profiler.stop()
            print(
                profiler.output_text(
                    unicode=True, color=False, show_all=bool(os.environ.get("SHOW_ALL"))
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
