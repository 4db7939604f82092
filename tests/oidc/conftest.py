"""Fixtures for the tests against a real OpenID provider (oidc-provider on loopback).

- `rp_callback` (session): the redirect URI of a relying party that is never served: the
  scripted user agent stops there, so a test holds the provider's answer (code, state, iss).
- `authkit_port` (session): the port authkit will listen on, chosen before the provider
  starts, because the provider must know authkit's callback URL when it registers the client.
- `oidc_provider` (session): the provider with two clients (`selftest` for the Authlib
  self-test, `authkit` for authkit's callback) and support.oidc_fixture.DEFAULT_ACCOUNTS.

A test that stops the provider starts its own (support.oidc_fixture.OidcProvider), so the
shared one stays up for the others.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.oidc_fixture import OidcProvider, ProviderClient
from support.processes import free_port

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
