"""Recovery codes: ten single-use codes for the day the authenticator is lost.

Each is ten characters from a 31-letter alphabet without look-alikes (0/o, 1/l/i), about
50 random bits, written `xxxxx-xxxxx`; they are shown once, when made, and kept only as
keyed hashes (authkit.mfa.keys.CodeHasher). Making new ones replaces every old one. Using
one takes it out atomically, and is logged on `authkit.security` as a warning (a lost
authenticator, or a stolen code), with the user and how many are left, never the code.

Example:

    from authkit.mfa.keys import CodeHasher
    from authkit.mfa.store import MongoFactorStore

    codes = RecoveryCodes(MongoFactorStore(db["mfa_factors"]), CodeHasher(os.urandom(32)))
    shown = await codes.regenerate("6650c0ffee0123456789abcd")   # ["k7pqa-m3x9z", ...]
    await codes.use("6650c0ffee0123456789abcd", shown[0])        # True; again: False
"""

from __future__ import annotations

import logging
import secrets

import attrs

from authkit.mfa.keys import CodeHasher
from authkit.mfa.store import MongoFactorStore

__all__ = ["CODE_COUNT", "RecoveryCodes", "new_codes"]

security_log = logging.getLogger("authkit.security")

CODE_COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_HALF = 5
# Far longer than any code; longer input is no code and is not hashed.
_LONGEST_INPUT = 64


def new_codes() -> list[str]:
    def one() -> str:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(2 * _HALF))
        return f"{raw[:_HALF]}-{raw[_HALF:]}"

    return [one() for _ in range(CODE_COUNT)]


def _normal(code: str) -> str | None:
    """A code as typed (any case, with or without the dash or spaces), as it was made."""
    if len(code) > _LONGEST_INPUT:
        return None
    raw = code.replace("-", "").replace(" ", "").lower()
    if len(raw) != 2 * _HALF or any(c not in _ALPHABET for c in raw):
        return None
    return f"{raw[:_HALF]}-{raw[_HALF:]}"


@attrs.frozen
class RecoveryCodes:
    store: MongoFactorStore
    hasher: CodeHasher

    def hashes(self, user_id: str, codes: list[str]) -> list[str]:
        return [self.hasher.digest(user_id, code) for code in codes]

    async def regenerate(self, user_id: str) -> list[str]:
        codes = new_codes()
        await self.store.replace_codes(user_id, self.hashes(user_id, codes))
        security_log.info(
            "recovery codes regenerated",
            extra={"fields": {"event": "mfa_recovery_codes_regenerated", "user_id": user_id}},
        )
        return codes

    async def left(self, user_id: str) -> int:
        return (await self.store.get(user_id)).recovery_left

    async def use(self, user_id: str, code: str) -> bool:
        normal = _normal(code)
        if normal is None:
            return False
        used = await self.store.use_code(user_id, self.hasher.digest(user_id, normal))
        if used:
            security_log.warning(
                "recovery code used",
                extra={
                    "fields": {
                        "event": "mfa_recovery_code_used",
                        "user_id": user_id,
                        "recovery_codes_left": await self.left(user_id),
                    }
                },
            )
        return used
