"""What an API key looks like, and the one form of it that is ever stored.

A key is `ak_` and 43 URL-safe characters: `secrets.token_urlsafe(32)`, 256 random
bits. The database keeps only its SHA-256 digest, and a short prefix to show in
listings so a person can tell their keys apart.

Why SHA-256 and not bcrypt: a slow, salted hash protects *low-entropy* secrets
(passwords people choose) against offline guessing. A key with 256 random bits
cannot be guessed, whatever the hash costs per try, so a fast hash loses nothing;
and because it is unsalted and deterministic the key's digest is the lookup key
(one indexed read), where bcrypt would cost ~50 ms of CPU per request and need
the key's id sent alongside it to know which hash to compare with.

Example:

    key = generate_key()           # 'ak_Qm9...'; shown to its owner once
    digest = hash_key(key)         # what the database stores and looks up
    display_prefix(key)            # 'ak_Qm9xYz12': safe to show and to log
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = ["KEY_PREFIX", "display_prefix", "generate_key", "hash_key", "looks_like_key"]

KEY_PREFIX = "ak_"
_RANDOM_BYTES = 32  # -> 43 URL-safe base64 characters, no padding
_KEY = re.compile(r"ak_[A-Za-z0-9_-]{43}")
# 8 of the 43 random characters: 48 of the 256 bits, enough to tell keys apart in a
# listing, far too few to help anyone guess the rest.
_SHOWN_RANDOM_CHARS = 8


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)


def looks_like_key(value: str) -> bool:
    """True for the shape of a key; anything else is refused before the database is asked."""
    return _KEY.fullmatch(value) is not None


def hash_key(key: str) -> str:
    """The hex SHA-256 of the key: what is stored, indexed and looked up."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def display_prefix(key: str) -> str:
    return key[: len(KEY_PREFIX) + _SHOWN_RANDOM_CHARS]
