"""TOTP (RFC 6238) through `pyotp`: enrolment, confirmation, a check that accepts each code
once, and removal.

A secret is 160 random bits (RFC 4226's recommendation), shown to the user once as text,
as an `otpauth://` URI and as a QR code (drawn by `segno`, as SVG), and kept sealed
(authkit.mfa.keys). It is pending until a first code proves the authenticator holds it.
Codes are accepted from the previous, the current and the next 30-second step (one step of
clock drift either way); the step a code matched is recorded with a conditional update, so
the same code, or an older one, presented again fails, however many arrive at once.

Example:

    import pyotp
    from authkit.mfa.keys import SecretBox
    from authkit.mfa.store import MongoFactorStore

    factor = TOTPFactor(MongoFactorStore(db["mfa_factors"]), SecretBox(os.urandom(32)))
    enrolment = await factor.enrol("6650c0ffee0123456789abcd", "alice")
    code = pyotp.TOTP(enrolment.secret).now()       # what the authenticator app shows
    await factor.confirm("6650c0ffee0123456789abcd", code, [])   # True: TOTP is on
    await factor.verify("6650c0ffee0123456789abcd", code)        # False: used already
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

import attrs
import pyotp
import segno

from authkit.mfa.keys import SecretBox
from authkit.mfa.store import MongoFactorStore

__all__ = ["CODE_SHAPE", "Enrolment", "TOTPFactor"]

CODE_SHAPE = re.compile(r"^[0-9]{6}$")
_VALID_WINDOW = 1


@attrs.frozen
class Enrolment:
    secret: str = attrs.field(repr=False)
    otpauth_uri: str = attrs.field(repr=False)
    qr_svg: str = attrs.field(repr=False)


@attrs.frozen
class TOTPFactor:
    store: MongoFactorStore
    box: SecretBox
    issuer: str = "authkit"
    clock: Callable[[], float] = time.time

    async def enrol(self, user_id: str, username: str) -> Enrolment | None:
        """A new pending secret; None when TOTP is on already (disable it first)."""
        secret = pyotp.random_base32()
        if not await self.store.begin_enrolment(user_id, self.box.seal(secret.encode(), user_id)):
            return None
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=self.issuer)
        return Enrolment(secret, uri, _qr_svg(uri))

    async def confirm(self, user_id: str, code: str, code_hashes: list[str]) -> bool:
        """Turn the pending secret on when `code` is its current code; the recovery codes
        (their hashes) start with it."""
        record = await self.store.get(user_id)
        if record.pending is None or record.totp is not None:
            return False
        step = self._matching_step(record.pending, user_id, code)
        if step is None:
            return False
        return await self.store.confirm(user_id, record.pending, step, code_hashes)

    async def verify(self, user_id: str, code: str) -> bool:
        """Whether `code` is the user's TOTP code, now, and unused: it is used up."""
        record = await self.store.get(user_id)
        if record.totp is None:
            return False
        step = self._matching_step(record.totp, user_id, code)
        if step is None or step <= record.last_step:
            return False
        return await self.store.use_step(user_id, step)

    async def enabled(self, user_id: str) -> bool:
        return (await self.store.get(user_id)).totp is not None

    async def methods_for(self, user_id: str) -> list[str]:
        return ["totp"] if await self.enabled(user_id) else []

    async def disable(self, user_id: str) -> bool:
        return await self.store.remove_totp(user_id)

    def _matching_step(self, sealed: bytes, user_id: str, code: str) -> int | None:
        if not CODE_SHAPE.match(code):
            return None
        secret = self.box.open(sealed, user_id)
        if secret is None:
            # Sealed for another user, or under another key: no code can match.
            return None
        totp = pyotp.TOTP(secret.decode("ascii"))
        now = self.clock()
        # Newest first: of two steps with the same code (one in a million), the later counts.
        for offset in range(_VALID_WINDOW, -_VALID_WINDOW - 1, -1):
            moment = now + offset * totp.interval
            if totp.verify(code, for_time=moment):
                # The time step, as pyotp counts it (its timecode() takes only a datetime
                # before 2.10, and a timestamp is what the clock gives).
                return int(moment) // totp.interval
        return None


def _qr_svg(uri: str) -> str:
    """The URI as a standalone SVG (with its namespace, no XML declaration): inline in a
    page, or saved as a file, it is the same picture."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer,
        kind="svg",
        scale=4,
        dark="#000",
        light="#fff",
        xmldecl=False,
        nl=False,
        title="TOTP enrolment QR code",
    )
    return buffer.getvalue().decode("utf-8")
