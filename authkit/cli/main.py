"""The `authkit` command (also `python -m authkit`).

    authkit serve        run the service (embedded database when no MONGO_URI)
    authkit check        validate the configuration, ping the database, print the settings
    authkit create-user  add a user (password prompted, or one line on stdin)
    authkit delete-user  remove a user
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
import asyncio
import contextlib
import getpass
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from authkit import __version__
from authkit.core.errors import AuthkitError, HTTPError, ValidationFailed
from authkit.storage.datadir import DataDirBusy, EmbeddedDatabase, embedded_database
from authkit.storage.embedded import EmbeddedMongoError
from authkit.tokens.commands import add_keys_command

if TYPE_CHECKING:
    from authkit.settings.model import Settings

__all__ = [
    "COMMANDS_GROUP",
    "CommandError",
    "add_common_options",
    "build_parser",
    "database_uri_for",
    "load_settings_for",
    "main",
]


_SERVICE_APP = "authkit.asgi:app"


class CommandError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _say(message: str) -> None:
    print(f"authkit: {message}", file=sys.stderr)


def _settings(args: argparse.Namespace) -> Settings:
    from authkit.settings.loader import load_settings

    try:
        return load_settings(os.environ, Path(args.env_file))
    except AuthkitError as exc:
        raise CommandError(f"cannot start: {exc}", code=2) from None


# The embedded database's log: `authkit serve`'s, and the one a command's own database
# writes (when no serve runs), so that a command never writes over what serve logged.
SERVE_LOG = "embedded-db.log"
COMMAND_LOG = "embedded-db.commands.log"


@contextlib.contextmanager
def _embedded(data_dir: Path, *, serve: bool = False) -> Iterator[EmbeddedDatabase]:
    """The embedded database over `data_dir` while the block runs: the one a running
    `authkit serve` published, or one of our own (see authkit.storage.datadir)."""
    log_file = data_dir.resolve().parent / (SERVE_LOG if serve else COMMAND_LOG)
    try:
        with embedded_database(data_dir, log_file=log_file, publish=serve) as database:
            yield database
    except DataDirBusy as exc:
        raise CommandError(str(exc)) from None
    except EmbeddedMongoError as exc:
        raise CommandError(f"cannot start the embedded database: {exc}") from None


@contextlib.contextmanager
def _database_uri(settings: Settings, data_dir: Path) -> Iterator[str]:
    """MONGO_URI, or the embedded database over `data_dir` for as long as the block runs."""
    if settings.mongo.uri is not None:
        yield settings.mongo.uri
        return
    with _embedded(data_dir) as database:
        yield database.uri


# --- serve -----------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from authkit.settings.catalog import catalog
    from authkit.settings.loader import ensure_local_secret, read_env_file
    from authkit.settings.plugins import plugin_sections

    env_file = Path(args.env_file)
    if ensure_local_secret(env_file, os.environ):
        _say(
            f"no JWT_SECRET was set, so a new random one was written to {env_file.resolve()} "
            "(mode 0600). Keep that file private; tokens signed with it stop working if it "
            "changes."
        )
    settings = _settings(args)
    # Workers are fresh processes that read only the environment and ./.env: hand them
    # what this process read, whichever env file it was, plugins' settings included.
    known = {e.env.name for e in catalog()} | {
        e.env.name for plugin in plugin_sections() for e in plugin.entries
    }
    for key, value in read_env_file(env_file, dict.fromkeys(known)).items():
        os.environ.setdefault(key, value)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    with contextlib.ExitStack() as stack:
        uri = settings.mongo.uri
        if uri is None:
            uri = stack.enter_context(_embedded(Path(args.data_dir), serve=True)).uri
            os.environ["MONGO_URI"] = uri
            _say(
                f"no MONGO_URI set; started the embedded database at {uri} "
                f"(data in {Path(args.data_dir).resolve()}; other authkit commands use it "
                "while this runs)"
            )
        # uvicorn answers SIGTERM by shutting down and then raising the signal again
        # with the handler it found; make that handler a clean exit, so the `with`
        # above stops the embedded database instead of the process dying first.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        if args.app != _SERVICE_APP:
            # An application of the operator's, as uvicorn's own command finds one: from
            # the working directory. authkit's own service is found by its package name.
            sys.path.insert(0, os.getcwd())
        uvicorn.run(
            args.app,
            host=host,
            port=port,
            workers=args.workers,
            log_level=args.log_level,
            access_log=False,  # authkit writes its own access line, with the request id
            timeout_graceful_shutdown=args.graceful_timeout,
        )
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


# --- check -----------------------------------------------------------------------------


def _signing(settings: Settings) -> str:
    from authkit.tokens.keys import KeySetError, SigningKeys

    path = settings.jwt.keys_file
    if path is None:
        return "HS256 with JWT_SECRET"
    try:
        keys = SigningKeys.read(path)
    except KeySetError as exc:
        raise CommandError(f"AUTHKIT_JWT_KEYS: {exc}", code=2) from None
    signer = keys.signing_key(time.time())
    return f"{signer.alg} key {signer.kid} from {path} ({len(keys.keys)} key(s) in the set)"


def _check(args: argparse.Namespace) -> int:
    from authkit.settings.catalog import catalog, format_value
    from authkit.settings.plugins import plugin_sections
    from authkit.storage.database import describe_uri

    settings = _settings(args)
    print("configuration: valid")
    listed = [(entry, getattr(settings, entry.section)) for entry in catalog()]
    for plugin in plugin_sections():
        listed += [(entry, settings.section(plugin.cls)) for entry in plugin.entries]
    for entry, section in listed:
        value = format_value(getattr(section, entry.field), none_is_off=entry.env.none_is_off)
        print(f"  {entry.env.name}={value}")
    print(f"signing: {_signing(settings)}")
    if settings.mongo.uri is not None:
        _report_database(settings.mongo.uri, describe_uri(settings.mongo.uri))
        return 0
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        print(
            f"database: embedded, not created yet (`authkit serve` creates it, with its data "
            f"in {data_dir.resolve()})"
        )
        return 0
    with _embedded(data_dir) as embedded:
        whose = (
            f"the one `authkit serve` (pid {embedded.served_by}) runs"
            if embedded.served_by is not None
            else "started for this check: no `authkit serve` runs it"
        )
        _report_database(
            embedded.uri, f"embedded, {describe_uri(embedded.uri)}, {whose}, data in {data_dir}"
        )
    return 0


def _report_database(uri: str, described: str) -> None:
    from authkit.storage.database import describe_uri, open_client

    client = open_client(uri)
    try:
        database = client.get_default_database("authkit")
        database.command("ping")
        indexes = database["users"].index_information()
        users = database["users"].estimated_document_count()
    except Exception as exc:
        raise CommandError(
            f"database {describe_uri(uri)} is not reachable: {type(exc).__name__}"
        ) from None
    finally:
        client.close()
    index = "present" if indexes.get("username_1", {}).get("unique") else "missing (made at start)"
    print(f"database: reachable ({described})")
    print(f"  users: {users}")
    print(f"  unique username index: {index}")


# --- users -----------------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        raise CommandError("the two passwords differ")
    return first


def _create_user(args: argparse.Namespace) -> int:
    from authkit.passwords.dto import SignupCredentials
    from authkit.passwords.hasher import PasswordHasher
    from authkit.users.store import MongoUserStore

    settings = _settings(args)
    try:
        credentials = SignupCredentials.from_body(
            {"username": args.username, "password": _read_password(args)}
        )
    except ValidationFailed as exc:
        raise CommandError("; ".join(exc.message)) from None

    async def create(uri: str) -> str:
        from authkit.storage.database import open_client

        client = open_client(uri)
        try:
            store = MongoUserStore(client.get_default_database("authkit")["users"])
            hasher = PasswordHasher(settings.passwords.bcrypt_rounds)
            user = await store.create(credentials.username, await hasher.hash(credentials.password))
            return user.id
        finally:
            client.close()

    with _database_uri(settings, Path(args.data_dir)) as uri:
        try:
            user_id = asyncio.run(create(uri))
        except HTTPError as exc:
            raise CommandError(f"cannot create {args.username!r}: {exc.message}") from None
    print(f"created user {credentials.username!r} with id {user_id}")
    return 0


def _delete_user(args: argparse.Namespace) -> int:
    from authkit.storage.database import open_client

    settings = _settings(args)
    with _database_uri(settings, Path(args.data_dir)) as uri:
        client = open_client(uri)
        try:
            result = client.get_default_database("authkit")["users"].delete_one(
                {"username": str(args.username)}
            )
        except Exception as exc:
            raise CommandError(f"database error: {type(exc).__name__}") from None
        finally:
            client.close()
    if result.deleted_count == 0:
        raise CommandError(f"no user named {args.username!r}")
    print(f"deleted user {args.username!r}")
    return 0


def _gen_secret(args: argparse.Namespace) -> int:
    if args.bytes < 32:
        raise CommandError("--bytes must be at least 32: shorter HS256 secrets can be brute-forced")
    print(secrets.token_urlsafe(args.bytes))
    return 0


# --- the parser ------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, *, database: bool = True) -> None:
    parser.add_argument("--env-file", default=".env", help="the .env file to read (default: .env)")
    if database:
        parser.add_argument(
            "--data-dir",
            default=".authkit/db",
            help="the embedded database's data, used when MONGO_URI is unset "
            "(default: .authkit/db)",
        )


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

    serve = commands.add_parser(
        "serve",
        help="run the HTTP service (embedded database when MONGO_URI is unset)",
        description="Run the HTTP service with uvicorn. Without JWT_SECRET, writes a new one "
        "to the env file; without MONGO_URI, runs an embedded database over --data-dir.",
    )
    serve.add_argument("--host", help="interface to listen on (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 3000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    serve.add_argument(
        "--app",
        default=_SERVICE_APP,
        metavar="MODULE:ATTRIBUTE",
        help="the ASGI application to run, e.g. app:app for your own app.py "
        "(default: authkit's service, authkit.asgi:app)",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=30,
        help="seconds to let requests in flight finish after SIGTERM (default: 30)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    _common(serve)
    serve.set_defaults(handler=_serve)

    check = commands.add_parser(
        "check",
        help="validate the configuration and ping the database",
        description="Load and validate the configuration, print the effective settings "
        "(secrets masked), and check that the database answers.",
    )
    _common(check)
    check.set_defaults(handler=_check)

    create = commands.add_parser(
        "create-user",
        help="add a user",
        description="Add a user. The password is prompted for twice on a terminal, or read "
        "as one line from standard input.",
    )
    create.add_argument("username")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    _common(create)
    create.set_defaults(handler=_create_user)

    delete = commands.add_parser("delete-user", help="remove a user", description="Remove a user.")
    delete.add_argument("username")
    _common(delete)
    delete.set_defaults(handler=_delete_user)

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


COMMANDS_GROUP = "authkit.commands"


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
            _say(f"ignoring command plugin {ep.name!r} ({ep.value}): {type(exc).__name__}: {exc}")


def add_common_options(parser: argparse.ArgumentParser, *, database: bool = True) -> None:
    """--env-file, and --data-dir unless `database` is False, as the built-in commands take them."""
    _common(parser, database=database)


def load_settings_for(args: argparse.Namespace) -> Settings:
    return _settings(args)


def database_uri_for(args: argparse.Namespace) -> contextlib.AbstractContextManager[str]:
    """MONGO_URI, or the embedded database over --data-dir while the block runs: the one a
    running `authkit serve` runs, or else one started for the command (never a second
    database over the same data)."""
    return _database_uri(_settings(args), Path(args.data_dir))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A command reports a failure in one `authkit: ...` line; without this, Python's
    # last-resort handler would also print the log records of the modules it calls.
    logging.getLogger("authkit").addHandler(logging.NullHandler())
    try:
        code: int = args.handler(args)
    except CommandError as exc:
        _say(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
