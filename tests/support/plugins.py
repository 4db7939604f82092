"""What tests/plugins' fixtures hand to its tests: the demo server and accounts on it."""

from __future__ import annotations

from pathlib import Path

import attrs
import httpx

from support.processes import AppProcess

PLUGINS_DIR = Path(__file__).resolve().parents[1] / "plugins"
ACCOUNT_LIMIT = 3  # AUTHKIT_SIGNIN_LIMIT_ACCOUNT the demo server runs with, per 15 minutes


@attrs.frozen
class Demo:
    server: AppProcess
    http: httpx.Client


@attrs.frozen
class Accounts:
    http: httpx.Client

    def sign_up(self, username: str, password: str) -> None:
        answer = self.http.post("/auth/signup", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.text

    def token(self, username: str, password: str) -> dict[str, str]:
        """An Authorization header with a fresh JWT, from POST /auth/signin."""
        answer = self.http.post("/auth/signin", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.text
        return {"Authorization": f"Bearer {answer.json()['accessToken']}"}

    def user_with_token(self, username: str, password: str) -> dict[str, str]:
        self.sign_up(username, password)
        return self.token(username, password)
