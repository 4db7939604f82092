"""Providers: what authkit asks of one (an authorization URL, then who the user is), and the
built-in kinds, each a thin layer over Authlib's Starlette client.

A provider never sees the browser: authkit keeps the flow's state, PKCE verifier and nonce
itself (authkit.social.flows), because Authlib's client keeps one pending state per provider
in the session, so a second tab would break the first. Authlib builds the authorization URL
from the values it is given, exchanges the code, and verifies the `id_token` (signature
against the provider's JWKS, fetched again once for an unknown `kid`; `iss`, `aud`, `exp`,
`nonce`).

Kinds: `oidc` (any OpenID provider, by its issuer), `google` (`oidc` at Google's issuer) and
`github` (OAuth 2 with its REST API); plugins add more through the `authkit.oauth_providers`
entry points, each a factory `(ProviderConfig, ProviderOptions) -> Provider`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, Protocol, TypeVar

import attrs
import httpx2
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from joserfc.errors import JoseError

from authkit.core.errors import ConfigError
from authkit.social.settings import ProviderConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "AuthlibProvider",
    "Profile",
    "Provider",
    "ProviderFactory",
    "ProviderFailure",
    "ProviderOptions",
    "build_providers",
    "guarded",
    "scopes_of",
]

ENTRY_POINT_GROUP = "authkit.oauth_providers"
T = TypeVar("T")


@attrs.frozen
class Profile:
    """Who the provider says signed in. `issuer` and `subject` together name the identity."""

    issuer: str
    subject: str
    email: str | None = None
    # True only when the provider vouches for `email` (OIDC `email_verified`, GitHub's
    # primary verified address).
    email_verified: bool = False
    # A name to build a username from (`login`, `preferred_username`); a hint only.
    name_hint: str | None = None


class ProviderFailure(Exception):
    """The provider could not say who signed in. `code` is what the front end is told:
    `provider_unavailable` (unreachable, timed out, 5xx) or `provider_error` (anything else:
    a refused code, garbage, a token that does not verify)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@attrs.frozen
class ProviderOptions:
    timeout: float = 10.0
    metadata_max_age: float = 3600.0
    # Tests hand providers an in-process transport; None: the network.
    transport: httpx2.AsyncBaseTransport | None = None


class Provider(Protocol):
    name: str
    # Whether the flow carries an OIDC nonce (bound into the id_token).
    uses_nonce: bool

    async def authorization_url(
        self, *, redirect_uri: str, state: str, code_verifier: str, nonce: str | None
    ) -> str: ...

    async def complete(
        self,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        nonce: str | None,
        iss: str | None,
    ) -> Profile: ...


ProviderFactory = Callable[[ProviderConfig, ProviderOptions], Provider]


async def guarded(work: Awaitable[T], timeout: float) -> T:
    """`work`, with every way a provider can fail turned into a ProviderFailure, and the
    whole of it bounded by `timeout` (a provider trickling bytes cannot hold a request)."""
    try:
        return await asyncio.wait_for(work, timeout)
    except ProviderFailure:
        raise
    except (asyncio.TimeoutError, httpx2.TransportError) as exc:
        raise ProviderFailure("provider_unavailable", type(exc).__name__) from None
    except httpx2.HTTPStatusError as exc:
        status = exc.response.status_code
        code = "provider_unavailable" if status >= 500 else "provider_error"
        raise ProviderFailure(code, f"HTTP {status} from the provider") from None
    except OAuthError as exc:
        raise ProviderFailure("provider_error", f"OAuth error {exc.error!s:.64}") from None
    except JoseError as exc:
        raise ProviderFailure("provider_error", f"id_token refused: {exc.error}") from None
    except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:
        # Authlib and httpx2 meet a body that is not what the protocol says.
        raise ProviderFailure(
            "provider_error", f"malformed answer ({type(exc).__name__})"
        ) from None


class AuthlibProvider:
    """What every kind shares: an Authlib client registered from the config, rebuilt when its
    cached discovery document and keys are older than `metadata_max_age`."""

    uses_nonce = False

    def __init__(self, config: ProviderConfig, options: ProviderOptions) -> None:
        self.name = config.name
        self.config = config
        self.options = options
        self._client: StarletteOAuth2App | None = None
        self._built_at = 0.0

    def registration(self) -> dict[str, Any]:
        """The keyword arguments of `OAuth.register` for this kind."""
        raise NotImplementedError

    def client(self) -> StarletteOAuth2App:
        now = time.monotonic()
        if self._client is None or now - self._built_at > self.options.metadata_max_age:
            # A fresh client fetches discovery and keys again on first use: metadata ages out.
            client_kwargs: dict[str, Any] = {
                "code_challenge_method": "S256",
                "timeout": self.options.timeout,
            }
            if self.options.transport is not None:
                client_kwargs["transport"] = self.options.transport
            registration = self.registration()
            client_kwargs.update(registration.pop("client_kwargs", {}))
            oauth = OAuth()
            secret = self.config.client_secret
            oauth.register(
                self.name,
                client_id=self.config.client_id,
                client_secret=None if secret is None else secret.value,
                client_kwargs=client_kwargs,
                **registration,
            )
            client = oauth.create_client(self.name)
            if not isinstance(client, StarletteOAuth2App):
                raise ConfigError(f"provider {self.name!r}: Authlib made no OAuth 2 client")
            self._client, self._built_at = client, now
        return self._client

    async def authorization_url(
        self, *, redirect_uri: str, state: str, code_verifier: str, nonce: str | None
    ) -> str:
        extra: dict[str, str] = {} if nonce is None else {"nonce": nonce}
        made = await guarded(
            self.client().create_authorization_url(
                redirect_uri, state=state, code_verifier=code_verifier, **extra
            ),
            self.options.timeout,
        )
        url = made["url"]
        if not isinstance(url, str):
            raise ProviderFailure("provider_error", "no authorization endpoint")
        return url

    async def fetch_token(self, code: str, redirect_uri: str, code_verifier: str) -> Any:
        token = await self.client().fetch_access_token(
            redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
        )
        if not isinstance(token, Mapping) or not isinstance(token.get("access_token"), str):
            raise ProviderFailure("provider_error", "no access token in the token response")
        return token


def scopes_of(config: ProviderConfig, default: str) -> str:
    return " ".join((config.scopes or default).replace(",", " ").split())


def _entry_point_kinds() -> dict[str, ProviderFactory]:
    found: dict[str, ProviderFactory] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    return found


def build_providers(
    configs: tuple[ProviderConfig, ...],
    options: ProviderOptions,
    kinds: Mapping[str, ProviderFactory] | None = None,
) -> dict[str, Provider]:
    """One provider per config, by its kind: this project's and plugins' entry points, or
    `kinds` (tests). An unknown kind stops the start (ConfigError)."""
    known = _entry_point_kinds() if kinds is None else dict(kinds)
    providers: dict[str, Provider] = {}
    for config in configs:
        factory = known.get(config.kind)
        if factory is None:
            raise ConfigError(
                f"AUTHKIT_OAUTH_{config.name.upper()}_KIND: no provider kind {config.kind!r} "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
        providers[config.name] = factory(config, options)
    return providers
