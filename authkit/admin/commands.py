"""`authkit users ...`: what the /auth/admin routes do, from a shell on the database.

    authkit users list [--search PREFIX] [--limit N] [--after ID]   a page of users
    authkit users show NAME                   one user
    authkit users disable NAME                no sign-in, no refresh, every session ended
    authkit users enable NAME
    authkit users set-roles NAME [ROLE ...]   replace the roles (none: clear them)
    authkit users unlock NAME                 forget the user's failed sign-ins
    authkit users signout-all NAME            end every session of the user
    authkit users set-password NAME           prompted twice, or one line on stdin

NAME is a username (found as sign-in finds it), or a user id. Each action is logged on
`authkit.security` with `by: cli`; it is not handed to the event handlers, which live in
the service. `authkit create-user NAME --role admin` makes the first administrator.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import attrs

from authkit.admin.roles import parse_roles
from authkit.admin.service import Administration
from authkit.admin.store import MAX_PAGE, UserDirectory, is_user_id
from authkit.cli.common import CommandError, add_common_options, database_uri, load_settings_for
from authkit.core.errors import HTTPError
from authkit.users.store import MongoUserStore, User

__all__ = ["add_users_command"]

T = TypeVar("T")
_BY = "cli"


@attrs.frozen
class _OfflineSessions:
    """Ends a user's sessions without the service: the token version raised (revocation
    checks refuse their access tokens) and every refresh token revoked."""

    users: MongoUserStore
    database: Any

    async def end_every_session(self, user_id: str) -> int:
        from authkit.sessions.store import MongoSessionStore

        await self.users.bump_token_version(user_id)
        store = MongoSessionStore(self.database["auth_sessions"], self.database["refresh_tokens"])
        return await store.revoke_all(user_id, datetime.now(timezone.utc))


def _administration(settings: Any, database: Any) -> Administration:
    from authkit.passwords.throttle import SigninThrottle

    users = MongoUserStore(database["users"])
    limits = settings.signin_limits
    throttle = SigninThrottle(
        database["signin_failures"],
        per_account=limits.per_account,
        per_address=limits.per_address,
        per_device=limits.per_device,
    )
    return Administration(
        users,
        UserDirectory(database["users"]),
        _OfflineSessions(users, database),
        settings.passwords.hasher(),
        throttle,
        settings.passwords.policy(),
        admin_role=settings.admin.role,
    )


def _run(args: argparse.Namespace, action: Callable[[Administration], Coroutine[Any, Any, T]]) -> T:
    """`action` on the database the service uses, as one `authkit: ...` line if it fails."""
    settings = load_settings_for(args)
    with database_uri(settings, Path(args.data_dir)) as uri:
        from authkit.storage.database import open_client

        client = open_client(uri)
        try:
            database = client.get_default_database("authkit")
            return asyncio.run(action(_administration(settings, database)))
        except HTTPError as exc:
            message = exc.message if isinstance(exc.message, str) else "; ".join(exc.message)
            raise CommandError(message) from None
        finally:
            client.close()


async def _user(admin: Administration, name: str) -> User:
    user = await admin.users.find_by_username(name)
    if user is None and is_user_id(name):
        user = await admin.users.find_by_id(name)
    if user is None:
        raise CommandError(f"no user named {name!r}")
    return user


def _line(user: User) -> str:
    roles = ",".join(user.roles) or "-"
    return f"{user.id}  {user.username}  roles: {roles}" + ("  disabled" if user.disabled else "")


def _list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_PAGE:
        raise CommandError(f"--limit must be from 1 to {MAX_PAGE}")
    if args.after is not None and not is_user_id(args.after):
        raise CommandError("--after must be a user id (the last one of the page before)")
    users, after = _run(
        args, lambda admin: admin.page(search=args.search, after=args.after, limit=args.limit)
    )
    for user in users:
        print(_line(user))
    if after is not None:
        print(f"(more: authkit users list --after {after})")
    return 0


def _on_user(
    describe: Callable[[User, Any], str],
    act: Callable[[Administration, User, argparse.Namespace], Awaitable[Any]],
) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        async def run(admin: Administration) -> tuple[User, Any]:
            user = await _user(admin, args.name)
            return user, await act(admin, user, args)

        user, outcome = _run(args, run)
        print(describe(user, outcome))
        return 0

    return handler


def _set_password(admin: Administration, user: User, args: argparse.Namespace) -> Awaitable[User]:
    return admin.set_password(user.id, args.password, by=_BY)


def _set_roles(admin: Administration, user: User, args: argparse.Namespace) -> Awaitable[User]:
    try:
        roles = parse_roles(list(args.roles))
    except HTTPError as exc:
        raise CommandError("; ".join(exc.message)) from None
    return admin.set_roles(user.id, roles, by=_BY)


_ACTIONS: dict[str, tuple[str, Callable[..., Any], Callable[..., Any]]] = {
    "show": (
        "show one user",
        lambda user, _: _line(user),
        lambda admin, user, args: admin.show(user.id),
    ),
    "disable": (
        "disable a user: no sign-in, no refresh, every session ended",
        lambda user, _: f"disabled user {user.username!r}",
        lambda admin, user, args: admin.disable(user.id, by=_BY),
    ),
    "enable": (
        "enable a disabled user",
        lambda user, _: f"enabled user {user.username!r}",
        lambda admin, user, args: admin.enable(user.id, by=_BY),
    ),
    "set-roles": (
        "replace a user's roles (none given: clear them)",
        lambda user, updated: f"roles of {user.username!r}: {','.join(updated.roles) or '-'}",
        _set_roles,
    ),
    "unlock": (
        "forget a user's failed sign-ins (a lock-out)",
        lambda user, cleared: f"unlocked {user.username!r} ({cleared} failure(s) forgotten)",
        lambda admin, user, args: admin.clear_lockout(user.id, by=_BY),
    ),
    "signout-all": (
        "end every session of a user",
        lambda user, ended: f"ended {ended} session(s) of {user.username!r}",
        lambda admin, user, args: admin.end_sessions(user.id, by=_BY),
    ),
    "set-password": (
        "set a user's password (prompted twice, or one line on stdin); every session ends",
        lambda user, _: f"password of {user.username!r} set; every session ended",
        _set_password,
    ),
}


def _with_password(
    handler: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def read_first(args: argparse.Namespace) -> int:
        from authkit.cli.users import read_password

        args.password = read_password(args)
        return handler(args)

    return read_first


def add_users_command(commands: Any) -> None:
    users = commands.add_parser(
        "users", help="list and manage users", description="List and manage users."
    )
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="a page of users, oldest first")
    listing.add_argument("--search", help="a prefix of the username")
    listing.add_argument("--limit", type=int, default=50, help=f"at most 1-{MAX_PAGE} (50)")
    listing.add_argument("--after", help="the last user id of the page before")
    add_common_options(listing)
    listing.set_defaults(handler=_list)
    for name, (help_text, describe, act) in _ACTIONS.items():
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("name", help="a username, or a user id")
        handler = _on_user(describe, act)
        if name == "set-roles":
            action.add_argument("roles", nargs="*", metavar="ROLE")
        if name == "set-password":
            action.add_argument(
                "--password-stdin", action="store_true", help="read it from standard input"
            )
            handler = _with_password(handler)
        add_common_options(action)
        action.set_defaults(handler=handler)
