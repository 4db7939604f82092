"""The social sign-in settings: the providers, where a flow may return to, linking rules.

The fixed variables are a section like any other (`OAuthSettings`). Each provider named in
`AUTHKIT_OAUTH_PROVIDERS` brings its own `AUTHKIT_OAUTH_<NAME>_*` variables, which the loader
reads into one `ProviderConfig` each (`provider_variables` says which names they are).

Example:

    from authkit import load_settings

    settings = load_settings({
        "JWT_SECRET": "a-secret-of-at-least-thirty-two-bytes-0123",
        "AUTHKIT_OAUTH_PROVIDERS": "github",
        "AUTHKIT_OAUTH_GITHUB_KIND": "github",
        "AUTHKIT_OAUTH_GITHUB_CLIENT_ID": "Iv1.abc",
        "AUTHKIT_OAUTH_GITHUB_CLIENT_SECRET": "s3cret",
    })
    assert settings.oauth_clients[0].kind == "github"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated

import attrs

from authkit.core.values import Choice, Env, Range, Secret

__all__ = ["PROVIDER_NAME", "OAuthSettings", "ProviderConfig", "provider_variables"]

# A provider's name is part of a URL path and of variable names: keep it plain.
PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9]{0,31}$")

# Variable suffix -> ProviderConfig field.
_PROVIDER_FIELDS: Mapping[str, str] = {
    "CLIENT_ID": "client_id",
    "CLIENT_SECRET": "client_secret",
    "ISSUER": "issuer",
    "KIND": "kind",
    "SCOPES": "scopes",
    "API_URL": "api_url",
    "AUTHORIZE_URL": "authorize_url",
    "TOKEN_URL": "token_url",
}


def provider_variables(name: str) -> dict[str, str]:
    """The variables of provider `name` -> the ProviderConfig field each sets."""
    prefix = f"AUTHKIT_OAUTH_{name.upper()}_"
    return {prefix + suffix: field for suffix, field in _PROVIDER_FIELDS.items()}


@attrs.frozen
class ProviderConfig:
    """One provider as the environment describes it (`AUTHKIT_OAUTH_<NAME>_*`)."""

    name: str
    client_id: str
    client_secret: Secret | None = None
    # `oidc` (any OpenID provider, by its issuer), or a preset: `github`, `google`; plugins
    # add kinds (the `authkit.oauth_providers` entry points).
    kind: str = "oidc"
    issuer: str | None = None
    # Space- or comma-separated; empty: the kind's own default.
    scopes: str | None = None
    api_url: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None


@attrs.frozen
class OAuthSettings:
    """Social sign-in (docs/social-login.md); off until `AUTHKIT_OAUTH_PROVIDERS` names one."""

    providers: Annotated[
        tuple[str, ...],
        Env(
            "AUTHKIT_OAUTH_PROVIDERS",
            "comma-separated provider names (`github,google,corp`); each is configured by its "
            "`AUTHKIT_OAUTH_<NAME>_CLIENT_ID`, `_CLIENT_SECRET`, `_ISSUER`, `_KIND`, `_SCOPES`, "
            "`_API_URL`, `_AUTHORIZE_URL`, `_TOKEN_URL` (docs/social-login.md)",
            "(none: social sign-in off)",
        ),
    ] = ()
    redirect_targets: Annotated[
        tuple[str, ...],
        Env(
            "AUTHKIT_OAUTH_REDIRECT_TARGETS",
            "comma-separated front-end URLs a sign-in may return to (scheme, host, port and "
            "path must match exactly)",
            "(none)",
        ),
    ] = ()
    link_by_email: Annotated[
        str,
        Choice(("off", "verified")),
        Env(
            "AUTHKIT_OAUTH_LINK_BY_EMAIL",
            "`verified`: a first social sign-in joins the local account with the same email "
            "when the provider and authkit both have it verified; `off`: never by email",
        ),
    ] = "off"
    timeout: Annotated[
        int,
        Range(1, 60),
        Env("AUTHKIT_OAUTH_TIMEOUT", "seconds a request to a provider may take"),
    ] = 10
    metadata_max_age: Annotated[
        timedelta,
        Env(
            "AUTHKIT_OAUTH_METADATA_MAX_AGE",
            "how long a provider's discovery document and keys are used before they are "
            "fetched again",
        ),
    ] = timedelta(hours=1)
    starts_per_address: Annotated[
        int,
        Range(0, 1_000_000),
        Env(
            "AUTHKIT_OAUTH_STARTS_PER_ADDRESS",
            "social sign-in flows one client address may have started and not finished within "
            "`AUTHKIT_OAUTH_FLOW_TTL` (`0`: no limit)",
        ),
    ] = 200
    flow_ttl: Annotated[
        timedelta,
        Env(
            "AUTHKIT_OAUTH_FLOW_TTL",
            "how long a user may take at the provider between leaving and coming back",
        ),
    ] = timedelta(minutes=10)
    # Required by default: the exchange code travels in a URL whatever the refresh-token
    # mode (the exchange answers with the access token in every one), so an unbound code
    # is a bearer credential for whoever reads that URL first.
    exchange_pkce: Annotated[
        str,
        Choice(("required", "optional")),
        Env(
            "AUTHKIT_OAUTH_EXCHANGE_PKCE",
            "`required`: a social sign-in starts with `code_challenge` (S256) and "
            "`POST /auth/oauth/exchange` must carry its `code_verifier`; `optional`: a "
            "flow started without one exchanges its code alone (front ends not yet updated)",
        ),
    ] = "required"
