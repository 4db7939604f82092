"""Any OpenID Connect provider, found by its issuer (`<issuer>/.well-known/openid-configuration`),
and the Google preset.

The discovery document must name the configured issuer (OpenID Connect Discovery 4.3: else
a document served elsewhere could speak for it). The `id_token` is verified by Authlib's
`parse_id_token`: its signature against the provider's keys (fetched again once when a `kid`
is unknown), `iss` against the issuer, `aud` against the client id, `exp`, `iat` and the
flow's `nonce`. An authorization response's `iss` parameter (RFC 9207) must be the issuer
when present, and present when the provider says it sends one.
"""

from __future__ import annotations

from typing import Any

import attrs

from authkit.core.errors import ConfigError
from authkit.social.providers import (
    AuthlibProvider,
    Profile,
    ProviderFailure,
    ProviderOptions,
    guarded,
    scopes_of,
)
from authkit.social.settings import ProviderConfig

__all__ = ["GOOGLE_ISSUER", "GoogleProvider", "OIDCProvider"]

GOOGLE_ISSUER = "https://accounts.google.com"
_DEFAULT_SCOPES = "openid email profile"
_LEEWAY_SECONDS = 60


class OIDCProvider(AuthlibProvider):
    uses_nonce = True

    def __init__(self, config: ProviderConfig, options: ProviderOptions) -> None:
        super().__init__(config, options)
        if not config.issuer:
            raise ConfigError(
                f"AUTHKIT_OAUTH_{config.name.upper()}_ISSUER is not set: an OpenID provider is "
                "found by its issuer URL"
            )
        self.issuer = (config.issuer or "").rstrip("/")

    def registration(self) -> dict[str, Any]:
        registration: dict[str, Any] = {
            "server_metadata_url": self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            "client_kwargs": {"scope": scopes_of(self.config, _DEFAULT_SCOPES)},
        }
        if self.config.authorize_url:
            registration["authorize_url"] = self.config.authorize_url
        if self.config.token_url:
            registration["access_token_url"] = self.config.token_url
        return registration

    async def metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = await self.client().load_server_metadata()
        if (
            not isinstance(metadata.get("issuer"), str)
            or metadata["issuer"].rstrip("/") != self.issuer
        ):
            raise ProviderFailure("provider_error", "discovery document names another issuer")
        return metadata

    async def authorization_url(
        self, *, redirect_uri: str, state: str, code_verifier: str, nonce: str | None
    ) -> str:
        await guarded(self.metadata(), self.options.timeout)
        return await super().authorization_url(
            redirect_uri=redirect_uri, state=state, code_verifier=code_verifier, nonce=nonce
        )

    async def complete(
        self,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        nonce: str | None,
        iss: str | None,
    ) -> Profile:
        return await guarded(
            self._complete(code, redirect_uri, code_verifier, nonce, iss),
            # Discovery, token, keys (twice at most) and userinfo, each bounded by httpx2's
            # own timeout; the whole at most this long.
            self.options.timeout * 2,
        )

    async def _complete(
        self, code: str, redirect_uri: str, code_verifier: str, nonce: str | None, iss: str | None
    ) -> Profile:
        metadata = await self.metadata()
        issuer = metadata["issuer"]
        if iss is not None and iss != issuer:
            raise ProviderFailure("provider_error", "iss parameter names another issuer")
        if iss is None and metadata.get("authorization_response_iss_parameter_supported"):
            raise ProviderFailure("provider_error", "iss parameter missing")
        if not nonce:
            raise ProviderFailure("provider_error", "flow has no nonce")
        token = await self.fetch_token(code, redirect_uri, code_verifier)
        if not isinstance(token.get("id_token"), str):
            raise ProviderFailure("provider_error", "no id_token in the token response")
        claims_options = {
            "iss": {"essential": True, "values": [issuer]},
            "sub": {"essential": True},
            "aud": {"essential": True, "values": [self.config.client_id]},
            "exp": {"essential": True},
            "nonce": {"essential": True, "values": [nonce]},
        }
        claims = await self.client().parse_id_token(
            token, nonce=nonce, claims_options=claims_options, leeway=_LEEWAY_SECONDS
        )
        subject = claims.get("sub") if claims else None
        if not isinstance(subject, str) or not subject:
            raise ProviderFailure("provider_error", "id_token has no subject")
        found = dict(claims)
        if "email" not in found and metadata.get("userinfo_endpoint"):
            info = await self.client().userinfo(token=token)
            # OpenID Connect Core 5.3.2: a userinfo answer for another subject is discarded.
            if info.get("sub") == subject:
                found.update({k: info[k] for k in ("email", "email_verified") if k in info})
        email = found.get("email")
        return Profile(
            issuer=issuer,
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            email_verified=found.get("email_verified") is True,
            name_hint=_text(found.get("preferred_username")) or _text(found.get("name")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class GoogleProvider(OIDCProvider):
    def __init__(self, config: ProviderConfig, options: ProviderOptions) -> None:
        super().__init__(attrs.evolve(config, issuer=config.issuer or GOOGLE_ISSUER), options)
