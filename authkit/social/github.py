"""The GitHub preset: OAuth 2 (GitHub is no OpenID provider), the user from `GET /user`, the
email from `GET /user/emails`.

An identity is GitHub's numeric user id, never the login (a login can be renamed and then
taken by someone else). Only the address GitHub marks primary AND verified counts as a
verified email; a public profile email is unverified text anyone can type.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from authkit.social.providers import (
    AuthlibProvider,
    Profile,
    ProviderFailure,
    guarded,
    scopes_of,
)

__all__ = ["GITHUB_ISSUER", "GitHubProvider"]

GITHUB_ISSUER = "https://github.com"
_API = "https://api.github.com"
_AUTHORIZE = "https://github.com/login/oauth/authorize"
_TOKEN = "https://github.com/login/oauth/access_token"  # noqa: S105 - a URL, not a secret
_DEFAULT_SCOPES = "read:user user:email"
_ACCEPT = {"Accept": "application/vnd.github+json"}


class GitHubProvider(AuthlibProvider):
    @property
    def issuer(self) -> str:
        # GitHub Enterprise (or a test's fake) is another issuer: its user 42 is not github.com's.
        api = (self.config.api_url or _API).rstrip("/")
        return GITHUB_ISSUER if api == _API else api

    def registration(self) -> dict[str, Any]:
        return {
            "authorize_url": self.config.authorize_url or _AUTHORIZE,
            "access_token_url": self.config.token_url or _TOKEN,
            "api_base_url": (self.config.api_url or _API).rstrip("/") + "/",
            "client_kwargs": {"scope": scopes_of(self.config, _DEFAULT_SCOPES)},
        }

    async def complete(
        self,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        nonce: str | None,
        iss: str | None,
    ) -> Profile:
        # GitHub publishes no issuer identifier to compare with (no OAuth metadata): an `iss`
        # it sends must at least be the host the browser was sent to (RFC 9207's mix-up case).
        authorize = self.config.authorize_url or _AUTHORIZE
        if iss is not None and _origin(iss) != _origin(authorize):
            raise ProviderFailure("provider_error", "iss parameter names another issuer")
        return await guarded(
            self._complete(code, redirect_uri, code_verifier), self.options.timeout * 2
        )

    async def _complete(self, code: str, redirect_uri: str, code_verifier: str) -> Profile:
        token = await self.fetch_token(code, redirect_uri, code_verifier)
        client = self.client()
        answer = await client.get("user", token=token, headers=_ACCEPT)
        answer.raise_for_status()
        user = answer.json()
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise ProviderFailure("provider_error", "GET /user has no numeric id")
        login = user.get("login")
        email, verified = await self._primary_email(client, token)
        return Profile(
            issuer=self.issuer,
            subject=str(user["id"]),
            email=email,
            email_verified=verified,
            name_hint=login if isinstance(login, str) else None,
        )

    async def _primary_email(self, client: Any, token: Any) -> tuple[str | None, bool]:
        answer = await client.get("user/emails", token=token, headers=_ACCEPT)
        if answer.status_code in (403, 404):
            return None, False  # the token lacks user:email: no address, not an error
        answer.raise_for_status()
        emails = answer.json()
        if not isinstance(emails, list):
            raise ProviderFailure("provider_error", "GET /user/emails is not a list")
        for entry in emails:
            if isinstance(entry, dict) and entry.get("primary") is True:
                address = entry.get("email")
                if isinstance(address, str) and address:
                    return address, entry.get("verified") is True
        return None, False


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()
