"""`authkit apikey ...`: keys for operators, through authkit's `authkit.commands` entry points.

    authkit apikey create alice --label ci [--scope reports:read ...]
        prints the key alone on stdout (KEY=$(authkit apikey create ...)), once;
        what was made goes to stderr
    authkit apikey list alice      one line per key: id, prefix, state, scopes, dates, label
    authkit apikey revoke KEY_ID   revoke a key (again: says so, exits 0)

An operator may grant any scopes (a user, through the route, only those their token
carries). Settings and the database come from the environment and `.env`, as for
every authkit command; errors are one `authkit: ...` line and a non-zero status.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from authkit.plugin import (
    DEFAULT_DATABASE,
    CommandError,
    HTTPError,
    MongoUserStore,
    User,
    ValidationFailed,
    add_common_options,
    database_uri_for,
    load_settings_for,
    open_client,
)

from authkit_apikey.store import APIKeyStore, Revocation, iso, parse_key_id
from authkit_apikey.validation import KeyRequest

if TYPE_CHECKING:
    from pymongo.database import Database

__all__ = ["register"]

T = TypeVar("T")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `authkit.commands` entry point: add `authkit apikey` and its three subcommands."""
    apikey = commands.add_parser(
        "apikey",
        help="create, list and revoke API keys",
        description="Create, list and revoke API keys (the authkit-apikey plugin).",
    )
    actions = apikey.add_subparsers(dest="apikey_command", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create",
        help="make a key for a user and print it (only this once)",
        description="Make a key for USERNAME. The key is printed alone on standard output, "
        "and never shown again; only its SHA-256 is stored.",
    )
    create.add_argument("username")
    create.add_argument("--label", required=True, help="what the key is for (1-100 characters)")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a scope the key carries; repeat for several",
    )
    add_common_options(create)
    create.set_defaults(handler=_create)

    listing = actions.add_parser(
        "list", help="a user's keys", description="List USERNAME's keys, revoked ones included."
    )
    listing.add_argument("username")
    add_common_options(listing)
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser("revoke", help="revoke a key", description="Revoke a key by id.")
    revoke.add_argument("key_id", metavar="KEY_ID")
    add_common_options(revoke)
    revoke.set_defaults(handler=_revoke)


def _on_database(
    args: argparse.Namespace, work: Callable[[Database[dict[str, Any]]], Coroutine[Any, Any, T]]
) -> T:
    """Run `work` against the configured database; its failures become one-line errors."""
    load_settings_for(args)  # a broken configuration is reported before anything starts
    # authkit.database logs each failed call; with no logging set up, Python would print
    # that to stderr beside our own one-line error, which already says what went wrong.
    logging.getLogger("authkit.database").addHandler(logging.NullHandler())
    with database_uri_for(args) as uri:
        client = open_client(uri)
        try:
            return asyncio.run(work(client.get_default_database(DEFAULT_DATABASE)))
        except HTTPError as exc:
            raise CommandError(f"database error: {exc.message}") from None
        finally:
            client.close()


async def _user(database: Database[dict[str, Any]], username: str) -> User:
    user = await MongoUserStore(database["users"]).find_by_username(username)
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user


def _create(args: argparse.Namespace) -> int:
    try:
        wanted = KeyRequest.from_body({"label": args.label, "scopes": args.scopes})
    except ValidationFailed as exc:
        raise CommandError("; ".join(exc.message)) from None

    async def create(database: Database[dict[str, Any]]) -> tuple[str, str]:
        user = await _user(database, args.username)
        record, key = await APIKeyStore.on_database(database).create(
            user_id=user.id, username=user.username, label=wanted.label, scopes=wanted.scopes
        )
        return record.id, key

    key_id, key = _on_database(args, create)
    scopes = ", ".join(wanted.scopes) or "none"
    print(
        f"created API key {key_id} for {args.username!r} (label {wanted.label!r}, scopes: "
        f"{scopes}); it is shown only this once",
        file=sys.stderr,
    )
    print(key)
    return 0


def _list(args: argparse.Namespace) -> int:
    async def listing(database: Database[dict[str, Any]]) -> list[str]:
        user = await _user(database, args.username)
        lines = []
        for key in await APIKeyStore.on_database(database).list_for_user(user.id):
            state = f"revoked {iso(key.revoked_at)}" if key.revoked_at else "active"
            lines.append(
                f"{key.id}  {key.prefix}...  {state}  scopes={','.join(key.scopes) or '-'}  "
                f"created={iso(key.created_at)}  last_used={iso(key.last_used_at) or 'never'}  "
                f"label={key.label!r}"
            )
        return lines

    lines = _on_database(args, listing)
    print("\n".join(lines) if lines else f"no API keys for {args.username!r}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    key_id = parse_key_id(args.key_id)
    if key_id is None:
        raise CommandError(f"{args.key_id!r} is not an API key id (24 hexadecimal digits)")

    async def revoke(database: Database[dict[str, Any]]) -> Revocation:
        return await APIKeyStore.on_database(database).revoke(key_id)

    found = _on_database(args, revoke)
    if found is Revocation.NOT_FOUND:
        raise CommandError(f"no API key with id {args.key_id}")
    print(f"API key {args.key_id} {found.value}")
    return 0
