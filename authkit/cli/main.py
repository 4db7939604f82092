"""The `authkit` command (also `python -m authkit`).

    authkit serve        run the service (embedded database when no MONGO_URI)
    authkit check        validate the configuration, ping the database, print the settings
    authkit create-user  add a user (password prompted, or one line on stdin)
    authkit delete-user  remove a user
    authkit users        list, show, disable, enable, set roles, unlock, sign out, set a
                         password (authkit.admin.commands)
    authkit gen-secret   print a new random JWT_SECRET
    authkit keys         generate, rotate and list signing keys (authkit.keys_cli)
    authkit --version    print `authkit <version>` (the installed authkit-asgi's)

Without MONGO_URI, every command that needs the database uses the embedded one a running
`authkit serve` publishes, or else starts its own over --data-dir: never a second one over
the same data (authkit.storage.datadir).

Every command reads the environment and `.env` like the service does, exits 0 on
success and non-zero with a one-line `authkit: ...` message on error. This is
the CLI's entry: like an application's composition root it reads the
environment; the rest of `authkit/` is handed what it needs.
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

from authkit import __version__
from authkit.admin.commands import add_users_command
from authkit.cli.check import add_check_command
from authkit.cli.common import (
    CommandError,
    add_common_options,
    database_uri_for,
    load_settings_for,
    say,
)
from authkit.cli.serve import add_serve_command
from authkit.cli.users import add_user_commands
from authkit.tokens.commands import add_keys_command

__all__ = [
    "COMMANDS_GROUP",
    "CommandError",
    "add_common_options",
    "build_parser",
    "database_uri_for",
    "load_settings_for",
    "main",
]

COMMANDS_GROUP = "authkit.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="authkit",
        description="authkit: authentication service for Starlette.",
        epilog="Settings come from the environment and .env; see README.md.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"authkit {__version__}",
        help="print authkit's version and exit",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(commands)
    add_check_command(commands)
    add_user_commands(commands)
    add_users_command(commands)
    gen = commands.add_parser(
        "gen-secret",
        help="print a new random JWT_SECRET",
        description="Print a new random secret: JWT_SECRET=$(authkit gen-secret)",
    )
    gen.add_argument("--bytes", type=int, default=48, help="random bytes (default: 48)")
    gen.set_defaults(handler=_gen_secret)
    add_keys_command(commands)
    _add_plugin_commands(commands)
    return parser


def _gen_secret(args: argparse.Namespace) -> int:
    if args.bytes < 32:
        raise CommandError("--bytes must be at least 32: shorter HS256 secrets can be brute-forced")
    print(secrets.token_urlsafe(args.bytes))
    return 0


def _add_plugin_commands(commands: Any) -> None:
    """Let installed packages add subcommands: an `authkit.commands` entry point names a
    function `register(subparsers)` that adds a parser and sets its `handler`
    (a function of the parsed arguments returning the exit status; it may raise
    CommandError). Helpers for it: `load_settings_for(args)` and `database_uri_for(args)`.
    """
    for ep in entry_points(group=COMMANDS_GROUP):
        try:
            ep.load()(commands)
        except Exception as exc:
            say(f"ignoring command plugin {ep.name!r} ({ep.value}): {type(exc).__name__}: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A command reports a failure in one `authkit: ...` line; without this, Python's
    # last-resort handler would also print the log records of the modules it calls.
    logging.getLogger("authkit").addHandler(logging.NullHandler())
    try:
        code: int = args.handler(args)
    except CommandError as exc:
        say(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
