"""The second-factor capability as a Feature: the factor and sign-in routes, and the
indexes of its challenges and its attempt counts."""

from __future__ import annotations

from authkit.core.feature import Feature
from authkit.mfa.factors import SecondFactors
from authkit.mfa.routes import factor_routes
from authkit.mfa.signin_routes import sign_in_routes
from authkit.passwords.service import AuthService
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import RefreshDelivery

__all__ = ["mfa_feature"]


def mfa_feature(
    factors: SecondFactors,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    service: AuthService,
    *,
    max_body_bytes: int,
) -> Feature:
    routes = [
        *factor_routes(factors, max_body_bytes=max_body_bytes),
        *sign_in_routes(factors, lifecycle, delivery, service, max_body_bytes=max_body_bytes),
    ]
    return Feature(
        "mfa",
        routes=routes,
        indexes=[factors.challenges.ensure_indexes, factors.attempts.throttle.ensure_indexes],
    )
