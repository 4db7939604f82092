"""Property-based tests (hypothesis): hostile input to the DTO, the body reader and the token
parser ends in a clear 4xx-type error or a valid value, never in any other exception."""

from __future__ import annotations

import asyncio
import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from authkit.core.errors import BadRequest, InvalidToken, PayloadTooLarge, ValidationFailed
from authkit.http.body import read_fields
from authkit.passwords.dto import SignupCredentials
from authkit.tokens.issuer import TokenIssuer
from authkit.users.names import UsernameRefused, canonical_username

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
KNOWN_MESSAGES = {
    "username must be longer than or equal to 4 characters",
    "username must be shorter than or equal to 20 characters",
    "username must be a string",
    "username must be valid Unicode text",
    "Password is too short (8 characters min)",
    "Password is too long (20 characters max)",
    "Password is too long (72 bytes max in UTF-8, bcrypt's limit)",
    "password must be a string",
    "password must be valid Unicode text",
    "username must not contain control characters",
    "username must not contain invisible characters (zero-width, BOM, soft hyphen, bidi controls)",
    "username must not be blank",
    "username contains characters that are not allowed in a username",
    "Password must not be only whitespace",
    "Password must not be the username",
    "Password is too common: it is on a list of breached passwords",
}


def _acceptable(value: object, low: int, high: int) -> bool:
    if not isinstance(value, str) or not low <= len(unicodedata.normalize("NFC", value)) <= high:
        return False
    try:
        return len(unicodedata.normalize("NFC", value).encode("utf-8")) <= 72
    except UnicodeEncodeError:
        return False


def _acceptable_name(value: object) -> bool:
    if not _acceptable(value, 4, 20) or not isinstance(value, str):
        return False
    try:
        return len(canonical_username(value)) >= 4
    except UsernameRefused:
        return False


def _acceptable_password(value: object, username: object) -> bool:
    if not _acceptable(value, 8, 20) or not isinstance(value, str) or not value.strip():
        return False
    folded = " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    if folded in FREQUENCY_LISTS["passwords"]:
        return False
    return not isinstance(username, str) or folded != " ".join(
        unicodedata.normalize("NFKC", username).casefold().split()
    )


@given(username=json_values, password=json_values)
def test_signup_validation_accepts_exactly_the_valid_credentials(
    username: object, password: object
) -> None:
    should_pass = _acceptable_name(username) and _acceptable_password(password, username)
    try:
        creds = SignupCredentials.from_body({"username": username, "password": password})
    except ValidationFailed as exc:
        assert not should_pass
        assert isinstance(exc.message, list) and exc.message
        assert set(exc.message) <= KNOWN_MESSAGES
    else:
        assert should_pass
        assert (creds.username, creds.password) == (username, password)


def _request(body: bytes, content_type: str) -> Request:
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]

    async def receive() -> dict[str, object]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", content_type.encode())],
    }
    return Request(scope, receive)


@settings(max_examples=300)
@given(
    body=st.binary(max_size=600) | st.text(max_size=300).map(str.encode),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
    ),
)
def test_any_body_reads_as_a_mapping_or_a_clear_client_error(
    body: bytes, content_type: str
) -> None:
    try:
        fields = asyncio.run(read_fields(_request(body, content_type), max_bytes=512))
    except PayloadTooLarge:
        assert len(body) > 512
    except BadRequest as exc:
        assert isinstance(exc.message, str) and exc.message
    else:
        assert isinstance(fields, dict)
        if content_type == "application/json" and body.strip():
            assert fields == json.loads(body) or not isinstance(json.loads(body), dict)


ISSUER = TokenIssuer("p" * 40, 60, clock=lambda: 1_800_000_000)


@given(
    token=st.text(max_size=400) | st.from_regex(r"eyJ[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_.-]{0,120}")
)
def test_any_forged_token_string_is_rejected_cleanly(token: str) -> None:
    # Without the secret no string verifies; anything but InvalidToken would be a 500.
    with pytest.raises(InvalidToken):
        ISSUER.verify(token)


@given(user_id=st.text(min_size=1, max_size=30), username=st.text(min_size=1, max_size=30))
def test_every_issued_token_verifies_to_its_claims(user_id: str, username: str) -> None:
    token = ISSUER.issue(user_id=user_id, username=username)
    claims = ISSUER.verify(token)
    assert (claims["sub"], claims["username"]) == (user_id, username)
    assert claims["exp"] - claims["iat"] == 60
