"""The provider fixture itself, driven by Authlib's own OAuth 2 client (no authkit): a plain
authorization-code flow with PKCE S256 and a nonce against oidc-provider, and the provider
behaviours authkit's tests rely on (PKCE required, the RFC 9207 `iss` parameter, one-time
codes, consent denied -> access_denied, a stopped provider refuses connections).

When one of these fails, the fixture is broken, not authkit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations import httpx_client as authlib_client
from joserfc import jwt
from joserfc.jwk import KeySet
from support.oidc_agent import UserAgent
from support.oidc_fixture import OidcProvider, ProviderClient

SCOPE = "openid email profile"
Authorize = Callable[..., tuple[Any, str, str]]


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.fixture
def authorize(oidc_provider: OidcProvider, rp_callback: str) -> Iterator[Authorize]:
    """`authorize(**extra)` -> (Authlib client, authorization URL, code_verifier) of a fresh
    flow of the `selftest` client; the clients are closed afterwards."""
    selftest = oidc_provider.clients[0]
    endpoint = oidc_provider.metadata()["authorization_endpoint"]
    made: list[Any] = []

    def start(pkce: bool = True, **extra: str) -> tuple[Any, str, str]:
        client = authlib_client.OAuth2Client(
            selftest.client_id,
            selftest.client_secret,
            scope=SCOPE,
            redirect_uri=rp_callback,
            code_challenge_method="S256" if pkce else None,
        )
        made.append(client)
        verifier = secrets.token_urlsafe(48)
        url, _state = client.create_authorization_url(
            endpoint, code_verifier=verifier if pkce else None, **extra
        )
        return client, url, verifier

    yield start
    for client in made:
        client.close()


def test_discovery_says_what_the_tests_rely_on(oidc_provider: OidcProvider) -> None:
    metadata = oidc_provider.metadata()
    assert metadata["issuer"] == oidc_provider.issuer
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    assert metadata["response_types_supported"] == ["code"]


def test_code_flow_with_pkce_and_nonce_through_authlib(
    oidc_provider: OidcProvider, rp_callback: str, authorize: Authorize
) -> None:
    nonce = secrets.token_urlsafe(16)
    client, url, verifier = authorize(nonce=nonce)
    with UserAgent() as browser:
        callback = browser.follow(url, stop_at=rp_callback, login="alice")
    answer = _query(callback)
    assert set(answer) == {"code", "state", "iss"}
    assert answer["iss"] == oidc_provider.issuer  # RFC 9207
    assert answer["state"] == _query(url)["state"]

    metadata = oidc_provider.metadata()
    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    keys = KeySet.import_key_set(httpx.get(metadata["jwks_uri"], timeout=5).json())
    id_token = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    assert id_token.header["alg"] == "RS256"
    claims = id_token.claims
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == "selftest"
    assert claims["nonce"] == nonce
    assert (claims["sub"], claims["email"], claims["email_verified"], claims["name"]) == (
        "alice",
        "alice@example.test",
        True,
        "Alice Example",
    )
    userinfo = client.get(metadata["userinfo_endpoint"]).json()
    assert userinfo["sub"] == "alice"


def test_each_account_signs_in_as_its_own_subject(
    oidc_provider: OidcProvider, rp_callback: str, authorize: Authorize
) -> None:
    subjects = {}
    for login in ("bob", "mallory"):
        client, url, verifier = authorize(nonce="n")
        with UserAgent() as browser:
            callback = browser.follow(url, stop_at=rp_callback, login=login)
        token = client.fetch_token(
            oidc_provider.metadata()["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
        )
        claims = jwt.decode(
            token["id_token"],
            KeySet.import_key_set(httpx.get(oidc_provider.metadata()["jwks_uri"]).json()),
        ).claims
        subjects[login] = (claims["sub"], claims["email"], claims["email_verified"])
    assert subjects == {
        "bob": ("bob", "bob@example.test", False),
        "mallory": ("mallory", "alice@example.test", True),  # alice's address, not alice
    }


def test_a_request_without_pkce_is_refused(rp_callback: str, authorize: Authorize) -> None:
    _, url, _ = authorize(pkce=False)
    assert "code_challenge" not in url
    with UserAgent() as browser:
        answer = _query(browser.follow(url, stop_at=rp_callback))
    assert answer["error"] == "invalid_request"
    assert "PKCE" in answer["error_description"]


def test_a_code_is_refused_with_the_wrong_verifier_and_when_used_twice(
    oidc_provider: OidcProvider, rp_callback: str, authorize: Authorize
) -> None:
    token_endpoint = oidc_provider.metadata()["token_endpoint"]
    selftest = oidc_provider.clients[0]

    def redeem(code: str, verifier: str) -> httpx.Response:
        return httpx.post(
            token_endpoint,
            auth=(selftest.client_id, selftest.client_secret),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": rp_callback,
                "code_verifier": verifier,
            },
        )

    _, url, verifier = authorize()
    with UserAgent() as browser:
        code = _query(browser.follow(url, stop_at=rp_callback))["code"]
    wrong = redeem(code, secrets.token_urlsafe(48))
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")

    _, url, verifier = authorize()
    with UserAgent() as browser:
        code = _query(browser.follow(url, stop_at=rp_callback))["code"]
    assert redeem(code, verifier).status_code == 200
    replayed = redeem(code, verifier)
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("where", ["login", "consent"])
def test_cancel_on_a_page_answers_access_denied(
    oidc_provider: OidcProvider, rp_callback: str, authorize: Authorize, where: str
) -> None:
    _, url, _ = authorize()
    with UserAgent() as browser:
        answer = _query(browser.follow(url, stop_at=rp_callback, deny_on=where))
        pages = [step.url for step in browser.journal if "/interaction/" in step.url]
    # Cancelled on the consent page means the login page was filled first.
    assert len(pages) == (1 if where == "login" else 3) + 1  # + the abort link itself
    assert answer["error"] == "access_denied"
    assert answer["iss"] == oidc_provider.issuer
    assert answer["state"]


def test_a_stopped_provider_refuses_connections_and_restarts_with_its_key(
    tmp_path: Path, rp_callback: str
) -> None:
    client = ProviderClient("outage", "outage-secret-0123456789", (rp_callback,))
    with OidcProvider(tmp_path, [client]) as provider:
        keys_before = httpx.get(provider.metadata()["jwks_uri"]).json()
        provider.stop()
        with pytest.raises(httpx.ConnectError):
            httpx.get(provider.discovery_url, timeout=2)
        provider.start()
        assert httpx.get(provider.metadata()["jwks_uri"]).json() == keys_before
