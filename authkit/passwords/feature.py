"""The passwords capability as a Feature: signup, signin and /auth/me, the sign-in
throttle's and the sign-up limit's indexes, and the bcrypt worker pool closed at shutdown."""

from __future__ import annotations

from authkit.core.feature import Feature
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.routes import SignInGate, SignupMail, auth_routes
from authkit.passwords.service import AuthService
from authkit.passwords.signup_limit import SignupLimit
from authkit.passwords.throttle import SigninThrottle
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import RefreshDelivery

__all__ = ["passwords_feature"]


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
