"""A generic OpenID provider (kind `oidc`) against a small in-process one: what of the
`id_token` is verified (signature, iss, aud, exp, nonce), RFC 9207's `iss` parameter, the
discovery document's issuer, key rotation (an unknown `kid` fetches the keys again) and
metadata that ages out.

The real, certified provider (oidc-provider on loopback) is branch h17-oidc's tests.
"""

from __future__ import annotations

import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import mongomock
import pytest
from support.oidc_fake import OIDCFake
from support.pkce import Pkce
from support.settings import make_settings

from authkit import create_app
from authkit.http.settings import ServerSettings
from authkit.settings.model import Secret
from authkit.social.providers import ProviderOptions
from authkit.social.settings import OAuthSettings, ProviderConfig

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

TARGET = "https://app.test/done"
ISSUER = "http://idp.fake"


class World:
    def __init__(self, fake: OIDCFake | None = None, metadata_max_age: float = 3600.0) -> None:
        self.fake = fake or OIDCFake(issuer=ISSUER)
        settings = make_settings(
            server=ServerSettings(public_url="http://testserver"),
            oauth=OAuthSettings(providers=("corp",), redirect_targets=(TARGET,)),
            oauth_clients=(
                ProviderConfig(
                    name="corp",
                    client_id=self.fake.client_id,
                    client_secret=Secret(self.fake.client_secret),
                    issuer=ISSUER,
                ),
            ),
        )
        options = ProviderOptions(
            timeout=5.0,
            metadata_max_age=metadata_max_age,
            transport=httpx2.ASGITransport(app=self.fake.app),
        )
        self.db = mongomock.MongoClient().db
        app = create_app(settings, database=self.db, oauth_options=options)
        self.browser = TestClient(app, follow_redirects=False)
        self.idp = TestClient(self.fake.app, base_url=ISSUER, follow_redirects=False)
        self.pkce = Pkce.new()

    def start(self) -> str:
        params = {"redirect_to": TARGET, **self.pkce.start_params}
        answer = self.browser.get("/auth/oauth/corp", params=params)
        assert answer.status_code == 302, answer.text
        return str(answer.headers["location"])

    def run(self) -> dict[str, list[str]]:
        authorize = urlsplit(self.start())
        back = self.idp.get(f"{authorize.path}?{authorize.query}")
        parts = urlsplit(back.headers["location"])
        answer = self.browser.get(f"{parts.path}?{parts.query}")
        assert answer.status_code == 302, answer.text
        location = urlsplit(answer.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == TARGET
        return parse_qs(location.query)

    def signed_in(self) -> dict[str, Any]:
        code = self.run()["code"][0]
        answer = self.browser.post("/auth/oauth/exchange", json=self.pkce.exchange_body(code))
        assert answer.status_code == 201
        token = answer.json()["accessToken"]
        body: dict[str, Any] = self.browser.get(
            "/auth/me", headers={"Authorization": f"Bearer {token}"}
        ).json()
        return body


def test_an_oidc_sign_in_asks_for_pkce_and_a_nonce_and_signs_in() -> None:
    world = World()
    asked = parse_qs(urlsplit(world.start()).query)
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["nonce"][0] and asked["state"][0] != asked["nonce"][0]
    assert asked["scope"] == ["openid email profile"]
    user = world.signed_in()
    assert user["username"].startswith("ada_")
    (identity,) = list(world.db["oauth_identities"].find())
    assert (identity["issuer"], identity["subject"]) == (ISSUER, "user-1")


@pytest.mark.parametrize("spoil", ["signature", "aud", "nonce", "no_nonce", "expired", "iss"])
def test_an_id_token_wrong_in_any_way_is_a_provider_error(spoil: str) -> None:
    world = World()
    world.fake.spoil = spoil
    assert world.run()["error"] == ["provider_error"]
    assert world.db["oauth_identities"].count_documents({}) == 0
    assert world.db["oauth_codes"].count_documents({}) == 0


def test_the_rfc_9207_iss_parameter_is_checked_when_sent() -> None:
    world = World()
    world.fake.iss_parameter = "send"
    assert "code" in world.run()
    world.fake.iss_parameter = "wrong"
    assert world.run()["error"] == ["provider_error"]


def test_a_missing_iss_parameter_is_refused_when_the_provider_promises_one() -> None:
    fake = OIDCFake(issuer=ISSUER, iss_parameter="send")
    world = World(fake)

    authorize = urlsplit(world.start())
    back = urlsplit(world.idp.get(f"{authorize.path}?{authorize.query}").headers["location"])
    query = {k: v for k, v in parse_qs(back.query).items() if k != "iss"}
    stripped = "&".join(f"{k}={v[0]}" for k, v in query.items())
    answer = world.browser.get(f"{back.path}?{stripped}")
    assert parse_qs(urlsplit(answer.headers["location"]).query)["error"] == ["provider_error"]


def test_a_discovery_document_naming_another_issuer_is_refused() -> None:
    world = World(OIDCFake(issuer=ISSUER, metadata_issuer="http://evil.fake"))
    params = {"redirect_to": TARGET, **world.pkce.start_params}
    answer = world.browser.get("/auth/oauth/corp", params=params)
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["location"]).query)["error"] == ["provider_error"]


def test_a_rotated_key_is_fetched_once_when_its_kid_is_unknown() -> None:
    world = World()
    world.signed_in()
    assert world.fake.hits["jwks"] == 1
    world.fake.rotate()
    world.signed_in()
    assert world.fake.hits["jwks"] == 2
    world.signed_in()
    assert world.fake.hits["jwks"] == 2  # known now: no fetch


def test_metadata_and_keys_are_fetched_again_once_they_age_out() -> None:
    world = World(metadata_max_age=0.0)
    world.signed_in()
    before = world.fake.hits["discovery"], world.fake.hits["jwks"]
    world.signed_in()
    assert world.fake.hits["discovery"] > before[0] and world.fake.hits["jwks"] > before[1]
    cached = World()
    cached.signed_in()
    cached.signed_in()
    assert cached.fake.hits["discovery"] == 1


def test_the_email_comes_from_userinfo_when_the_id_token_has_none() -> None:
    fake = OIDCFake(issuer=ISSUER, claims={}, userinfo_claims={"email": "u@example.com"})
    world = World(fake)
    world.signed_in()
    assert fake.hits["userinfo"] == 1
    (identity,) = list(world.db["oauth_identities"].find())
    assert identity["email"] == "u@example.com"
