"""The second-factor settings section: the TOTP secrets' key, the issuer authenticator apps
show, the attempts a challenge allows, and how fresh a proof step-up asks for."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import attrs

from authkit.core.values import Env, Secret
from authkit.passwords.throttle import Limit

__all__ = ["MFASettings"]

_FIVE_PER_FIVE_MINUTES = Limit(5, 5 * 60)
_TEN_PER_QUARTER_HOUR = Limit(10, 15 * 60)


@attrs.frozen
class MFASettings:
    """TOTP, recovery codes, the sign-in challenge and step-up (docs/mfa.md).

    `key` encrypts TOTP secrets at rest (AES-256-GCM) and keys the recovery codes' hashes;
    unset, a key is derived from JWT_SECRET (a warning says so). Changing it makes every
    enrolled TOTP secret unreadable: those users then sign in with a recovery code.
    """

    key: Annotated[
        Secret | None,
        Env(
            "AUTHKIT_MFA_KEY",
            "key that encrypts TOTP secrets at rest and keys recovery-code hashes; changing it "
            "makes enrolled authenticators unusable",
            "(unset: derived from `JWT_SECRET`, with a warning)",
        ),
    ] = None
    issuer: Annotated[
        str,
        Env("AUTHKIT_MFA_ISSUER", "the issuer authenticator apps show beside the account"),
    ] = "authkit"
    per_challenge: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_MFA_LIMIT_CHALLENGE",
            "wrong second-factor codes one sign-in challenge allows, then 429 (`off` to disable)",
            none_is_off=True,
        ),
    ] = _FIVE_PER_FIVE_MINUTES
    per_user: Annotated[
        Limit | None,
        Env(
            "AUTHKIT_MFA_LIMIT_USER",
            "wrong second-factor codes per user over all challenges and step-ups in a sliding "
            "window, then 429 (`off` to disable)",
            none_is_off=True,
        ),
    ] = _TEN_PER_QUARTER_HOUR
    step_up_max_age: Annotated[
        timedelta,
        Env(
            "AUTHKIT_STEP_UP_MAX_AGE",
            "how recent a sign-in or second-factor proof must be for a sensitive change "
            "(disabling a factor, new recovery codes); older: 401 `step_up_required`",
        ),
    ] = timedelta(minutes=5)
