"""`authkit check`: the configuration validated and listed (secrets masked), the signing
keys, whether the database answers, and the users whose names collide once canonicalised
(authkit.users.names) or have no canonical form."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from authkit.cli.common import CommandError, add_common_options, embedded, load_settings_for

if TYPE_CHECKING:
    from authkit.settings.model import Settings

__all__ = ["add_check_command"]


def add_check_command(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="validate the configuration and ping the database",
        description="Load and validate the configuration, print the effective settings "
        "(secrets masked), and check that the database answers.",
    )
    add_common_options(check)
    check.set_defaults(handler=_check)


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

    settings = load_settings_for(args)
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
    with embedded(data_dir) as running:
        whose = (
            f"the one `authkit serve` (pid {running.served_by}) runs"
            if running.served_by is not None
            else "started for this check: no `authkit serve` runs it"
        )
        _report_database(
            running.uri, f"embedded, {describe_uri(running.uri)}, {whose}, data in {data_dir}"
        )
    return 0


def _report_database(uri: str, described: str) -> None:
    from authkit.storage.database import describe_uri, open_client
    from authkit.users.names import name_report

    client = open_client(uri)
    try:
        database = client.get_default_database("authkit")
        database.command("ping")
        indexes = database["users"].index_information()
        users = database["users"].estimated_document_count()
        names = [
            doc["username"]
            for doc in database["users"].find({}, {"username": 1, "_id": 0})
            if isinstance(doc.get("username"), str)
        ]
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
    report = name_report(names)
    print(f"  names that collide once canonicalised: {len(report.collisions)} group(s)")
    for group in report.collisions:
        # repr: a name may hold invisible or look-alike characters the reader must see.
        print("    " + ", ".join(ascii(name) for name in group))
    print(f"  names with no canonical form (exact match only): {len(report.refused)}")
    for name in report.refused:
        print(f"    {name!a}")
