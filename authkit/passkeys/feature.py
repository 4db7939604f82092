"""The passkeys capability as a Feature: its routes and the indexes of its two collections."""

from __future__ import annotations

from authkit.core.feature import Feature
from authkit.passkeys.routes import FreshProof, passkey_routes
from authkit.passkeys.service import PasskeyService
from authkit.passwords.devices import DeviceTokens
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import RefreshDelivery

__all__ = ["passkeys_feature"]


def passkeys_feature(
    service: PasskeyService,
    lifecycle: TokenLifecycle,
    delivery: RefreshDelivery,
    *,
    max_body_bytes: int,
    fresh_proof: FreshProof | None = None,
    devices: DeviceTokens | None = None,
) -> Feature:
    return Feature(
        "passkeys",
        routes=passkey_routes(service, lifecycle, delivery, max_body_bytes, fresh_proof, devices),
        indexes=[service.passkeys.ensure_indexes, service.challenges.ensure_indexes],
    )
