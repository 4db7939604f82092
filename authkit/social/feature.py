"""The social sign-in capability as a Feature: its routes and its collections' indexes.

Built only when AUTHKIT_OAUTH_PROVIDERS names a provider: with none, authkit answers
exactly as before (no route, no collection).
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from authkit.core.errors import ConfigError
from authkit.core.feature import Feature
from authkit.passwords.routes import SignInGate
from authkit.passwords.throttle import SigninThrottle
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import RefreshDelivery
from authkit.settings.model import Settings
from authkit.social.flows import ExchangeCodes, FlowStore
from authkit.social.identities import IdentityStore
from authkit.social.providers import ProviderFactory, ProviderOptions, build_providers
from authkit.social.routes import social_routes
from authkit.social.service import SocialService, is_redirect_target
from authkit.users.store import MongoUserStore

__all__ = ["social_feature", "social_service"]


def social_service(
    settings: Settings,
    database: Database[dict[str, Any]],
    users: MongoUserStore,
    *,
    options: ProviderOptions | None = None,
    kinds: dict[str, ProviderFactory] | None = None,
) -> SocialService | None:
    """The service for the configured providers; None when none is configured."""
    oauth = settings.oauth
    if not settings.oauth_clients:
        return None
    public_url = settings.server.public_url
    if not public_url or not public_url.startswith(("https://", "http://")):
        raise ConfigError(
            "AUTHKIT_PUBLIC_URL is not set: social sign-in builds its callback URLs from it "
            "(https://auth.example.com/auth/oauth/<provider>/callback)"
        )
    if not oauth.redirect_targets:
        raise ConfigError(
            "AUTHKIT_OAUTH_REDIRECT_TARGETS is empty: a social sign-in must return to one of "
            "your front end's URLs"
        )
    for target in oauth.redirect_targets:
        if not is_redirect_target(target):
            raise ConfigError(
                f"AUTHKIT_OAUTH_REDIRECT_TARGETS: {target!r} is no http(s) URL with a host "
                "(and without a #fragment)"
            )
    options = options or ProviderOptions(
        timeout=float(oauth.timeout),
        metadata_max_age=oauth.metadata_max_age.total_seconds(),
    )
    # Failed callbacks count against the address as failed password sign-ins do; no
    # per-account limit, since no account is named before the provider answers.
    throttle = SigninThrottle(
        database["signin_failures"],
        per_account=None,
        per_address=settings.signin_limits.per_address,
    )
    return SocialService(
        providers=build_providers(settings.oauth_clients, options, kinds),
        flows=FlowStore(database["oauth_flows"]),
        codes=ExchangeCodes(database["oauth_codes"]),
        identities=IdentityStore(database["oauth_identities"]),
        users=users,
        throttle=throttle,
        public_url=public_url,
        redirect_targets=oauth.redirect_targets,
        link_by_email=oauth.link_by_email == "verified",
        flow_ttl=oauth.flow_ttl,
        starts_per_address=oauth.starts_per_address,
        exchange_pkce_required=oauth.exchange_pkce == "required",
    )


def social_feature(
    service: SocialService,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    *,
    max_body_bytes: int,
    gate: SignInGate | None = None,
) -> Feature:
    return Feature(
        "social",
        routes=social_routes(service, lifecycle, delivery, max_body_bytes, gate),
        indexes=[
            service.flows.ensure_indexes,
            service.codes.ensure_indexes,
            service.identities.ensure_indexes,
            service.throttle.ensure_indexes,
        ],
    )
