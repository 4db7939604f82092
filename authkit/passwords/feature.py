"""The passwords capability as a Feature: signup, signin and /auth/me, the sign-in
throttle's and the sign-up limit's indexes, and the bcrypt worker pool closed at shutdown;
and the device tokens (trusted devices) that sign-in hands out, from settings."""

from __future__ import annotations

import logging

from authkit.core.feature import Feature
from authkit.passwords.devices import DeviceTokens, derive_device_key
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.routes import SignInGate, SignupMail, auth_routes
from authkit.passwords.service import AuthService
from authkit.passwords.signup_limit import SignupLimit
from authkit.passwords.throttle import SigninThrottle
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import RefreshDelivery
from authkit.settings.model import Settings

__all__ = ["device_tokens", "passwords_feature"]

logger = logging.getLogger("authkit")


def passwords_feature(
    service: AuthService,
    hasher: PasswordHasher,
    throttle: SigninThrottle,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    signup_limit: SignupLimit | None = None,
    *,
    max_body_bytes: int,
    gate: SignInGate | None = None,
    signup_mail: SignupMail | None = None,
    signup_open: bool = True,
) -> Feature:
    return Feature(
        "passwords",
        routes=auth_routes(
            service,
            max_body_bytes,
            lifecycle,
            delivery,
            gate,
            signup_mail=signup_mail,
            signup_open=signup_open,
        ),
        indexes=[throttle.ensure_indexes]
        + ([] if signup_limit is None else [signup_limit.ensure_indexes]),
        on_shutdown=[hasher.pool.close],
    )


def device_tokens(settings: Settings) -> DeviceTokens | None:
    """Device tokens under AUTHKIT_DEVICE_KEY, else a key derived from JWT_SECRET; None when
    no device is to be trusted (AUTHKIT_SIGNIN_LIMIT_DEVICE=off) or there is no key."""
    limits = settings.signin_limits
    if limits.per_device is None:
        return None
    secret = limits.device_key or settings.jwt.secret
    if secret is None:
        logger.warning(
            "no device tokens: AUTHKIT_DEVICE_KEY is not set and there is no JWT_SECRET to "
            "derive one from; a stranger's failed sign-ins can lock every client out"
        )
        return None
    ttl = int(limits.device_ttl.total_seconds())
    return DeviceTokens(derive_device_key(secret.value), ttl_seconds=ttl)
