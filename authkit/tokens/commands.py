"""`authkit keys`: make and rotate the key set AUTHKIT_JWT_KEYS names.

    authkit keys generate --alg ES256 --file keys.json   a new set with one key (mode 0600)
    authkit keys rotate --file keys.json                 a new signing key; the old one retires
    authkit keys list --file keys.json                   what the set holds (no private parts)

`--file` defaults to AUTHKIT_JWT_KEYS (environment, then .env). Rotation keeps
the replaced key for verification for `--overlap`, by default the longest an
access token lives (JWT_EXPIRES_IN + AUTHKIT_JWT_LEEWAY) plus the time servers
take to notice the new file; then the key stops verifying and leaves the JWKS.
Running servers re-read the file by themselves (authkit.keys.KeyRing).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from authkit.cli.common import CommandError, add_common_options
from authkit.core.errors import ConfigError
from authkit.settings.loader import load_section
from authkit.tokens.keys import ALGORITHMS, RELOAD_SECONDS, KeySetError, SigningKeys
from authkit.tokens.settings import JWTSettings

__all__ = ["add_keys_command"]


def _command_error(message: str, code: int = 1) -> Exception:
    return CommandError(message, code)


def _jwt_settings(args: argparse.Namespace, *, failing: str = "cannot start") -> JWTSettings:
    """The access-token settings as the service reads them (the environment, then .env)."""
    try:
        settings: JWTSettings = load_section(os.environ, Path(args.env_file), "jwt")
    except ConfigError as exc:
        raise _command_error(f"{failing}: {exc}", code=2) from None
    return settings


def _key_file(args: argparse.Namespace) -> Path:
    if args.file is not None:
        return Path(args.file)
    named = _jwt_settings(args).keys_file
    if named is None:
        raise _command_error("give --file, or set AUTHKIT_JWT_KEYS", code=2)
    return named


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _overlap(args: argparse.Namespace) -> int:
    from authkit.settings.converter import parse_duration

    try:
        if args.overlap is not None:
            if args.overlap.strip().lower() in ("0", "0s"):
                return 0  # a compromised key: it stops verifying at once
            return int(parse_duration(args.overlap).total_seconds())
    except ValueError as exc:
        raise _command_error(f"cannot work out the overlap: {exc}", code=2) from None
    jwt = _jwt_settings(args, failing="cannot work out the overlap")
    return int(jwt.expires_in.total_seconds()) + jwt.leeway + RELOAD_SECONDS


def _read(path: Path) -> SigningKeys:
    try:
        return SigningKeys.read(path)
    except KeySetError as exc:
        raise _command_error(str(exc)) from None


def _generate(args: argparse.Namespace) -> int:
    path = _key_file(args)
    keys = SigningKeys.generate(args.alg, time.time())
    try:
        keys.write(path, replace=args.force)
    except KeySetError:
        raise _command_error(
            f"{path} already exists; use rotate, or --force to replace it"
        ) from None
    except OSError as exc:
        raise _command_error(f"cannot write {path}: {exc.strerror}") from None
    key = keys.newest()
    print(f"wrote a new {key.alg} key set to {path} (mode 0600); signing key {key.kid}")
    print(f"serve with AUTHKIT_JWT_KEYS={path.resolve()}")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    path = _key_file(args)
    before = _read(path)
    now = time.time()
    alg = args.alg or before.signing_key(now).alg
    overlap = _overlap(args)
    after = before.rotated(alg, now, overlap)
    try:
        after.write(path, replace=True)
    except OSError as exc:
        raise _command_error(f"cannot write {path}: {exc.strerror}") from None
    # The key this rotation added, not newest(): a rotation minutes ago may have left a key
    # that starts later than this one (and that --overlap 0 has just retired).
    new = after.keys[-1]
    print(f"new {new.alg} signing key {new.kid} in {path}")
    if new.created_at > now:
        # Every server verifies with it before any signs with it (KeyRing's reload interval).
        print(f"it signs from {_when(new.created_at)}, once every server has re-read the file")
    kept = {k.kid for k in after.keys}
    for key in before.keys:
        if key.kid not in kept:
            print(f"dropped key {key.kid} (retired {_when(key.retires_at or 0)})")
    for key in after.keys:
        if key.kid == new.kid or key.retires_at is None:
            continue
        if key.active(now):
            print(f"key {key.kid} verifies until {_when(key.retires_at)}, then retires")
        else:
            print(f"key {key.kid} retired now")
    print(f"running servers pick the change up within {RELOAD_SECONDS} seconds")
    return 0


def _list(args: argparse.Namespace) -> int:
    keys = _read(_key_file(args))
    now = time.time()
    signer = keys.signing_key(now)
    for key in keys.keys:
        if key is signer:
            state = "signs and verifies"
        elif not key.active(now):
            state = f"retired {_when(key.retires_at or 0)}"
        elif key.created_at > now:
            state = f"verifies; signs from {_when(key.created_at)}"
        else:
            state = f"verifies until {_when(key.retires_at or 0)}"
        print(f"{key.kid}  {key.alg:<5}  created {_when(key.created_at)}  {state}")
    return 0


def add_keys_command(commands: Any) -> None:
    keys = commands.add_parser(
        "keys",
        help="generate and rotate signing keys (AUTHKIT_JWT_KEYS)",
        description="Manage the key set access tokens are signed with instead of JWT_SECRET "
        "(docs/tokens.md, 'Managed keys').",
    )
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--file", help="the key-set file (default: AUTHKIT_JWT_KEYS)")
        add_common_options(parser, database=False)

    generate = actions.add_parser(
        "generate",
        help="write a new key set holding one key",
        description="Write a new key set with one private key (file mode 0600). Refuses "
        "to replace an existing file unless --force is given.",
    )
    generate.add_argument("--alg", choices=list(ALGORITHMS), default="ES256")
    generate.add_argument("--force", action="store_true", help="replace an existing file")
    common(generate)
    generate.set_defaults(handler=_generate)

    rotate = actions.add_parser(
        "rotate",
        help="add a new signing key; the old one retires after the overlap",
        description="Add a new key that verifies at once and signs a few seconds later, "
        "once every server has re-read the file (at once with --overlap 0). The key it "
        "replaces signs until then, keeps verifying for --overlap, then retires; a key "
        "still in an earlier overlap retires then too if that is sooner; keys retired "
        "already are dropped.",
    )
    rotate.add_argument(
        "--alg", choices=list(ALGORITHMS), help="(default: the current signing key's)"
    )
    rotate.add_argument(
        "--overlap",
        help="how long the replaced keys keep verifying, e.g. 15m; 0 retires them all at once "
        f"(default: JWT_EXPIRES_IN + AUTHKIT_JWT_LEEWAY + {RELOAD_SECONDS}s)",
    )
    common(rotate)
    rotate.set_defaults(handler=_rotate)

    listing = actions.add_parser(
        "list", help="show the keys in the set", description="Show each key: kid, alg, state."
    )
    common(listing)
    listing.set_defaults(handler=_list)
