"""authkit.passwords.PasswordHasher: hashes made by the NestJS app (node bcrypt, $2b$) and by
bcryptjs ($2a$) verify; new hashes are $2b$ at the configured cost; the 72-byte limit;
a corrupt stored hash denies instead of raising.
"""

from __future__ import annotations

import logging
from typing import Any

import bcrypt
import pytest

from authkit.passwords.hasher import BCRYPT_MAX_BYTES, PasswordHasher

pytestmark = pytest.mark.anyio


def wrong(password: str) -> str:
    """The same password with its first character changed (a suffix could fall past byte 72)."""
    return ("X" if password[0] != "X" else "Y") + password[1:]


async def test_every_node_user_verifies(
    node_compat: dict[str, Any], hasher: PasswordHasher
) -> None:
    for user in node_compat["users"]:
        assert user["hash"].startswith("$2b$10$")
        assert await hasher.verify(user["password"], user["hash"]), user["username"]


async def test_node_users_reject_a_wrong_password(
    node_compat: dict[str, Any], hasher: PasswordHasher
) -> None:
    for user in node_compat["users"]:
        assert not await hasher.verify(wrong(user["password"]), user["hash"]), user["username"]


async def test_emoji_password_over_72_bytes_verifies_as_node_truncated_it(
    node_compat: dict[str, Any], hasher: PasswordHasher
) -> None:
    user = next(u for u in node_compat["users"] if u["username"] == "emoji20")
    assert len(user["password"].encode("utf-8")) == 80
    assert await hasher.verify(user["password"], user["hash"])
    # Node hashed only the first 72 bytes: 18 emoji. Anything with those 72 bytes matches,
    # and anything without them does not.
    assert await hasher.verify("\N{GRINNING FACE}" * 18, user["hash"])
    assert not await hasher.verify("\N{GRINNING FACE}" * 17, user["hash"])


async def test_bcryptjs_2a_hashes_verify(
    bcryptjs_hashes: dict[str, Any], hasher: PasswordHasher
) -> None:
    for user in bcryptjs_hashes["users"]:
        assert user["hash"].startswith("$2a$")
        assert await hasher.verify(user["password"], user["hash"]), user["username"]
        assert not await hasher.verify(wrong(user["password"]), user["hash"]), user["username"]


async def test_new_hashes_are_2b_with_the_configured_cost() -> None:
    hasher = PasswordHasher(rounds=5)
    stored = await hasher.hash("correct horse")
    assert stored.startswith("$2b$05$")
    assert len(stored) == 60
    assert bcrypt.checkpw(b"correct horse", stored.encode("ascii"))  # independent check
    assert await hasher.verify("correct horse", stored)
    assert not await hasher.verify("correct horsf", stored)


async def test_the_same_password_gets_a_fresh_salt(hasher: PasswordHasher) -> None:
    assert await hasher.hash("same-password") != await hasher.hash("same-password")


async def test_unicode_password_round_trips(hasher: PasswordHasher) -> None:
    stored = await hasher.hash("päss wörd 12")
    assert await hasher.verify("päss wörd 12", stored)
    assert not await hasher.verify("pass word 12", stored)


async def test_verify_dummy_completes_and_returns_nothing(hasher: PasswordHasher) -> None:
    assert await hasher.verify_dummy("whatever") is None
    assert await hasher.verify_dummy("\N{GRINNING FACE}" * 20) is None  # over 72 bytes


@pytest.mark.parametrize(
    "stored",
    ["", "not-a-hash", "$2b$10$tooshort", "$2x$10$" + "a" * 53, "é" * 60, "$2b$99$" + "a" * 53],
)
async def test_corrupt_stored_hash_denies_without_raising(
    hasher: PasswordHasher, stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="authkit.passwords"):
        assert await hasher.verify("password1", stored) is False
    assert "not a valid bcrypt hash" in caplog.text


async def test_hash_refuses_more_than_72_bytes(hasher: PasswordHasher) -> None:
    with pytest.raises(ValueError, match="72-byte"):
        await hasher.hash("a" * (BCRYPT_MAX_BYTES + 1))
    with pytest.raises(ValueError, match="72-byte"):
        await hasher.hash("\N{GRINNING FACE}" * 19)  # 76 bytes, 19 characters


async def test_hash_accepts_exactly_72_bytes(hasher: PasswordHasher) -> None:
    password = "a" * BCRYPT_MAX_BYTES
    assert await hasher.verify(password, await hasher.hash(password))


def test_too_long_counts_utf8_bytes() -> None:
    assert not PasswordHasher.too_long("a" * 72)
    assert PasswordHasher.too_long("a" * 73)
    assert PasswordHasher.too_long("é" * 37)  # 74 bytes
    assert not PasswordHasher.too_long("é" * 36)


@pytest.mark.parametrize("rounds", [3, 32, 0, -1])
def test_rounds_out_of_range_are_refused(rounds: int) -> None:
    with pytest.raises(ValueError, match="between 4 and 31"):
        PasswordHasher(rounds=rounds)


@pytest.mark.parametrize(
    ("stored", "rounds", "expected"),
    [
        ("$2b$10$" + "a" * 53, 10, False),
        ("$2a$10$" + "a" * 53, 10, False),  # bcryptjs's prefix alone is no reason
        ("$2b$04$" + "a" * 53, 10, True),
        ("$2a$12$" + "a" * 53, 10, True),
        ("$2y$10$" + "a" * 53, 12, True),
        ("not a bcrypt hash", 10, False),
        ("", 10, False),
    ],
)
def test_needs_rehash_only_for_another_cost(stored: str, rounds: int, expected: bool) -> None:
    hasher = object.__new__(PasswordHasher)  # no dummy hash at cost 12 just for this
    hasher.rounds = rounds
    assert hasher.needs_rehash(stored) is expected


@pytest.mark.anyio
async def test_rehash_hashes_the_first_72_bytes_at_our_cost() -> None:
    hasher = PasswordHasher(rounds=4)
    long_password = "é" * 50  # 100 bytes in UTF-8
    rehashed = await hasher.rehash(long_password)
    assert rehashed.startswith("$2b$04$")
    assert await hasher.verify(long_password, rehashed)
    assert not hasher.needs_rehash(rehashed)
