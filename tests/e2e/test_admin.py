"""An administrator at work, through a real `uvicorn authkit.asgi:app` on a real database
(SecantusDB): the first admin made with `authkit create-user --role admin`, a user who
signs up and in, then is disabled by the admin, at which point (revocation checks on) their
access token stops at once, their refresh token is refused and they cannot sign in again;
`authkit users enable` lets them back. Sign-up closed, on the same database.

The same rules on mongomock: tests/unit/test_admin_routes.py, tests/unit/test_users_cli.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.jwt import bearer, payload_of
from support.processes import AppProcess, run_python

pytestmark = pytest.mark.e2e

PASSWORD = "Passw0rd!x"


def cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> tuple[int, str, str]:
    return run_python(["-m", "authkit", *args], env, cwd, stdin=stdin)


def signin(base: str, name: str) -> httpx.Response:
    return httpx.post(f"{base}/auth/signin", json={"username": name, "password": PASSWORD})


def test_an_administrator_disables_a_user(
    start_uvicorn: Callable[..., AppProcess], server_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**server_env, "AUTHKIT_REVOCATION_CHECKS": "true"}
    code, out, err = cli(
        ["create-user", "root", "--role", "admin"], env, tmp_path, stdin=PASSWORD + "\n"
    )
    assert code == 0, err
    assert out.endswith(" and roles admin\n")
    server = start_uvicorn(env)
    base = server.base_url

    admin_pair = signin(base, "root").json()
    assert payload_of(admin_pair["accessToken"])["roles"] == ["admin"]
    admin = bearer(admin_pair["accessToken"])

    assert (
        httpx.post(
            f"{base}/auth/signup", json={"username": "mallory", "password": PASSWORD}
        ).status_code
        == 201
    )
    pair = signin(base, "mallory").json()
    assert "roles" not in payload_of(pair["accessToken"])
    assert httpx.get(f"{base}/auth/me", headers=bearer(pair["accessToken"])).status_code == 200
    # Not an administrator: the admin routes refuse them.
    assert (
        httpx.get(f"{base}/auth/admin/users", headers=bearer(pair["accessToken"])).status_code
        == 403
    )

    found = httpx.get(f"{base}/auth/admin/users", params={"q": "mall"}, headers=admin).json()
    assert [u["username"] for u in found["users"]] == ["mallory"]
    user_id = found["users"][0]["_id"]
    disabled = httpx.post(f"{base}/auth/admin/users/{user_id}/disable", headers=admin)
    assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)

    assert httpx.get(f"{base}/auth/me", headers=bearer(pair["accessToken"])).status_code == 401
    refresh = httpx.post(f"{base}/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert refresh.status_code == 401
    again = signin(base, "mallory")
    assert (again.status_code, again.json()["message"]) == (403, "This account is disabled")

    code, out, err = cli(["users", "show", "mallory"], env, tmp_path)
    assert code == 0 and out.rstrip().endswith("disabled"), err
    code, out, err = cli(["users", "enable", "mallory"], env, tmp_path)
    assert (code, out) == (0, "enabled user 'mallory'\n"), err
    assert signin(base, "mallory").status_code == 201


def test_with_sign_up_closed_only_an_administrator_creates_users(
    start_uvicorn: Callable[..., AppProcess], server_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**server_env, "AUTHKIT_SIGNUP": "closed"}
    assert cli(["create-user", "root", "--role", "admin"], env, tmp_path, PASSWORD + "\n")[0] == 0
    base = start_uvicorn(env).base_url
    refused = httpx.post(f"{base}/auth/signup", json={"username": "walkin", "password": PASSWORD})
    assert refused.status_code == 403
    admin = bearer(signin(base, "root").json()["accessToken"])
    created = httpx.post(
        f"{base}/auth/admin/users",
        json={"username": "invited", "password": PASSWORD},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert signin(base, "invited").status_code == 201
