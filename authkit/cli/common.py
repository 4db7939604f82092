"""What every `authkit` command shares: the one-line error, the settings and the
database a command uses, and the options the built-in commands take (plugins' too)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from authkit.core.errors import AuthkitError
from authkit.storage.datadir import DataDirBusy, EmbeddedDatabase, embedded_database
from authkit.storage.embedded import EmbeddedMongoError

if TYPE_CHECKING:
    from authkit.settings.model import Settings

__all__ = [
    "COMMAND_LOG",
    "SERVE_LOG",
    "CommandError",
    "add_common_options",
    "database_uri",
    "database_uri_for",
    "embedded",
    "load_settings_for",
    "say",
]


class CommandError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def say(message: str) -> None:
    print(f"authkit: {message}", file=sys.stderr)


def load_settings_for(args: argparse.Namespace) -> Settings:
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
def embedded(data_dir: Path, *, serve: bool = False) -> Iterator[EmbeddedDatabase]:
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
def database_uri(settings: Settings, data_dir: Path) -> Iterator[str]:
    """MONGO_URI, or the embedded database over `data_dir` for as long as the block runs."""
    if settings.mongo.uri is not None:
        yield settings.mongo.uri
        return
    with embedded(data_dir) as database:
        yield database.uri


def add_common_options(parser: argparse.ArgumentParser, *, database: bool = True) -> None:
    """--env-file, and --data-dir unless `database` is False, as the built-in commands take them."""
    parser.add_argument("--env-file", default=".env", help="the .env file to read (default: .env)")
    if database:
        parser.add_argument(
            "--data-dir",
            default=".authkit/db",
            help="the embedded database's data, used when MONGO_URI is unset "
            "(default: .authkit/db)",
        )


def database_uri_for(args: argparse.Namespace) -> contextlib.AbstractContextManager[str]:
    """MONGO_URI, or the embedded database over --data-dir while the block runs: the one a
    running `authkit serve` runs, or else one started for the command (never a second
    database over the same data)."""
    return database_uri(load_settings_for(args), Path(args.data_dir))
