"""The `authkit` command (also `python -m authkit`).

`authkit serve` is the one command a new user runs: it makes a JWT secret in
`.env` when there is none, starts the embedded database when no MONGO_URI is
set, and runs uvicorn with the settings. Like app.py it wires concrete
objects, so it may read the configuration; the rest of `authkit/` does not.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from authkit.embedded import EmbeddedMongo, EmbeddedMongoError
from authkit.errors import ConfigError

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from config import ensure_local_secret, load_settings
    from config.loader import read_env_file

    env_file = Path(args.env_file)
    try:
        if ensure_local_secret(env_file):
            print(
                f"authkit: no JWT_SECRET was set, so a new random one was written to "
                f"{env_file.resolve()} (mode 0600). Keep that file private; tokens signed "
                "with it stop working if it changes.",
                file=sys.stderr,
            )
        settings = load_settings(env_file=env_file)
    except ConfigError as exc:
        print(f"authkit: cannot start: {exc}", file=sys.stderr)
        return 2
    # Workers are fresh processes that read only the environment and ./.env: hand them
    # what this process read, whichever env file it was.
    for key, value in read_env_file(env_file).items():
        os.environ.setdefault(key, value)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    os.environ["HOST"], os.environ["PORT"] = host, str(port)

    embedded: EmbeddedMongo | None = None
    if settings.mongo.uri is None:
        data_dir = Path(args.data_dir)
        embedded = EmbeddedMongo(data_dir, log_file=data_dir.parent / "embedded-db.log")
        try:
            embedded.start()
        except EmbeddedMongoError as exc:
            print(f"authkit: cannot start the embedded database: {exc}", file=sys.stderr)
            return 1
        # Workers are separate processes: they find the database through the environment.
        os.environ["MONGO_URI"] = embedded.uri
        print(
            f"authkit: no MONGO_URI set; started the embedded database at {embedded.uri} "
            f"(data in {data_dir.resolve()})",
            file=sys.stderr,
        )
    try:
        uvicorn.run(
            "app:app",
            host=host,
            port=port,
            workers=args.workers,
            log_level=args.log_level,
            env_file=None,
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="authkit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the HTTP service (embedded database when MONGO_URI is unset)",
        description="Run the HTTP service with uvicorn. Settings come from the environment "
        "and .env; without MONGO_URI an embedded database keeps its data in --data-dir.",
    )
    serve.add_argument("--host", help="interface to listen on (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.add_argument("--env-file", default=".env", help="the .env file to read (default: .env)")
    serve.add_argument(
        "--data-dir",
        default=".authkit/db",
        help="where the embedded database keeps its data (default: .authkit/db)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
