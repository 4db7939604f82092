"""Social sign-in with the GitHub preset through real processes: `uvicorn authkit.asgi:app`
on a real database, and the GitHub-shaped fake (tests/support/github_fake.py) served by
uvicorn on another loopback port. The browser is an httpx client with its own cookie jar.

The same rules in process, with more cases: tests/unit/test_social.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from pymongo.database import Database
from support.github_fake import GitHubFake
from support.pkce import Pkce
from support.processes import AppProcess, free_port

pytestmark = pytest.mark.e2e

TARGET = "http://127.0.0.1:9/signed-in"
# The front end's verifier (RFC 7636): its challenge starts each flow, it goes with each exchange.
PKCE = Pkce.new()


class FakeServer:
    """The fake on its own uvicorn, in a thread of this process (so a test can change it)."""

    def __init__(self, fake: GitHubFake) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(fake.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the GitHub fake did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def fake() -> Iterator[tuple[GitHubFake, FakeServer]]:
    github = GitHubFake()
    with FakeServer(github) as server:
        yield github, server


@pytest.fixture
def authkit_server(
    fake: tuple[GitHubFake, FakeServer],
    start_uvicorn: Callable[..., AppProcess],
    db_uri: str,
    jwt_secret: str,
) -> AppProcess:
    github, server = fake
    port = free_port()
    env = {
        "MONGO_URI": db_uri,
        "JWT_SECRET": jwt_secret,
        "AUTHKIT_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AUTHKIT_OAUTH_PROVIDERS": "github",
        "AUTHKIT_OAUTH_REDIRECT_TARGETS": TARGET,
        "AUTHKIT_OAUTH_TIMEOUT": "3",
        "AUTHKIT_OAUTH_GITHUB_KIND": "github",
        "AUTHKIT_OAUTH_GITHUB_CLIENT_ID": github.client_id,
        "AUTHKIT_OAUTH_GITHUB_CLIENT_SECRET": github.client_secret,
        "AUTHKIT_OAUTH_GITHUB_API_URL": server.url,
        "AUTHKIT_OAUTH_GITHUB_AUTHORIZE_URL": f"{server.url}/login/oauth/authorize",
        "AUTHKIT_OAUTH_GITHUB_TOKEN_URL": f"{server.url}/login/oauth/access_token",
    }
    return start_uvicorn(env, port=port)


def _start(browser: httpx.Client, pkce: Pkce = PKCE) -> str:
    answer = browser.get("/auth/oauth/github", params={"redirect_to": TARGET, **pkce.start_params})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _consent(authorize_url: str) -> str:
    answer = httpx.get(authorize_url, timeout=10)
    assert answer.status_code == 302
    return answer.headers["location"]


def _back(browser: httpx.Client, callback_url: str) -> tuple[str, dict[str, list[str]]]:
    answer = browser.get(callback_url)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    return f"{location.scheme}://{location.netloc}{location.path}", parse_qs(location.query)


@pytest.fixture
def browser(authkit_server: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=authkit_server.base_url, timeout=15) as client:
        yield client


def test_sign_in_with_github_end_to_end(
    browser: httpx.Client, fake: tuple[GitHubFake, FakeServer], mongo_db: Database[dict[str, Any]]
) -> None:
    authorize = _start(browser)
    assert authorize.startswith(fake[1].url + "/login/oauth/authorize?")
    callback = _consent(authorize)
    where, params = _back(browser, callback)
    assert where == TARGET and list(params) == ["code"]
    tokens = browser.post("/auth/oauth/exchange", json=PKCE.exchange_body(params["code"][0]))
    assert tokens.status_code == 201, tokens.text
    access = tokens.json()["accessToken"]
    me = browser.get("/auth/me", headers={"Authorization": f"Bearer {access}"}).json()
    assert me["username"].startswith("octocat_")
    identity = mongo_db["oauth_identities"].find_one({"subject": "4242"})
    assert identity is not None and identity["user_id"] == me["_id"]
    # The callback URL opened again signs in no one, and the code works once.
    assert browser.get(callback).status_code == 400
    again = browser.post("/auth/oauth/exchange", json=PKCE.exchange_body(params["code"][0]))
    assert again.status_code == 400
    refreshed = browser.post("/auth/refresh", json={"refreshToken": tokens.json()["refreshToken"]})
    assert refreshed.status_code == 200
    listed = browser.get("/auth/identities", headers={"Authorization": f"Bearer {access}"})
    assert [i["provider"] for i in listed.json()] == ["github"]
    assert (
        browser.delete(
            "/auth/identities/github", headers={"Authorization": f"Bearer {access}"}
        ).status_code
        == 409
    )


def test_a_code_read_from_the_url_signs_no_one_else_in(browser: httpx.Client) -> None:
    # Whoever reads ?code= first (history, a log, Referer, an extension) lacks the verifier,
    # which never left the app instance that started the flow.
    _, params = _back(browser, _consent(_start(browser)))
    with httpx.Client(base_url=browser.base_url, timeout=15) as thief:
        stolen = thief.post("/auth/oauth/exchange", json={"code": params["code"][0]})
        assert stolen.status_code == 400 and "code_verifier" in stolen.json()["message"]
        guessed = thief.post("/auth/oauth/exchange", json=Pkce.new().exchange_body("x" * 43))
        assert guessed.status_code == 400
    # One attempt used the code: the app starts the sign-in again rather than trust it.
    late = browser.post("/auth/oauth/exchange", json=PKCE.exchange_body(params["code"][0]))
    assert late.status_code == 400
    unbound = browser.get("/auth/oauth/github", params={"redirect_to": TARGET})
    assert unbound.status_code == 400 and "code_challenge" in unbound.json()["message"]


def test_two_tabs_and_a_foreign_browser(browser: httpx.Client, authkit_server: AppProcess) -> None:
    first, second = _start(browser), _start(browser)
    first_back, second_back = _consent(first), _consent(second)
    with httpx.Client(base_url=authkit_server.base_url, timeout=15) as stranger:
        _, params = _back(stranger, first_back)
        assert params["error"] == ["invalid_state"]
    for url in (second_back, first_back):
        _, params = _back(browser, url)
        assert "code" in params


def test_an_unreachable_provider_is_an_error_redirect(
    browser: httpx.Client, fake: tuple[GitHubFake, FakeServer]
) -> None:
    callback = _consent(_start(browser))
    fake[1].stop()
    _, params = _back(browser, callback)
    assert params["error"] == ["provider_unavailable"]


def test_garbage_from_the_provider_is_provider_error(
    browser: httpx.Client, fake: tuple[GitHubFake, FakeServer]
) -> None:
    callback = _consent(_start(browser))
    fake[0].mode = "garbage"
    _, params = _back(browser, callback)
    assert params["error"] == ["provider_error"]


def test_the_openapi_document_lists_social_sign_in(browser: httpx.Client) -> None:
    paths = browser.get("/openapi.json").json()["paths"]
    assert "/auth/oauth/{provider}/callback" in paths and "/auth/oauth/exchange" in paths


@pytest.mark.processes
def test_authkit_serve_reads_the_providers_from_env_file(
    tmp_path: Path, start_serve: Callable[..., AppProcess], db_uri: str, jwt_secret: str
) -> None:
    """`authkit serve` hands what it read from .env to its workers: the providers' own
    variables too, whose names follow AUTHKIT_OAUTH_PROVIDERS."""
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(
        "AUTHKIT_PUBLIC_URL=http://127.0.0.1:1\n"
        "AUTHKIT_OAUTH_PROVIDERS=github\n"
        f"AUTHKIT_OAUTH_REDIRECT_TARGETS={TARGET}\n"
        "AUTHKIT_OAUTH_GITHUB_KIND=github\n"
        "AUTHKIT_OAUTH_GITHUB_CLIENT_ID=from-env-file\n"
        "AUTHKIT_OAUTH_GITHUB_CLIENT_SECRET=env-file-secret\n"
    )
    server = start_serve(project, {"MONGO_URI": db_uri, "JWT_SECRET": jwt_secret})
    answer = httpx.get(
        server.base_url + "/auth/oauth/github",
        params={"redirect_to": TARGET, **PKCE.start_params},
        timeout=15,
    )
    assert answer.status_code == 302
    assert "client_id=from-env-file" in answer.headers["location"]
    assert "env-file-secret" not in server.stderr() + server.stdout()
