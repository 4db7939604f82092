"""A provider that is down or hangs: every step answers within a bounded time, with an error
the front end can show (`provider_unavailable`), and sign-in works again once it is back;
one that comes back with a new signing key is trusted with it (its JWKS fetched again).

The provider here is this module's own (stopped, frozen and restarted by the tests), with
its own authkit, so the shared one of the other modules stays up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.oidc_agent import UserAgent
from support.oidc_fixture import OidcProvider, ProviderClient
from support.processes import UVICORN_ARGS, Launcher, free_port
from support.social import SocialFlows, query, social_env

PROVIDER_TIMEOUT = 2  # AUTHKIT_OAUTH_TIMEOUT, seconds
# Any answer must come well within this: a hung provider costs authkit its timeout (a few
# requests' worth: discovery, keys, token), never the client's patience.
CLIENT_PATIENCE = 30.0


@pytest.fixture
def outage(
    tmp_path: Path, front_end: str, launch: Launcher, server_env: dict[str, str]
) -> Iterator[tuple[OidcProvider, SocialFlows]]:
    port = free_port()
    client = ProviderClient(
        "authkit-outage",
        "authkit-outage-secret-0123456789",
        (f"http://127.0.0.1:{port}/auth/oauth/corp/callback",),
    )
    with OidcProvider(tmp_path, [client]) as provider:
        env = {
            **server_env,
            **social_env(provider, client, f"http://127.0.0.1:{port}", front_end),
            "AUTHKIT_OAUTH_TIMEOUT": str(PROVIDER_TIMEOUT),
            "AUTHKIT_LOG_LEVEL": "warning",
        }
        server = launch(UVICORN_ARGS, env, port=port)
        yield provider, SocialFlows(server.base_url, "corp", front_end, provider.issuer)


def _unavailable(answer: httpx.Response) -> None:
    """A 502/503, or the browser sent back to the front end with provider_unavailable."""
    if answer.is_redirect:
        assert query(answer.headers["location"])["error"] == "provider_unavailable"
    else:
        assert answer.status_code in (502, 503), answer.text


def test_a_stopped_provider_is_provider_unavailable_at_the_callback(
    outage: tuple[OidcProvider, SocialFlows],
) -> None:
    provider, authkit = outage
    with UserAgent(timeout=CLIENT_PATIENCE) as browser:
        callback = authkit.to_callback(browser, authkit.authorization_url(browser), login="down")
        provider.stop()
        answer = browser.get(callback)
    assert answer.status_code == 302
    assert query(answer.headers["location"])["error"] == "provider_unavailable"


def test_a_hung_provider_is_provider_unavailable_at_the_callback(
    outage: tuple[OidcProvider, SocialFlows],
) -> None:
    provider, authkit = outage
    with UserAgent(timeout=CLIENT_PATIENCE) as browser:
        callback = authkit.to_callback(browser, authkit.authorization_url(browser), login="hung")
        provider.pause()
        try:
            answer = browser.get(callback)
        finally:
            provider.resume()
    assert answer.status_code == 302
    assert query(answer.headers["location"])["error"] == "provider_unavailable"


def test_starting_a_flow_while_the_provider_is_down_and_after_it_is_back(
    outage: tuple[OidcProvider, SocialFlows],
) -> None:
    provider, authkit = outage
    # No flow has fetched the discovery document yet, so authkit has to ask the provider
    # to start one, and must say it cannot, rather than hang or 500.
    provider.stop()
    with UserAgent(timeout=CLIENT_PATIENCE) as browser:
        _unavailable(browser.get(authkit.start_url))
    provider.start()
    provider.pause()
    try:
        with UserAgent(timeout=CLIENT_PATIENCE) as browser:
            _unavailable(browser.get(authkit.start_url))
    finally:
        provider.resume()
    with UserAgent(timeout=CLIENT_PATIENCE) as browser:
        landed = query(authkit.sign_in(browser, "back-again"))
    assert "code" in landed, landed
    assert authkit.exchange(landed["code"]).status_code == 201


def test_a_provider_back_with_a_new_signing_key_still_signs_in(
    outage: tuple[OidcProvider, SocialFlows],
) -> None:
    provider, authkit = outage
    with UserAgent(timeout=CLIENT_PATIENCE) as browser:
        before = query(authkit.sign_in(browser, "rotated"))  # authkit has the old key now
    old_kids = {key["kid"] for key in httpx.get(provider.metadata()["jwks_uri"]).json()["keys"]}
    provider.restart_with_a_new_key()
    new_kids = {key["kid"] for key in httpx.get(provider.metadata()["jwks_uri"]).json()["keys"]}
    assert old_kids.isdisjoint(new_kids)
    with UserAgent(timeout=CLIENT_PATIENCE) as browser:
        after = query(authkit.sign_in(browser, "rotated"))
    assert "code" in before and "code" in after, (before, after)
    users = {
        authkit.me(authkit.exchange(landed["code"]).json()["accessToken"])["_id"]
        for landed in (before, after)
    }
    assert len(users) == 1
