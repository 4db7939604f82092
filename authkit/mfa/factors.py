"""SecondFactors: the objects of the second-factor capability, built once by
`build_second_factors`, and what the routes ask of a body that carries a proof.

Example:

    factors = build_second_factors(settings.mfa, settings.jwt.secret, db, clock=issuer.now)
    if factors is not None:
        methods = await factors.policy.required("6650c0ffee0123456789abcd")   # []
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs
from pymongo.database import Database

from authkit.core.errors import ValidationFailed
from authkit.core.values import Secret
from authkit.mfa.attempts import FactorAttempts
from authkit.mfa.challenges import MFAChallenges
from authkit.mfa.keys import CODE_PURPOSE, SECRET_PURPOSE, CodeHasher, SecretBox, derive_key
from authkit.mfa.policy import MFAPolicy
from authkit.mfa.recovery import RecoveryCodes
from authkit.mfa.settings import MFASettings
from authkit.mfa.step_up import StepUp
from authkit.mfa.store import MongoFactorStore
from authkit.mfa.totp import CODE_SHAPE, TOTPFactor
from authkit.passwords.dto import is_clean_text
from authkit.passwords.throttle import SigninThrottle

__all__ = ["SecondFactors", "build_second_factors", "one_proof", "text_field", "totp_code"]

logger = logging.getLogger("authkit")

# A field no proof is longer than; longer values are refused before anything is read.
_LONGEST_FIELD = 256


@attrs.frozen
class SecondFactors:
    totp: TOTPFactor
    recovery: RecoveryCodes
    policy: MFAPolicy
    challenges: MFAChallenges
    attempts: FactorAttempts
    step_up: StepUp
    # AUTHKIT_MFA_KEY unset: the key is JWT_SECRET's, and changing that loses every secret.
    key_is_derived: bool = False
    _warned: list[bool] = attrs.field(factory=list, repr=False)

    def warn_if_key_is_derived(self) -> None:
        """Said once, at the first enrolment: a service nobody enrols in need not hear it."""
        if self.key_is_derived and not self._warned:
            self._warned.append(True)
            logger.warning(
                "AUTHKIT_MFA_KEY is not set: TOTP secrets are sealed with a key derived from "
                "JWT_SECRET, so changing JWT_SECRET makes every enrolled authenticator unusable"
            )


def build_second_factors(
    section: MFASettings,
    jwt_secret: Secret | None,
    database: Database[dict[str, Any]],
    *,
    clock: Callable[[], float],
) -> SecondFactors | None:
    """The capability on `database`; None (with a warning) when there is no key to seal
    TOTP secrets with: no AUTHKIT_MFA_KEY and no JWT_SECRET to derive one from."""
    secret = section.key or jwt_secret
    if secret is None:
        logger.warning(
            "no second factors: AUTHKIT_MFA_KEY is not set and there is no JWT_SECRET to "
            "derive one from; /auth/mfa is not served and sign-in asks for a password only"
        )
        return None
    store = MongoFactorStore(database["mfa_factors"])
    box = SecretBox(derive_key(secret.value, SECRET_PURPOSE))
    totp = TOTPFactor(store, box, issuer=section.issuer, clock=clock)
    recovery = RecoveryCodes(store, CodeHasher(derive_key(secret.value, CODE_PURPOSE)))
    policy = MFAPolicy(recovery)
    policy.register(totp)
    throttle = SigninThrottle(
        database["mfa_failures"],
        per_account=section.per_user,
        per_address=section.per_challenge,
        clock=clock,
    )
    return SecondFactors(
        totp=totp,
        recovery=recovery,
        policy=policy,
        challenges=MFAChallenges(database["mfa_challenges"], clock=clock),
        attempts=FactorAttempts(throttle),
        step_up=StepUp(section.step_up_max_age, clock=clock),
        key_is_derived=section.key is None,
    )


def text_field(fields: dict[str, Any], name: str) -> str | None:
    """`fields[name]` when it is a string of sensible length, None when absent; a 400 for
    anything else (a number, a list, `{"$ne": ...}`)."""
    if name not in fields:
        return None
    value = fields[name]
    if (
        not isinstance(value, str)
        or not value
        or len(value) > _LONGEST_FIELD
        or not is_clean_text(value)  # a lone surrogate: no password hasher encodes it
    ):
        raise ValidationFailed([f"{name} must be a non-empty string"])
    return value


def totp_code(fields: dict[str, Any]) -> str:
    code = text_field(fields, "code")
    if code is None or not CODE_SHAPE.match(code):
        raise ValidationFailed(["code must be the 6 digits the authenticator app shows"])
    return code


def one_proof(fields: dict[str, Any], *names: str) -> tuple[str, str]:
    """The one proof the body carries, as (field, value): exactly one of `names`."""
    given = [(name, value) for name in names if (value := text_field(fields, name)) is not None]
    if len(given) != 1:
        raise ValidationFailed([f"send exactly one of {', '.join(names)}"])
    name, value = given[0]
    if name == "code":
        return name, totp_code(fields)
    return name, value
