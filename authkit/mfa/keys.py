"""The keys of the second factors: AES-256-GCM for TOTP secrets at rest, HMAC for the
recovery codes' hashes, both derived with HKDF from one key (AUTHKIT_MFA_KEY, else
JWT_SECRET), each for its own purpose.

A TOTP secret is sealed with a fresh 96-bit nonce and the user's id as associated data:
a ciphertext copied into another user's document does not open there, so whoever can
write the database cannot move a known authenticator onto someone else's account.

Why `cryptography`: AES-GCM and HKDF are not in the standard library, and it is the
maintained, audited binding to OpenSSL that joserfc already depends on.

Example:

    box = SecretBox(derive_key("…the MFA key…", SECRET_PURPOSE))
    sealed = box.seal(b"JBSWY3DPEHPK3PXP", "6650c0ffee0123456789abcd")
    box.open(sealed, "6650c0ffee0123456789abcd")   # b"JBSWY3DPEHPK3PXP"
    box.open(sealed, "6650c0ffee0123456789abce")   # None: another user's
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["CODE_PURPOSE", "SECRET_PURPOSE", "CodeHasher", "SecretBox", "derive_key"]

SECRET_PURPOSE = b"authkit mfa totp secrets v1"
CODE_PURPOSE = b"authkit mfa recovery codes v1"
_NONCE_BYTES = 12
_VERSION = b"\x01"


def derive_key(secret: str, purpose: bytes) -> bytes:
    """32 bytes for `purpose` from `secret`: one setting, keys that never stand in for
    each other (nor for the JWT signing key they may come from)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(secret.encode("utf-8"))


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, user_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _bound(user_id))

    def open(self, sealed: bytes, user_id: str) -> bytes | None:
        """The plaintext; None when the bytes were not sealed for this user under this key."""
        if len(sealed) <= 1 + _NONCE_BYTES or sealed[:1] != _VERSION:
            return None
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, _bound(user_id))
        except InvalidTag:
            return None


def _bound(user_id: str) -> bytes:
    return b"authkit-mfa-totp\x00" + user_id.encode("utf-8")


class CodeHasher:
    """A keyed hash for recovery codes: they carry 50 random bits, so no slow hash is
    needed, and without the key a stolen database cannot even test guesses offline."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, user_id: str, code: str) -> str:
        message = user_id.encode("utf-8") + b"\x00" + code.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
