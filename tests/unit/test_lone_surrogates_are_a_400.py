"""JSON may escape a lone surrogate (`"\\ud800"`), which no UTF-8 encoder takes: every
route that reads a password or the social exchange's code answers it with a 400, as
/auth/signin does, never a 500."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from support.jwt import bearer

from unit.test_mfa import PASSWORD, sign_up_and_in
from unit.test_social import World

LONE = b'"\\ud800"'


def post_raw(client: TestClient, method: str, path: str, body: bytes, **headers: str) -> Any:
    return client.request(
        method, path, content=body, headers={"Content-Type": "application/json", **headers}
    )


def test_a_lone_surrogate_as_a_password_is_a_400(client: TestClient) -> None:
    auth = bearer(sign_up_and_in(client))
    for method, path, body in (
        ("POST", "/auth/step-up", b'{"password": ' + LONE + b"}"),
        (
            "POST",
            "/auth/password/change",
            b'{"currentPassword": ' + LONE + b', "newPassword": "another-pass-2"}',
        ),
        ("DELETE", "/auth/account", b'{"password": ' + LONE + b"}"),
    ):
        answer = post_raw(client, method, path, body, **auth)
        assert answer.status_code == 400, (path, answer.text)
    assert client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).is_success


def test_a_lone_surrogate_as_an_exchange_code_is_a_400() -> None:
    browser = World().browser()
    answer = post_raw(browser, "POST", "/auth/oauth/exchange", b'{"code": ' + LONE + b"}")
    assert answer.status_code == 400, answer.text
