"""Issue #16 items 6 and 13: what signup refuses as a password (common and breached ones, the
username, whitespace only; length bounds as settings), NFC and NFD spellings of one password
are one password while the NestJS app's hashes still verify, sign-in never matches what
signup could not have stored (72 bytes + a suffix), and a stored hash above the bcrypt cost
cap is not checked.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from typing import Any

import bcrypt
import pytest
from bson import ObjectId
from starlette.testclient import TestClient
from support.settings import SECRET, make_settings

from authkit import create_app
from authkit.core.errors import ConfigError
from authkit.settings.loader import load_settings
from authkit.settings.model import PasswordSettings

PASSWORD = "Passw0rd!x"
GRIN = "\N{GRINNING FACE}"  # 4 bytes in UTF-8
COMMON = "Password is too common: it is on a list of breached passwords"


def sign_up(client: TestClient, username: str, password: str) -> Any:
    return client.post("/auth/signup", json={"username": username, "password": password})


def sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/auth/signin", json={"username": username, "password": password})


def with_passwords(make_client: Callable[..., TestClient], **fields: Any) -> TestClient:
    fields.setdefault("bcrypt_rounds", 4)
    return make_client(make_settings(passwords=PasswordSettings(**fields)))


def node_user(db: Any, username: str, password_hash: str) -> None:
    """A user as the NestJS app stores one: its hash is of the password as typed."""
    db["users"].insert_one(
        {"_id": ObjectId(), "username": username, "password": password_hash, "__v": 0}
    )


@pytest.mark.parametrize(
    "password", ["password", "12345678", "Password", "PASSWORD1", "qwertyuiop", "iloveyou"]
)
def test_common_and_breached_passwords_are_refused(client: TestClient, password: str) -> None:
    response = sign_up(client, "alice", password)
    assert response.status_code == 400, password
    assert response.json()["message"] == [COMMON]


@pytest.mark.parametrize("password", ["alice-wonder", "ALICE-WONDER", " Alice-Wonder "])
def test_the_username_is_refused_as_its_password(client: TestClient, password: str) -> None:
    response = sign_up(client, "alice-wonder", password)
    assert response.status_code == 400
    assert response.json()["message"] == ["Password must not be the username"]


@pytest.mark.parametrize("password", [" " * 10, "\t" * 8, "\u3000" * 8, " \n \r \t  "])
def test_whitespace_only_passwords_are_refused(client: TestClient, password: str) -> None:
    response = sign_up(client, "alice", password)
    assert response.status_code == 400
    assert response.json()["message"] == ["Password must not be only whitespace"]


def test_a_password_with_spaces_in_it_is_fine(client: TestClient) -> None:
    assert sign_up(client, "alice", " correct horse ").status_code == 201
    assert sign_in(client, "alice", " correct horse ").status_code == 201


def test_the_length_bounds_are_settings(make_client: Callable[..., TestClient]) -> None:
    client = with_passwords(make_client, min_length=12, max_length=64)
    short = sign_up(client, "alice", "Kq8-zxv-Lm1")  # 11
    assert short.json()["message"] == ["Password is too short (12 characters min)"]
    long = sign_up(client, "alice", "Kq8-zxv-Lm1" * 6)  # 66
    assert long.json()["message"] == ["Password is too long (64 characters max)"]
    nist = ("Kq8-zxv-Lm1" * 6)[:64]
    assert sign_up(client, "alice", nist).status_code == 201
    assert sign_in(client, "alice", nist).status_code == 201
    schema = client.get("/openapi.json").json()["paths"]["/auth/signup"]["post"]
    password = schema["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert (password["password"]["minLength"], password["password"]["maxLength"]) == (12, 64)


def test_the_length_bounds_come_from_the_environment() -> None:
    environ = {
        "JWT_SECRET": SECRET,
        "AUTHKIT_PASSWORD_MIN_LENGTH": "10",
        "AUTHKIT_PASSWORD_MAX_LENGTH": "64",
        "AUTHKIT_BCRYPT_MAX_COST": "13",
    }
    passwords = load_settings(environ, env_file=None).passwords
    assert (passwords.min_length, passwords.max_length, passwords.bcrypt_max_cost) == (10, 64, 13)
    defaults = PasswordSettings()
    assert (defaults.min_length, defaults.max_length, defaults.bcrypt_max_cost) == (8, 20, 14)


@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"min_length": 30, "max_length": 20}, "AUTHKIT_PASSWORD_MIN_LENGTH"),
        ({"bcrypt_rounds": 12, "bcrypt_max_cost": 11}, "AUTHKIT_BCRYPT_MAX_COST"),
    ],
)
def test_contradicting_bounds_stop_the_start(fields: dict[str, int], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        create_app(make_settings(passwords=PasswordSettings(**fields)))


def test_nfc_and_nfd_spellings_of_a_password_are_one_password(client: TestClient) -> None:
    nfc = unicodedata.normalize("NFC", "pässwörd-Ünïcode")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    assert sign_up(client, "alice", nfd).status_code == 201
    assert sign_in(client, "alice", nfc).status_code == 201
    assert sign_in(client, "alice", nfd).status_code == 201
    assert sign_up(client, "bobby", nfc).status_code == 201
    assert sign_in(client, "bobby", nfd).status_code == 201


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_a_node_hash_of_either_spelling_verifies_with_both(
    client: TestClient, db: Any, form: str
) -> None:
    typed = unicodedata.normalize(form, "motdepässe-é")
    node_user(db, "elodie", bcrypt.hashpw(typed.encode(), bcrypt.gensalt(4)).decode())
    for spelling in ("NFC", "NFD"):
        password = unicodedata.normalize(spelling, typed)
        assert sign_in(client, "elodie", password).status_code == 201, (form, spelling)
    assert sign_in(client, "elodie", "motdepasse-e").status_code == 401


def test_signin_refuses_what_signup_could_not_have_stored(
    make_client: Callable[..., TestClient],
) -> None:
    client = with_passwords(make_client, max_length=72)
    at_the_limit = "Kq8-zxv-Lm1" * 6 + "abcdef"  # 72 bytes
    assert sign_up(client, "alice", at_the_limit).status_code == 201
    assert sign_in(client, "alice", at_the_limit).status_code == 201
    for suffix in ("x", "anything at all", GRIN):
        assert sign_in(client, "alice", at_the_limit + suffix).status_code == 401, suffix


def test_signin_refuses_an_emoji_password_one_past_72_bytes(client: TestClient) -> None:
    assert sign_up(client, "alice", GRIN * 18).status_code == 201  # 18 characters, 72 bytes
    assert sign_in(client, "alice", GRIN * 18).status_code == 201
    assert sign_in(client, "alice", GRIN * 18 + "x").status_code == 401
    assert sign_in(client, "alice", GRIN * 19).status_code == 401


def test_node_users_keep_the_truncation_node_hashed_with(
    client: TestClient, db: Any, node_compat: dict[str, Any]
) -> None:
    # The NestJS app hashed the first 72 bytes of this 80-byte password: the user typed
    # all 80 and must keep signing in with them.
    user = next(u for u in node_compat["users"] if u["username"] == "emoji20")
    node_user(db, user["username"], user["hash"])
    assert sign_in(client, user["username"], user["password"]).status_code == 201


def test_a_stored_hash_above_the_cost_cap_is_not_checked(
    make_client: Callable[..., TestClient], db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = with_passwords(make_client, bcrypt_max_cost=5)
    node_user(db, "alice", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(6)).decode())
    node_user(db, "bobby", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(5)).decode())
    with caplog.at_level(logging.INFO):
        refused = sign_in(client, "alice", PASSWORD)
    assert refused.status_code == 401  # even with the right password
    assert refused.json()["message"] == "Invalid credentials"
    assert sign_in(client, "bobby", PASSWORD).status_code == 201  # at the cap: checked
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        "stored password hash has bcrypt cost 6, above the 5 verified (AUTHKIT_BCRYPT_MAX_COST); "
        "denying sign-in without checking it"
    ) in warnings
    (event,) = [
        r.fields  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "signin failed"
    ]
    assert (event["user"], event["reason"]) == ("alice", "hash_cost_over_cap")
    assert PASSWORD not in caplog.text and db["users"].find_one()["password"] not in caplog.text


def test_the_default_cap_refuses_a_cost_15_hash(
    client: TestClient, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The review's hash: one check at cost 15 holds a core for seconds. It is never checked.
    cost_4 = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    node_user(db, "alice", cost_4.replace("$04$", "$15$", 1))  # a well-formed cost-15 hash
    with caplog.at_level(logging.WARNING, logger="authkit.passwords"):
        assert sign_in(client, "alice", PASSWORD).status_code == 401
    assert "bcrypt cost 15, above the 14 verified" in caplog.text


@pytest.mark.parametrize(
    ("password", "checks"),
    [
        ("Wrong-pass1", 1),
        ("wrong-p\u00e4ss", 2),
        ("wrong-pa\u0308ss", 2),
        ("wr\u00f6ng-pa\u0308ss", 3),
    ],
)
def test_the_bcrypt_work_of_a_sign_in_depends_on_the_password_alone(
    client: TestClient, db: Any, monkeypatch: pytest.MonkeyPatch, password: str, checks: int
) -> None:
    # An authkit user (NFC only), a NestJS one (up to three spellings) and nobody: the
    # same number of bcrypt checks each, so timing tells neither existence nor origin.
    assert sign_up(client, "alice", PASSWORD).status_code == 201
    node_user(db, "bobby", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode())
    real = bcrypt.checkpw
    counted: list[int] = []
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: counted.append(1) or real(*a))
    for username in ("alice", "bobby", "nobody"):
        counted.clear()
        assert sign_in(client, username, password).status_code == 401
        assert len(counted) == checks, username
