"""MFAPolicy: which second factors a user has, asked of every capability that provides one.

TOTP registers itself; passkeys (and any other factor) register a provider the same way, a
small object with `async methods_for(user_id) -> list[str]`. A user with no method at all
signs in with a password alone. Recovery codes are a way in only beside a real factor: they
are listed when some provider lists a method and codes are left.

Example:

    from authkit.mfa.keys import CodeHasher
    from authkit.mfa.recovery import RecoveryCodes
    from authkit.mfa.store import MongoFactorStore

    class Passkeys:  # any factor: something with methods_for(user_id)
        async def methods_for(self, user_id: str) -> list[str]:
            return ["passkey"]

    codes = RecoveryCodes(MongoFactorStore(db["mfa_factors"]), CodeHasher(os.urandom(32)))
    policy = MFAPolicy(recovery=codes)
    policy.register(Passkeys())
    await policy.required("6650c0ffee0123456789abcd")     # ["passkey"]: no codes left
"""

from __future__ import annotations

from typing import Protocol

import attrs

from authkit.mfa.recovery import RecoveryCodes

__all__ = ["MFAPolicy", "MethodProvider"]

RECOVERY_CODE = "recovery_code"


class MethodProvider(Protocol):
    async def methods_for(self, user_id: str) -> list[str]: ...


@attrs.define
class MFAPolicy:
    recovery: RecoveryCodes
    providers: list[MethodProvider] = attrs.field(factory=list)

    def register(self, provider: MethodProvider) -> None:
        self.providers.append(provider)

    async def factors(self, user_id: str) -> list[str]:
        """The user's factors (`totp`, `passkey`, ...), recovery codes left out."""
        methods: list[str] = []
        for provider in self.providers:
            methods.extend(m for m in await provider.methods_for(user_id) if m not in methods)
        return methods

    async def required(self, user_id: str) -> list[str]:
        """The methods that can complete this user's sign-in; empty: no second factor."""
        methods = await self.factors(user_id)
        if methods and await self.recovery.left(user_id) > 0:
            methods.append(RECOVERY_CODE)
        return methods
