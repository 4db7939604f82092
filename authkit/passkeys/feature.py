"""The passkeys capability: its service built from settings (`build_passkeys`), and as a
Feature, its routes and the indexes of its two collections."""

from __future__ import annotations

import functools
from typing import Any

from pymongo.database import Database

from authkit.core.feature import Feature
from authkit.mfa.factors import SecondFactors
from authkit.passkeys.ceremony import RelyingParty
from authkit.passkeys.challenges import WebAuthnChallenges
from authkit.passkeys.routes import FreshProof, passkey_routes
from authkit.passkeys.service import PasskeyService
from authkit.passkeys.store import MongoPasskeyStore
from authkit.passwords.devices import DeviceTokens
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.routes import RefreshDelivery
from authkit.settings.model import Settings
from authkit.users.store import MongoUserStore

__all__ = ["build_passkeys", "passkeys_feature"]


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


def build_passkeys(
    settings: Settings,
    database: Database[dict[str, Any]],
    users: MongoUserStore,
    factors: SecondFactors | None,
) -> PasskeyService:
    """Passkeys on `database`; with second factors on, a passkey is one (MFAPolicy asks the
    store) and completes a password sign-in's challenge."""
    party = settings.passkeys
    store = MongoPasskeyStore(database["passkeys"])
    after_delete = None
    if factors is not None:
        factors.policy.register(store)
        after_delete = functools.partial(forget_codes_without_factor, factors)
    return PasskeyService(
        RelyingParty(party.rp_id, party.rp_name, party.expected_origins(settings.server.port)),
        WebAuthnChallenges(database["webauthn_challenges"]),
        store,
        users,
        second_factor=None if factors is None else factors.challenges,
        after_delete=after_delete,
        starts_per_address=party.starts_per_address,
    )


async def forget_codes_without_factor(factors: SecondFactors, user_id: str) -> None:
    """Recovery codes stand in for a factor; with the last one gone they go too, as turning
    TOTP off does."""
    if not await factors.policy.factors(user_id):
        await factors.totp.store.replace_codes(user_id, [])
