"""Device tokens: proof that a client has signed in to an account before (OWASP's device
cookies), so that a stranger's guesses at the account do not lock that client out.

A successful sign-in hands the client a token bound to the account: a random device id,
an expiry, and an HMAC-SHA256 over both and the account's id, under a key from settings.
A client that sends it back with a later sign-in to that account is a *trusted device*:
the sign-in throttle counts its failures against that device alone, not against the
account's limit for untrusted sources (authkit.passwords.throttle). A token that is
forged, altered, expired or made for another account is no token: the attempt is
untrusted, and nothing tells the client why.

Browsers keep it in the `authkit_device` cookie (HttpOnly, Secure, SameSite=Strict, path
/auth/signin). A client without cookies sends it in the `Authkit-Device` request header
instead, or `Authkit-Device: new` on its first sign-in; a sign-in that came with that
header answers with the fresh token in the same header, and sets no cookie.

Why not itsdangerous or a JWT (joserfc): either would do the MAC, but a JWT puts the
account in the cookie in clear, and the whole scheme is one HMAC over three fields,
which the standard library's `hmac` does with a constant-time comparison.

Example:

    devices = DeviceTokens(b"k" * 32, ttl_seconds=90 * 86400)
    token = devices.issue("6650c0ffee0123456789abcd")  # the account's id
    devices.verify(token, "6650c0ffee0123456789abcd")  # the device id
    devices.verify(token, "6650c0ffee0123456789abce")  # None: another account
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "DEVICE_COOKIE",
    "DEVICE_HEADER",
    "DEVICE_PARAMETER",
    "DeviceTokens",
    "derive_device_key",
]

DEVICE_COOKIE = "authkit_device"
DEVICE_HEADER = "Authkit-Device"
# What a cookieless client sends on its first sign-in to ask for a token in the header.
_ASK_FOR_ONE = "new"
_VERSION = "d1"
# What the sign-in operation says of the header in /openapi.json.
DEVICE_PARAMETER = {
    "name": DEVICE_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "the device token an earlier sign-in gave this client (the authkit_device cookie "
        "does the same for a browser), or `new` to receive one in this header: a client "
        "that has signed in before keeps its own allowance of failures"
    ),
    "schema": {"type": "string"},
}
DEVICE_RESPONSE_HEADERS = {
    DEVICE_HEADER: {
        "description": "this client's device token, when it asked in the Authkit-Device header",
        "schema": {"type": "string"},
    },
    "Set-Cookie": {
        "description": "the authkit_device cookie (HttpOnly, Secure, SameSite=Strict), for a "
        "client that did not ask in the header; the refresh cookie in cookie mode",
        "schema": {"type": "string"},
    },
}
# Far longer than any token issued here; longer input is not even parsed.
_MOST_TOKEN_CHARS = 128
_COOKIE_PATH = "/auth/signin"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def derive_device_key(secret: str) -> bytes:
    """A key for device tokens from another secret (JWT_SECRET), of its own purpose: a
    device token can never pass for an access token, nor the other way round."""
    return hmac.new(secret.encode("utf-8"), b"authkit device tokens v1", hashlib.sha256).digest()


class DeviceTokens:
    def __init__(
        self, key: bytes, *, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def _mac(self, account: str, device_id: str, expires: str) -> str:
        message = "\x00".join((_VERSION, device_id, expires, account)).encode("utf-8")
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def issue(self, account: str, device_id: str | None = None) -> str:
        """A token for `account`; `device_id` keeps a known device's id (a fresh expiry)."""
        device_id = device_id or _b64(secrets.token_bytes(16))
        expires = str(int(self._clock()) + self.ttl_seconds)
        return ".".join((_VERSION, device_id, expires, self._mac(account, device_id, expires)))

    def verify(self, token: str | None, account: str) -> str | None:
        """The device id when `token` is this service's, unexpired, for `account`; else None."""
        # ASCII only: compare_digest refuses other text, and int() reads digits of any script.
        if not token or len(token) > _MOST_TOKEN_CHARS or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != _VERSION or not parts[2].isdigit():
            return None
        _, device_id, expires, mac = parts
        if not hmac.compare_digest(mac, self._mac(account, device_id, expires)):
            return None
        return device_id if int(expires) > self._clock() else None

    @staticmethod
    def presented(request: Request) -> str | None:
        """The token a sign-in request carries: the header's, else the cookie's."""
        header = request.headers.get(DEVICE_HEADER)
        if header is not None:
            return None if header.strip() == _ASK_FOR_ONE else header.strip()
        return request.cookies.get(DEVICE_COOKIE)

    def remember(self, request: Request, response: Response, account: str) -> None:
        """Give the client that just signed in to `account` its token, the way it asked."""
        if request.headers.get("sec-fetch-site") == "cross-site":
            # Another site's form that signs this browser in (to the attacker's own account,
            # say) must not replace the browser's token for its owner's account.
            return
        device_id = self.verify(self.presented(request), account)
        token = self.issue(account, device_id)
        if DEVICE_HEADER in request.headers:
            response.headers[DEVICE_HEADER] = token
            return
        response.set_cookie(
            DEVICE_COOKIE,
            token,
            max_age=self.ttl_seconds,
            path=_COOKIE_PATH,
            secure=True,
            httponly=True,
            samesite="strict",
        )
