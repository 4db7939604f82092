"""Passkey rules, between the routes and the stores: registering, signing in (alone or as
a second factor), and managing a user's passkeys.

Every refusal of a sign-in is the same 401 to the client (no hint whether the credential,
the challenge or the signature was wrong); the log says which. Sign-in options need no
account, so the challenges one client address may have stored at once are bounded
(`starts_per_address`, AUTHKIT_PASSKEY_STARTS_PER_ADDRESS): past it, 429.

Example:

    from authkit.passkeys.ceremony import RelyingParty
    from authkit.passkeys.challenges import WebAuthnChallenges
    from authkit.passkeys.store import MongoPasskeyStore

    party = RelyingParty("localhost", "authkit", ["http://localhost:3000"])
    challenges = WebAuthnChallenges(db["webauthn_challenges"])
    passkeys = PasskeyService(party, challenges, MongoPasskeyStore(db["passkeys"]), store)
    issued, options = await passkeys.signin_options()
    # then, with what navigator.credentials.get(options) gave the page:
    # user = await passkeys.sign_in(issued.id, credential_json)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Protocol

from authkit.core.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    TooManyRequests,
    ValidationFailed,
)
from authkit.passkeys.ceremony import (
    Assertion,
    CeremonyFailed,
    RelyingParty,
    counter_went_backwards,
    user_handle_of,
)
from authkit.passkeys.challenges import Issued, WebAuthnChallenges, from_base64url
from authkit.passkeys.store import MAX_PASSKEYS, MongoPasskeyStore, Passkey
from authkit.users.store import User

__all__ = ["PasskeyService", "SecondFactorChallenges", "UserLookup"]

security_log = logging.getLogger("authkit.security")
_REFUSED = "The passkey was not accepted"
_SIGN_IN_AGAIN = "The sign-in is unknown, used or expired: sign in again"


class SecondFactorChallenges(Protocol):
    """What a password sign-in that asks for a second factor hands out (authkit.mfa's
    MFAChallenges): a token naming the user, peeked at for options, consumed once."""

    async def peek(self, token: str) -> str | None: ...

    async def consume(self, token: str) -> str | None: ...


class UserLookup(Protocol):
    async def find_by_id(self, user_id: str) -> User | None: ...


def _log(message: str, event: str, user_id: str | None, **fields: Any) -> None:
    security_log.info(message, extra={"fields": {"event": event, "user_id": user_id, **fields}})


def _client_challenge(credential: dict[str, Any]) -> str:
    """The challenge the browser's client data names (unverified: only to find it by)."""
    try:
        raw = from_base64url(credential["response"]["clientDataJSON"])
        challenge = json.loads(raw)["challenge"]
    except (KeyError, TypeError, ValueError):
        raise ValidationFailed(["credential.response.clientDataJSON is malformed"]) from None
    if not isinstance(challenge, str) or not 1 <= len(challenge) <= 128:
        raise ValidationFailed(["credential.response.clientDataJSON is malformed"])
    return challenge


class PasskeyService:
    def __init__(
        self,
        party: RelyingParty,
        challenges: WebAuthnChallenges,
        passkeys: MongoPasskeyStore,
        users: UserLookup,
        second_factor: SecondFactorChallenges | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        after_delete: Callable[[str], Awaitable[None]] | None = None,
        starts_per_address: int = 0,
    ) -> None:
        self.party = party
        self.challenges = challenges
        self.passkeys = passkeys
        self.users = users
        self.second_factor = second_factor
        self._clock = clock
        # Told the user's id once a passkey is gone (authkit.mfa drops recovery codes that
        # no factor is left to stand in for).
        self._after_delete = after_delete
        # Sign-in challenges one client address may have stored at once; 0: no limit.
        self.starts_per_address = starts_per_address

    # Registration (signed in)

    async def registration_options(self, user_id: str, username: str) -> dict[str, Any]:
        existing = await self.passkeys.of_user(user_id)
        if len(existing) >= MAX_PASSKEYS:
            raise Conflict(f"At most {MAX_PASSKEYS} passkeys: delete one to add another")
        issued = await self.challenges.issue("register", user_id)
        credential_ids = [k.credential_id for k in existing]
        return self.party.registration_options(issued.challenge, user_id, username, credential_ids)

    async def register(self, user_id: str, credential: dict[str, Any], name: str) -> Passkey:
        challenge_id = _client_challenge(credential)
        issued = await self.challenges.consume(challenge_id, "register", user_id=user_id)
        if issued is None:
            raise AuthenticationFailed("The registration challenge is unknown, used or expired")
        try:
            new = self.party.verify_registration(credential, issued.challenge)
        except CeremonyFailed as exc:
            _log("passkey registration refused", "passkey_refused", user_id, reason=str(exc))
            raise ValidationFailed(["The passkey's registration was not accepted"]) from None
        key = await self.passkeys.add(user_id, new, name, self._clock())
        _log("passkey registered", "passkey_registered", user_id, passkey_id=key.id)
        return key

    # Sign-in

    async def signin_options(
        self, mfa_token: str | None = None, *, address: str | None = None
    ) -> tuple[Issued, dict[str, Any]]:
        """A challenge and its request options: for any passkey of this site, or, with the
        `mfa_token` of a password sign-in, for that user's passkeys only. TooManyRequests
        when `address` has as many challenges stored as it may."""
        await self._room_for(address)
        if mfa_token is None:
            issued = await self.challenges.issue("signin", address=address)
            return issued, self.party.authentication_options(issued.challenge)
        user_id = await self._second_factor().peek(mfa_token)
        if user_id is None:
            raise AuthenticationFailed(_SIGN_IN_AGAIN)
        keys = await self.passkeys.of_user(user_id)
        if not keys:
            raise AuthenticationFailed("No passkey is registered for this account")
        issued = await self.challenges.issue("mfa", user_id, mfa_token, address=address)
        allowed = [k.credential_id for k in keys]
        return issued, self.party.authentication_options(issued.challenge, allowed)

    async def _room_for(self, address: str | None) -> None:
        limit = self.starts_per_address
        if address is None or not limit or await self.challenges.live_from(address, limit) < limit:
            return
        _log("passkey sign-in refused", "passkey_refused", None, reason="too_many_challenges")
        # Counted, then stored: requests at once can pass the limit by a few, as social
        # sign-in's starts can. Room comes back as the stored challenges expire.
        wait = int(self.challenges.ttl.total_seconds())
        raise TooManyRequests(
            wait,
            f"Too many passkey sign-ins started from this address; try again in {wait} seconds",
        )

    async def sign_in(
        self, challenge_id: str, credential: dict[str, Any], mfa_token: str | None = None
    ) -> User:
        """The user a valid answer signs in; AuthenticationFailed for any other."""
        assertion = self._parse(credential)
        if mfa_token is None:
            issued = await self.challenges.consume(challenge_id, "signin")
        else:
            issued = await self.challenges.consume(challenge_id, "mfa", mfa_token=mfa_token)
        if issued is None:
            _log("passkey sign-in refused", "passkey_refused", None, reason="challenge")
            raise AuthenticationFailed(_REFUSED)
        key = await self._verified_key(assertion, issued)
        # Last: a wrong passkey leaves the password step usable for another factor.
        if mfa_token is not None and await self._second_factor().consume(mfa_token) != key.user_id:
            _log("passkey sign-in refused", "passkey_refused", key.user_id, reason="mfa")
            raise AuthenticationFailed(_SIGN_IN_AGAIN)
        user = await self.users.find_by_id(key.user_id)
        if user is None:
            _log("passkey sign-in refused", "passkey_refused", key.user_id, reason="no user")
            raise AuthenticationFailed(_REFUSED)
        _log("passkey sign-in", "passkey_signin", user.id, passkey_id=key.id)
        return user

    # Step-up (signed in): a fresh proof from one of the caller's own passkeys

    async def step_up_options(self, user_id: str) -> tuple[Issued, dict[str, Any]]:
        keys = await self.passkeys.of_user(user_id)
        if not keys:
            raise NotFound("No passkey is registered for this account")
        issued = await self.challenges.issue("step_up", user_id)
        allowed = [k.credential_id for k in keys]
        return issued, self.party.authentication_options(issued.challenge, allowed)

    async def step_up(self, user_id: str, challenge_id: str, credential: dict[str, Any]) -> None:
        """Returns when a passkey of `user_id` answered the challenge; AuthenticationFailed
        (the step-up refused, the access token still good) otherwise."""
        assertion = self._parse(credential)
        issued = await self.challenges.consume(challenge_id, "step_up", user_id=user_id)
        if issued is None:
            _log("passkey step-up refused", "passkey_refused", user_id, reason="challenge")
            raise AuthenticationFailed(_REFUSED)
        key = await self._verified_key(assertion, issued)
        _log("stepped up", "step_up", user_id, method="passkey", passkey_id=key.id)

    def _parse(self, credential: dict[str, Any]) -> Assertion:
        try:
            return self.party.parse_assertion(credential)
        except CeremonyFailed:
            raise ValidationFailed(["credential is not a WebAuthn assertion"]) from None

    async def _verified_key(self, assertion: Assertion, issued: Issued) -> Passkey:
        key = await self.passkeys.by_credential(assertion.credential_id)
        if key is None or (issued.user_id is not None and key.user_id != issued.user_id):
            _log("passkey sign-in refused", "passkey_refused", issued.user_id, reason="unknown")
            raise AuthenticationFailed(_REFUSED)
        if assertion.user_handle is not None and assertion.user_handle != user_handle_of(
            key.user_id
        ):
            _log("passkey sign-in refused", "passkey_refused", key.user_id, reason="user handle")
            raise AuthenticationFailed(_REFUSED)
        if assertion.user_handle is None and issued.purpose == "signin":
            # A discoverable credential always names its user; one that does not is not ours.
            _log("passkey sign-in refused", "passkey_refused", key.user_id, reason="no handle")
            raise AuthenticationFailed(_REFUSED)
        try:
            reported = self.party.verify_assertion(assertion, issued.challenge, key.public_key)
        except CeremonyFailed as exc:
            _log("passkey sign-in refused", "passkey_refused", key.user_id, reason=str(exc))
            raise AuthenticationFailed(_REFUSED) from None
        if counter_went_backwards(key.sign_count, reported):
            security_log.warning(
                "passkey sign counter went backwards: a cloned authenticator?",
                extra={
                    "fields": {
                        "event": "passkey_counter_regressed",
                        "user_id": key.user_id,
                        "passkey_id": key.id,
                        "stored": key.sign_count,
                        "reported": reported,
                    }
                },
            )
            raise AuthenticationFailed(_REFUSED)
        if not await self.passkeys.advance(key, reported, self._clock()):
            _log("passkey sign-in refused", "passkey_refused", key.user_id, reason="raced")
            raise AuthenticationFailed(_REFUSED)
        return key

    def _second_factor(self) -> SecondFactorChallenges:
        if self.second_factor is None:
            raise ValidationFailed(["mfa_token: second factors are not enabled on this service"])
        return self.second_factor

    # Management (signed in)

    async def rename(self, user_id: str, passkey_id: str, name: str) -> Passkey:
        key = await self.passkeys.rename(user_id, passkey_id, name)
        if key is None:
            raise NotFound("Passkey not found")
        return key

    async def delete(self, user_id: str, passkey_id: str) -> None:
        if not await self.passkeys.delete(user_id, passkey_id):
            raise NotFound("Passkey not found")
        _log("passkey deleted", "passkey_deleted", user_id, passkey_id=passkey_id)
        if self._after_delete is not None:
            await self._after_delete(user_id)
