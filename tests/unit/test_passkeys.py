"""Passkeys without a browser: registration, sign-in with a passkey alone, and the rules a
browser test cannot easily break on purpose (a used or expired challenge, a counter that
goes backwards, another origin or RP id, an unknown credential, someone else's passkey).

The answers come from tests/support/webauthn_authenticator.py, a software authenticator;
py_webauthn verifies them exactly as it verifies a browser's.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from starlette.testclient import TestClient
from support.webauthn_authenticator import SoftAuthenticator, b64url

PASSWORD = "passkey-pass-1"


def sign_up_and_in(client: TestClient, username: str) -> dict[str, str]:
    assert (
        client.post("/auth/signup", json={"username": username, "password": PASSWORD}).status_code
        == 201
    )
    answer = client.post("/auth/signin", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


def register(
    client: TestClient, bearer: dict[str, str], authenticator: SoftAuthenticator, **how: Any
) -> Any:
    options = client.post("/auth/passkeys/register/options", headers=bearer)
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json(), **how)
    return client.post(
        "/auth/passkeys/register",
        headers=bearer,
        json={"credential": credential, "name": "Laptop"},
    )


def signin_options(client: TestClient) -> dict[str, Any]:
    answer = client.post("/auth/passkeys/signin/options", json={})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def passkey_signin(client: TestClient, authenticator: SoftAuthenticator, **how: Any) -> Any:
    options = signin_options(client)
    credential = authenticator.get(options["options"], **how)
    return client.post(
        "/auth/passkeys/signin",
        json={"challenge_id": options["challenge_id"], "credential": credential},
    )


@pytest.fixture
def user(client: TestClient) -> dict[str, str]:
    return sign_up_and_in(client, "passkey-user")


@pytest.fixture
def registered(client: TestClient, user: dict[str, str]) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    answer = register(client, user, authenticator)
    assert answer.status_code == 201, answer.text
    return authenticator


def test_registration_options_ask_for_a_discoverable_credential_and_user_verification(
    client: TestClient, user: dict[str, str]
) -> None:
    options = client.post("/auth/passkeys/register/options", headers=user).json()
    assert options["rp"] == {"id": "localhost", "name": "authkit"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["user"]["name"] == "passkey-user"


def test_registration_needs_a_signed_in_user(client: TestClient) -> None:
    assert client.post("/auth/passkeys/register/options").status_code == 401
    assert client.get("/auth/passkeys").status_code == 401


def test_a_registered_passkey_is_listed_renamed_and_deleted(
    client: TestClient, user: dict[str, str], registered: SoftAuthenticator
) -> None:
    listed = client.get("/auth/passkeys", headers=user).json()["passkeys"]
    assert [(k["name"], k["lastUsedAt"]) for k in listed] == [("Laptop", None)]
    passkey_id = listed[0]["id"]
    renamed = client.patch(f"/auth/passkeys/{passkey_id}", headers=user, json={"name": "Phone"})
    assert (renamed.status_code, renamed.json()["name"]) == (200, "Phone")
    assert client.delete(f"/auth/passkeys/{passkey_id}", headers=user).status_code == 204
    assert client.get("/auth/passkeys", headers=user).json() == {"passkeys": []}
    assert passkey_signin(client, registered).status_code == 401


def test_the_same_passkey_cannot_be_registered_twice(
    client: TestClient, user: dict[str, str], registered: SoftAuthenticator
) -> None:
    options = client.post("/auth/passkeys/register/options", headers=user).json()
    assert [c["id"] for c in options["excludeCredentials"]] == [b64url(registered.credential_id)]
    again = client.post(
        "/auth/passkeys/register",
        headers=user,
        json={"credential": registered.create(options), "name": "Again"},
    )
    assert again.status_code == 409


def test_sign_in_with_the_passkey_alone_gives_what_a_password_sign_in_gives(
    client: TestClient, registered: SoftAuthenticator
) -> None:
    answer = passkey_signin(client, registered)
    assert answer.status_code == 201, answer.text
    assert set(answer.json()) == {"accessToken", "refreshToken"}
    bearer = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
    assert client.get("/auth/me", headers=bearer).json()["username"] == "passkey-user"
    assert len(client.get("/auth/sessions", headers=bearer).json()["sessions"]) == 2


def test_a_challenge_is_used_once(client: TestClient, registered: SoftAuthenticator) -> None:
    options = signin_options(client)
    first = registered.get(options["options"])
    second = registered.get(options["options"])
    body = {"challenge_id": options["challenge_id"]}
    assert (
        client.post("/auth/passkeys/signin", json={**body, "credential": first}).status_code == 201
    )
    assert (
        client.post("/auth/passkeys/signin", json={**body, "credential": second}).status_code == 401
    )


def test_an_expired_challenge_is_refused(
    client: TestClient, db: Any, registered: SoftAuthenticator
) -> None:
    options = signin_options(client)
    credential = registered.get(options["options"])
    # As the clock would have it five minutes on (the TTL index has not removed it yet).
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    db["webauthn_challenges"].update_many({}, {"$set": {"expires_at": past}})
    answer = client.post(
        "/auth/passkeys/signin",
        json={"challenge_id": options["challenge_id"], "credential": credential},
    )
    assert answer.status_code == 401


def test_a_registration_challenge_does_not_sign_anyone_in(
    client: TestClient, user: dict[str, str], registered: SoftAuthenticator
) -> None:
    options = client.post("/auth/passkeys/register/options", headers=user).json()
    credential = registered.get(options)
    answer = client.post(
        "/auth/passkeys/signin",
        json={"challenge_id": options["challenge"], "credential": credential},
    )
    assert answer.status_code == 401


def test_a_sign_counter_that_goes_backwards_is_refused_and_logged(
    client: TestClient, registered: SoftAuthenticator, caplog: pytest.LogCaptureFixture
) -> None:
    assert passkey_signin(client, registered, sign_count=5).status_code == 201
    with caplog.at_level(logging.WARNING, logger="authkit.security"):
        assert passkey_signin(client, registered, sign_count=3).status_code == 401
        assert passkey_signin(client, registered, sign_count=5).status_code == 401
    events = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert events.count("passkey_counter_regressed") == 2
    assert passkey_signin(client, registered, sign_count=6).status_code == 201


def test_an_authenticator_without_a_counter_signs_in_every_time(
    client: TestClient, user: dict[str, str]
) -> None:
    authenticator = SoftAuthenticator()
    authenticator.counts = False
    assert register(client, user, authenticator).status_code == 201
    assert passkey_signin(client, authenticator).status_code == 201
    assert passkey_signin(client, authenticator).status_code == 201


@pytest.mark.parametrize(
    "how",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://localhost:3001"},
        {"rp_id": "evil.example"},
        {"user_verified": False},
    ],
    ids=["other-site", "other-port", "other-rp-id", "no-user-verification"],
)
def test_a_sign_in_from_elsewhere_or_unverified_is_refused(
    client: TestClient, registered: SoftAuthenticator, how: dict[str, Any]
) -> None:
    assert passkey_signin(client, registered, **how).status_code == 401
    assert passkey_signin(client, registered).status_code == 201


@pytest.mark.parametrize(
    "how",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}, {"user_verified": False}],
    ids=["other-site", "other-rp-id", "no-user-verification"],
)
def test_a_registration_from_elsewhere_or_unverified_is_refused(
    client: TestClient, user: dict[str, str], how: dict[str, Any]
) -> None:
    answer = register(client, user, SoftAuthenticator(), **how)
    assert answer.status_code == 400
    assert client.get("/auth/passkeys", headers=user).json() == {"passkeys": []}


def test_an_unknown_credential_is_refused(
    client: TestClient, registered: SoftAuthenticator
) -> None:
    stranger = SoftAuthenticator()
    stranger.user_handle = registered.user_handle  # claims to be the user, but was never registered
    assert passkey_signin(client, stranger).status_code == 401


def test_a_passkey_naming_another_user_is_refused(
    client: TestClient, registered: SoftAuthenticator
) -> None:
    registered.user_handle = b"5f0000000000000000000000"
    assert passkey_signin(client, registered).status_code == 401


def test_someone_elses_passkey_is_not_found(
    client: TestClient, user: dict[str, str], registered: SoftAuthenticator
) -> None:
    other = sign_up_and_in(client, "other-user")
    passkey_id = client.get("/auth/passkeys", headers=user).json()["passkeys"][0]["id"]
    assert client.get("/auth/passkeys", headers=other).json() == {"passkeys": []}
    assert client.delete(f"/auth/passkeys/{passkey_id}", headers=other).status_code == 404
    assert (
        client.patch(f"/auth/passkeys/{passkey_id}", headers=other, json={"name": "x"}).status_code
        == 404
    )
    assert client.get("/auth/passkeys", headers=user).json()["passkeys"][0]["name"] == "Laptop"


def test_another_users_registration_challenge_does_not_register(
    client: TestClient, user: dict[str, str]
) -> None:
    other = sign_up_and_in(client, "other-user")
    options = client.post("/auth/passkeys/register/options", headers=user).json()
    credential = SoftAuthenticator().create(options)
    answer = client.post("/auth/passkeys/register", headers=other, json={"credential": credential})
    assert answer.status_code == 401
    assert client.get("/auth/passkeys", headers=other).json() == {"passkeys": []}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"challenge_id": "x"},
        {"challenge_id": "x", "credential": "not an object"},
        {"challenge_id": 5, "credential": {}},
        {"challenge_id": "x", "credential": {"id": "!", "rawId": "!", "response": {}}},
        {"challenge_id": "x", "credential": {}, "mfa_token": None},
        {"challenge_id": None, "credential": {}},
    ],
)
def test_malformed_sign_in_bodies_are_a_400(client: TestClient, body: dict[str, Any]) -> None:
    answer = client.post("/auth/passkeys/signin", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["statusCode"] == 400


@pytest.mark.parametrize(
    "body",
    [
        {"credential": {}},
        {"credential": {"response": {"clientDataJSON": "%%%"}}},
        {"credential": {"response": {"clientDataJSON": "e30"}}},
        {"credential": "x"},
        {"credential": {"response": {"clientDataJSON": "e30"}}, "name": ""},
        {"credential": {"response": {"clientDataJSON": "e30"}}, "name": "a\u0000b"},
    ],
)
def test_malformed_registrations_are_a_400(
    client: TestClient, user: dict[str, str], body: dict[str, Any]
) -> None:
    answer = client.post("/auth/passkeys/register", headers=user, json=body)
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("body", [{"mfa_token": None}, {"mfa_token": 5}, {"mfa_token": ""}])
def test_malformed_option_requests_are_a_400(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/auth/passkeys/signin/options", json=body).status_code == 400


def test_a_names_length_is_bounded(
    client: TestClient, user: dict[str, str], registered: SoftAuthenticator
) -> None:
    passkey_id = client.get("/auth/passkeys", headers=user).json()["passkeys"][0]["id"]
    answer = client.patch(f"/auth/passkeys/{passkey_id}", headers=user, json={"name": "x" * 65})
    assert answer.status_code == 400
