"""authkit's social sign-in as a front end and its user see it (docs/social-login.md):

- `social_env(provider, client, public_url, redirect_targets, name)`: the environment that
  configures authkit for one OpenID provider (AUTHKIT_OAUTH_*).
- `SocialFlows(base_url, name, redirect_to)`: the URLs of one configured provider and the
  steps of a sign-in through a `UserAgent` (support.oidc_agent): start it, walk the
  provider's pages, open authkit's callback, exchange the one-time code for tokens. Its
  flows start with the challenge of its own verifier (`pkce`, support.pkce), which its
  exchanges send, as a single-page app does.
- `query(url)`: a URL's query parameters as a dict (the last of each name).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import httpx

from support.oidc_agent import UserAgent
from support.oidc_fixture import OidcProvider, ProviderClient
from support.pkce import Pkce

__all__ = ["SocialFlows", "query", "replace_query", "social_env"]


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def replace_query(url: str, **changes: str | None) -> str:
    """`url` with some query parameters changed (None removes one): a tampered redirect."""
    params = [(k, v) for k, v in parse_qsl(urlsplit(url).query) if k not in changes]
    params += [(k, v) for k, v in changes.items() if v is not None]
    return urlunsplit(urlsplit(url)._replace(query=urlencode(params)))


def social_env(
    provider: OidcProvider,
    client: ProviderClient,
    public_url: str,
    redirect_targets: str,
    name: str = "corp",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    prefix = f"AUTHKIT_OAUTH_{name.upper()}_"
    return {
        "AUTHKIT_PUBLIC_URL": public_url,
        "AUTHKIT_OAUTH_PROVIDERS": name,
        prefix + "CLIENT_ID": client.client_id,
        prefix + "CLIENT_SECRET": client.client_secret,
        prefix + "ISSUER": provider.issuer,
        "AUTHKIT_OAUTH_REDIRECT_TARGETS": redirect_targets,
        **dict(extra or {}),
    }


@attrs.frozen
class SocialFlows:
    base_url: str  # authkit's
    name: str  # the provider's name in AUTHKIT_OAUTH_PROVIDERS
    redirect_to: str  # the front end's page, one of AUTHKIT_OAUTH_REDIRECT_TARGETS
    issuer: str
    # The front end's RFC 7636 pair: the challenge starts each flow, the verifier exchanges.
    pkce: Pkce = attrs.field(factory=Pkce.new)

    @property
    def start_url(self) -> str:
        return f"{self.base_url}/auth/oauth/{self.name}?" + urlencode(
            {"redirect_to": self.redirect_to, **self.pkce.start_params}
        )

    @property
    def callback(self) -> str:
        return f"{self.base_url}/auth/oauth/{self.name}/callback"

    def authorization_url(self, browser: UserAgent) -> str:
        """Start a flow: the provider URL authkit sends the browser to (not yet opened)."""
        return browser.follow(self.start_url, stop_at=self.issuer)

    def to_callback(self, browser: UserAgent, authorization_url: str, **kwargs: Any) -> str:
        """Walk the provider's pages: the callback URL it sends the browser to (not opened)."""
        return browser.follow(authorization_url, stop_at=self.callback, **kwargs)

    def to_front_end(self, browser: UserAgent, url: str, **kwargs: Any) -> str:
        """From `url` to the front end's page, where authkit ends every flow (not opened)."""
        return browser.follow(url, stop_at=self.redirect_to, **kwargs)

    def sign_in(self, browser: UserAgent, login: str, **kwargs: Any) -> str:
        """A whole sign-in as `login`: the front-end URL it ends at (with ?code= or ?error=)."""
        return self.to_front_end(browser, self.start_url, login=login, **kwargs)

    def exchange(self, code: str, verifier: str | None = None) -> httpx.Response:
        """POST /auth/oauth/exchange with `verifier` (by default this front end's own)."""
        body = {"code": code, "code_verifier": verifier or self.pkce.verifier}
        return httpx.post(f"{self.base_url}/auth/oauth/exchange", json=body, timeout=15)

    def tokens_for(self, browser: UserAgent, login: str) -> dict[str, Any]:
        """Sign in as `login` and exchange the code: the body /auth/signin would answer."""
        landed = query(self.sign_in(browser, login))
        assert "code" in landed, landed
        answer = self.exchange(landed["code"])
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def local_user(self, password: str = "Linking-Passw0rd!") -> tuple[str, str]:  # noqa: S107
        """A new password user, signed in: (username, access token)."""
        username = f"local{secrets.token_hex(4)}"
        credentials = {"username": username, "password": password}
        signed_up = httpx.post(f"{self.base_url}/auth/signup", json=credentials, timeout=15)
        assert signed_up.status_code == 201, signed_up.text
        signed_in = httpx.post(f"{self.base_url}/auth/signin", json=credentials, timeout=15)
        assert signed_in.status_code == 201, signed_in.text
        return username, signed_in.json()["accessToken"]

    def start_link(self, browser: UserAgent, access_token: str) -> str:
        """POST /auth/oauth/{name}/link from `browser`: the authorization URL to go to."""
        started = browser.request(
            "POST",
            f"{self.base_url}/auth/oauth/{self.name}/link",
            json={"redirect_to": self.redirect_to},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        assert started.status_code == 200, started.text
        url: str = started.json()["authorization_url"]
        return url

    def link(self, browser: UserAgent, access_token: str, login: str) -> dict[str, str]:
        """A whole link flow in one browser: the front end's query (`linked=` or `error=`)."""
        authorize = self.start_link(browser, access_token)
        return query(self.to_front_end(browser, authorize, login=login))

    def identities(self, access_token: str) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.base_url}/auth/identities",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=15,
        )
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()
        return found

    def me(self, access_token: str) -> dict[str, Any]:
        answer = httpx.get(
            f"{self.base_url}/auth/me",
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=15,
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body
