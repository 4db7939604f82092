"""The relying party's side of WebAuthn's two ceremonies, over py_webauthn.

py_webauthn checks what the specification asks of an answer (its type, challenge, origin,
RP id hash, flags, attestation, signature); this module sets authkit's requirements on it
(a discoverable credential, user verification every time) and turns every way an answer
can be wrong, malformed included, into one `CeremonyFailed`.

The sign counter is left to the caller: py_webauthn compares it before it checks the
signature, so a forged answer with a low counter would read as a cloned authenticator.
`verify_assertion` checks the signature first and returns the counter the authenticator
reported; `counter_went_backwards` is the rule.

Example:

    party = RelyingParty("example.com", "Example", ["https://example.com"])
    options = party.registration_options(b"32 random bytes", "6650f1c2", "alice", existing=[])
    options["authenticatorSelection"]["residentKey"]           # "required"
    # then, with what navigator.credentials.create(options) gave the page:
    # new = party.verify_registration(credential_json, b"32 random bytes")
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from authkit.passkeys.challenges import CHALLENGE_TTL, base64url, from_base64url
from authkit.passkeys.store import NewPasskey

__all__ = ["Assertion", "CeremonyFailed", "RelyingParty", "counter_went_backwards"]

_TIMEOUT_MS = int(CHALLENGE_TTL.total_seconds() * 1000)


class CeremonyFailed(Exception):
    """The answer is not a valid one for this ceremony; the reason is for logs only."""


@attrs.frozen
class Assertion:
    """A sign-in answer, parsed but not yet verified: which credential, and whose."""

    credential: AuthenticationCredential = attrs.field(repr=False)
    credential_id: str
    user_handle: bytes | None


def counter_went_backwards(stored: int, reported: int) -> bool:
    """A counter that does not move forward, once either side is non-zero: the answer came
    from a copy of the authenticator (or a replay). Both zero: it keeps no counter."""
    return (stored > 0 or reported > 0) and reported <= stored


def user_handle_of(user_id: str) -> bytes:
    """The handle a passkey stores for its user: the user's id, which names no person."""
    return user_id.encode("utf-8")


def _descriptors(credential_ids: Sequence[str]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=from_base64url(c)) for c in credential_ids]


def _as_json(options: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


@attrs.frozen
class RelyingParty:
    rp_id: str
    rp_name: str
    origins: Sequence[str]

    def registration_options(
        self, challenge: bytes, user_id: str, username: str, existing: Sequence[str]
    ) -> dict[str, Any]:
        """PublicKeyCredentialCreationOptions as JSON: a discoverable credential with user
        verification, none of the user's passkeys registered twice."""
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_id=user_handle_of(user_id),
            user_name=username,
            challenge=challenge,
            timeout=_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                require_resident_key=True,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=_descriptors(existing),
        )
        return _as_json(options)

    def verify_registration(self, credential: dict[str, Any], challenge: bytes) -> NewPasskey:
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=list(self.origins),
                require_user_verification=True,
            )
        except Exception as exc:  # py_webauthn raises many kinds on malformed input
            raise CeremonyFailed(str(exc)) from None
        transports = credential.get("response", {}).get("transports")
        return NewPasskey(
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            backed_up=verified.credential_backed_up,
            transports=tuple(t for t in transports if isinstance(t, str))[:8]
            if isinstance(transports, list)
            else (),
        )

    def authentication_options(
        self, challenge: bytes, allowed: Sequence[str] = ()
    ) -> dict[str, Any]:
        """PublicKeyCredentialRequestOptions as JSON; no `allowed` lets the browser offer
        any passkey it holds for this site (a sign-in with no username)."""
        options = generate_authentication_options(
            rp_id=self.rp_id,
            challenge=challenge,
            timeout=_TIMEOUT_MS,
            allow_credentials=_descriptors(allowed),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return _as_json(options)

    def parse_assertion(self, credential: dict[str, Any]) -> Assertion:
        try:
            parsed = parse_authentication_credential_json(credential)
        except Exception as exc:  # malformed base64url, enums, shapes
            raise CeremonyFailed(str(exc)) from None
        handle = parsed.response.user_handle
        return Assertion(parsed, base64url(parsed.raw_id), bytes(handle) if handle else None)

    def verify_assertion(self, assertion: Assertion, challenge: bytes, public_key: bytes) -> int:
        """The sign counter the authenticator reports, once the answer is verified."""
        try:
            verified = verify_authentication_response(
                credential=assertion.credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=list(self.origins),
                credential_public_key=public_key,
                # 0 turns py_webauthn's own counter check off (see the module's docstring).
                credential_current_sign_count=0,
                require_user_verification=True,
            )
        except Exception as exc:
            raise CeremonyFailed(str(exc)) from None
        return int(verified.new_sign_count)
