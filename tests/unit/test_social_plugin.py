"""A provider kind from a plugin: the example in docs/social-login.md ("Adding a provider"),
run as written, found through a (faked) `authkit.oauth_providers` entry point, signing in
against the GitHub-shaped fake (whose `GET /user` is the API the example asks)."""

from __future__ import annotations

import importlib.metadata
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import mongomock
import pytest
from support.github_fake import GitHubFake
from support.pkce import Pkce
from support.settings import make_settings

import authkit.social.providers
from authkit import create_app
from authkit.http.settings import ServerSettings
from authkit.social.providers import ProviderOptions
from authkit.social.settings import OAuthSettings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "social-login.md"
TARGET = "https://app.test/done"
FAKE = "http://acme.fake"


def _documented_provider() -> type:
    section = DOC.read_text("utf-8").split("## Adding a provider", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    provider: type = namespace["AcmeProvider"]
    return provider


def test_the_documented_plugin_provider_signs_in(monkeypatch: pytest.MonkeyPatch) -> None:
    acme = _documented_provider()
    real = importlib.metadata.entry_points

    class Point:
        name = "acme"

        def load(self) -> type:
            return acme

    def entry_points(*, group: str) -> Any:
        found = list(real(group=group))
        return [*found, Point()] if group == "authkit.oauth_providers" else found

    monkeypatch.setattr(authkit.social.providers, "entry_points", entry_points)
    fake = GitHubFake()
    settings = make_settings(
        server=ServerSettings(public_url="http://testserver"),
        oauth=OAuthSettings(providers=("acme",), redirect_targets=(TARGET,)),
        oauth_clients=(fake.client_config(FAKE, name="acme", kind="acme"),),
    )
    options = ProviderOptions(transport=httpx2.ASGITransport(app=fake.app))
    db = mongomock.MongoClient().db
    browser = TestClient(
        create_app(settings, database=db, oauth_options=options), follow_redirects=False
    )
    pkce = Pkce.new()
    authorize = urlsplit(
        browser.get(
            "/auth/oauth/acme", params={"redirect_to": TARGET, **pkce.start_params}
        ).headers["location"]
    )
    assert parse_qs(authorize.query)["code_challenge_method"] == ["S256"]
    back = TestClient(fake.app, base_url=FAKE, follow_redirects=False).get(
        f"{authorize.path}?{authorize.query}"
    )
    callback = urlsplit(back.headers["location"])
    done = browser.get(f"{callback.path}?{callback.query}")
    code = parse_qs(urlsplit(done.headers["location"]).query)["code"][0]
    assert browser.post("/auth/oauth/exchange", json=pkce.exchange_body(code)).status_code == 201
    (identity,) = list(db["oauth_identities"].find())
    assert (identity["issuer"], identity["subject"]) == ("https://acme.example", "4242")
