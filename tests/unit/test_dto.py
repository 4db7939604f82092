"""authkit.dto: SignupCredentials.from_body, the signup validation.

Messages and their order must be class-validator's, as recorded in contract.json;
the 72-byte bcrypt rule and the Unicode checks are authkit's own.
"""

from __future__ import annotations

from typing import Any

import pytest

from authkit.core.errors import BadRequest, ValidationFailed
from authkit.passwords.dto import SignupCredentials, is_clean_text

GOOD_USER = "alice"
GOOD_PASS = "Passw0rd!x"

USERNAME_NOT_STRING = [
    "username must be shorter than or equal to 20 characters",
    "username must be longer than or equal to 4 characters",
    "username must be a string",
]
PASSWORD_NOT_STRING = [
    "Password is too long (20 characters max)",
    "Password is too short (8 characters min)",
    "password must be a string",
]


def messages(body: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        SignupCredentials.from_body(body)
    assert isinstance(caught.value.message, list)
    return caught.value.message


def recorded(contract: dict[str, dict[str, Any]], case: str) -> list[str]:
    body = contract[case]["body"]
    assert contract[case]["status"] == 400
    return list(body["message"])


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("signup_username_too_short_3", {"username": "abc", "password": GOOD_PASS}),
        ("signup_username_too_long_21", {"username": "u" * 21, "password": GOOD_PASS}),
        ("signup_username_missing", {"password": GOOD_PASS}),
        ("signup_username_number", {"username": 12345, "password": GOOD_PASS}),
        ("signup_username_array", {"username": ["alice"], "password": GOOD_PASS}),
        ("signup_username_object", {"username": {"$ne": None}, "password": GOOD_PASS}),
        ("signup_username_null", {"username": None, "password": GOOD_PASS}),
        ("signup_password_too_short_7", {"username": GOOD_USER, "password": "Abcdef1"}),
        ("signup_password_too_long_21", {"username": GOOD_USER, "password": "A" * 21}),
        ("signup_password_missing", {"username": GOOD_USER}),
        ("signup_password_number", {"username": GOOD_USER, "password": 12345678}),
        ("signup_both_invalid", {"username": "ab", "password": "x"}),
        ("signup_empty_object", {}),
    ],
)
def test_messages_match_the_recorded_contract(
    contract: dict[str, dict[str, Any]], case: str, body: dict[str, Any]
) -> None:
    assert messages(body) == recorded(contract, case)


def test_null_for_both_fields_lists_username_rules_then_password_rules() -> None:
    assert messages({"username": None, "password": None}) == (
        USERNAME_NOT_STRING + PASSWORD_NOT_STRING
    )


@pytest.mark.parametrize("value", [True, 1.5, [], {}, ["a", "b"]])
def test_any_non_string_password_fails_all_three_password_rules(value: object) -> None:
    assert messages({"username": GOOD_USER, "password": value}) == PASSWORD_NOT_STRING


def test_both_too_long_reports_username_first() -> None:
    assert messages({"username": "u" * 21, "password": "p" * 21}) == [
        "username must be shorter than or equal to 20 characters",
        "Password is too long (20 characters max)",
    ]


def test_validation_failure_is_a_400_bad_request() -> None:
    with pytest.raises(BadRequest) as caught:
        SignupCredentials.from_body({})
    assert caught.value.status_code == 400
    assert caught.value.error == "Bad Request"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("abcd", "Qbcdefg1"),  # signup_boundary_min_4_8 with a password not on the list
        ("u" * 20, "B" * 20),  # signup_boundary_max_20_20
        ("ñü漢字user", GOOD_PASS),  # signup_unicode_username
    ],
)
def test_boundaries_and_unicode_are_accepted(username: str, password: str) -> None:
    creds = SignupCredentials.from_body({"username": username, "password": password})
    assert (creds.username, creds.password) == (username, password)


def test_extra_fields_are_ignored() -> None:
    creds = SignupCredentials.from_body(
        {"username": GOOD_USER, "password": GOOD_PASS, "role": "admin", "isAdmin": True}
    )
    assert creds == SignupCredentials(GOOD_USER, GOOD_PASS)


def test_whitespace_is_not_trimmed() -> None:
    creds = SignupCredentials.from_body({"username": "  alice  ", "password": " pass word "})
    assert creds.username == "  alice  "
    assert creds.password == " pass word "


def test_whitespace_counts_toward_length() -> None:
    assert messages({"username": " ab", "password": GOOD_PASS}) == [
        "username must be longer than or equal to 4 characters"
    ]


def test_twenty_emoji_code_points_are_a_valid_username() -> None:
    # 20 code points but 40 UTF-16 code units: class-validator counts code points.
    username = "\N{GRINNING FACE}" * 20
    assert SignupCredentials.from_body({"username": username, "password": GOOD_PASS}).username == (
        username
    )


def test_twenty_one_emoji_code_points_are_too_long() -> None:
    assert messages({"username": "\N{GRINNING FACE}" * 21, "password": GOOD_PASS}) == [
        "username must be shorter than or equal to 20 characters"
    ]


def test_password_over_72_utf8_bytes_is_rejected_even_within_20_characters() -> None:
    password = "\N{GRINNING FACE}" * 19  # 19 characters, 76 bytes
    assert messages({"username": GOOD_USER, "password": password}) == [
        "Password is too long (72 bytes max in UTF-8, bcrypt's limit)"
    ]


def test_password_of_exactly_72_utf8_bytes_is_accepted() -> None:
    password = "\N{GRINNING FACE}" * 18  # 72 bytes
    assert SignupCredentials.from_body({"username": GOOD_USER, "password": password})


def test_lone_surrogate_in_username_is_rejected() -> None:
    assert messages({"username": "abc\ud800", "password": GOOD_PASS}) == [
        "username must be valid Unicode text"
    ]


def test_lone_surrogate_in_password_is_rejected() -> None:
    assert messages({"username": GOOD_USER, "password": "abcdefg\udfff"}) == [
        "password must be valid Unicode text"
    ]


def test_is_clean_text() -> None:
    assert is_clean_text("élodie \N{GRINNING FACE}")
    assert not is_clean_text("\ud83d")


def test_password_is_not_in_the_repr() -> None:
    creds = SignupCredentials.from_body({"username": GOOD_USER, "password": "hunter2-secret"})
    assert "hunter2-secret" not in repr(creds)
    assert GOOD_USER in repr(creds)
