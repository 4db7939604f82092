"""`authkit create-user` and `authkit delete-user`, on the database the service uses.

`authkit create-user NAME --role admin` makes the first administrator (AUTHKIT_ADMIN_ROLE);
`--role` may be given more than once. The rest of user administration: `authkit users`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from authkit.cli.common import CommandError, add_common_options, database_uri, load_settings_for
from authkit.core.errors import HTTPError, ValidationFailed

__all__ = ["add_user_commands", "read_password"]


def add_user_commands(commands: Any) -> None:
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
    create.add_argument(
        "--role",
        action="append",
        default=[],
        dest="roles",
        metavar="ROLE",
        help="give the user this role (repeatable): `--role admin` makes an administrator",
    )
    add_common_options(create)
    create.set_defaults(handler=_create_user)

    delete = commands.add_parser("delete-user", help="remove a user", description="Remove a user.")
    delete.add_argument("username")
    add_common_options(delete)
    delete.set_defaults(handler=_delete_user)


def read_password(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != first:
        raise CommandError("the two passwords differ")
    return first


def _create_user(args: argparse.Namespace) -> int:
    from authkit.admin.roles import parse_roles
    from authkit.passwords.dto import SignupCredentials
    from authkit.users.store import MongoUserStore

    settings = load_settings_for(args)
    try:
        roles = parse_roles(list(args.roles))
    except ValidationFailed as exc:
        raise CommandError("; ".join(exc.message)) from None
    try:
        credentials = SignupCredentials.from_body(
            {"username": args.username, "password": read_password(args)},
            settings.passwords.policy(),
        )
    except ValidationFailed as exc:
        raise CommandError("; ".join(exc.message)) from None

    async def create(uri: str) -> str:
        from authkit.storage.database import open_client

        client = open_client(uri)
        try:
            store = MongoUserStore(client.get_default_database("authkit")["users"])
            hasher = settings.passwords.hasher()
            password_hash = await hasher.hash(credentials.password)
            user = await store.create(credentials.username, password_hash, roles=roles)
            return user.id
        finally:
            client.close()

    with database_uri(settings, Path(args.data_dir)) as uri:
        try:
            user_id = asyncio.run(create(uri))
        except HTTPError as exc:
            raise CommandError(f"cannot create {args.username!r}: {exc.message}") from None
    with_roles = f" and roles {', '.join(roles)}" if roles else ""
    print(f"created user {credentials.username!r} with id {user_id}{with_roles}")
    return 0


def _delete_user(args: argparse.Namespace) -> int:
    from authkit.storage.database import open_client

    settings = load_settings_for(args)
    with database_uri(settings, Path(args.data_dir)) as uri:
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
