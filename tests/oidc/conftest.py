"""Fixtures for the tests against a real OpenID provider (oidc-provider on loopback).

- `rp_callback` (session): the redirect URI of a relying party that is never served: the
  scripted user agent stops there, so a test holds the provider's answer (code, state, iss).
- `authkit_port` (session): the port authkit will listen on, chosen before the provider
  starts, because the provider must know authkit's callback URL when it registers the client.
- `oidc_provider` (session): the provider with two clients (`selftest` for the Authlib
  self-test, `authkit-corp` for authkit's callback) and support.oidc_fixture.DEFAULT_ACCOUNTS.
- `front_end` (session): the front end's page authkit returns the browser to (never served:
  the user agent stops there and the test reads the URL).
- `authkit` (function): `uvicorn authkit.asgi:app` on `authkit_port` and this test's own
  database, with the provider configured as `corp`: a support.social.SocialFlows.

A test that stops the provider starts its own (support.oidc_fixture.OidcProvider), so the
shared one stays up for the others.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.oidc_fixture import OidcProvider, ProviderClient
from support.processes import UVICORN_ARGS, Launcher, free_port
from support.social import SocialFlows, social_env

SELFTEST_CLIENT_ID = "selftest"
AUTHKIT_CLIENT_ID = "authkit-corp"


@pytest.fixture(scope="session")
def rp_callback() -> str:
    return f"http://127.0.0.1:{free_port()}/callback"


@pytest.fixture(scope="session")
def authkit_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def oidc_provider(
    tmp_path_factory: pytest.TempPathFactory, rp_callback: str, authkit_port: int
) -> Iterator[OidcProvider]:
    clients = [
        ProviderClient(SELFTEST_CLIENT_ID, "selftest-secret-0123456789", (rp_callback,)),
        ProviderClient(
            AUTHKIT_CLIENT_ID,
            "authkit-corp-secret-0123456789",
            (f"http://127.0.0.1:{authkit_port}/auth/oauth/corp/callback",),
        ),
    ]
    with OidcProvider(tmp_path_factory.mktemp("oidc-provider"), clients) as provider:
        yield provider


@pytest.fixture(scope="session")
def front_end() -> str:
    return f"http://127.0.0.1:{free_port()}/app/signed-in"


@pytest.fixture
def authkit(
    oidc_provider: OidcProvider,
    authkit_port: int,
    front_end: str,
    launch: Launcher,
    server_env: dict[str, str],
) -> SocialFlows:
    public_url = f"http://127.0.0.1:{authkit_port}"
    env = {
        **server_env,
        **social_env(oidc_provider, oidc_provider.clients[1], public_url, front_end),
        "AUTHKIT_LOG_LEVEL": "warning",
    }
    server = launch(UVICORN_ARGS, env, port=authkit_port)
    return SocialFlows(server.base_url, "corp", front_end, oidc_provider.issuer)
