"""JWTs by hand: base64url, HMAC-signed tokens and the Authorization header.

Tokens are forged with the standard library only (hmac, hashlib, base64, json), independently
of joserfc, so tests can build what authkit must refuse as well as what it must accept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

# What jsonwebtoken (under @nestjs/jwt) writes, byte for byte.
NODE_HEADER = {"alg": "HS256", "typ": "JWT"}
DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(obj: Any) -> str:
    """`obj` as a JWT segment: compact JSON (as jsonwebtoken writes it), base64url."""
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def hmac_jwt(
    header: dict[str, Any], payload: Any, secret: str | bytes, digest: str | None = None
) -> str:
    """A JWT with exactly `header` and `payload`, HMAC-signed with `secret`.

    The hash is `digest` ("HS256", "HS384", "HS512"), else the one the header's alg names,
    else SHA-256 (a header that lies about its alg is still signed).
    """
    key = secret.encode() if isinstance(secret, str) else secret
    signing_input = f"{segment(header)}.{segment(payload)}"
    hash_name = DIGESTS.get(digest or str(header.get("alg")), hashlib.sha256)
    return f"{signing_input}.{b64url(hmac.new(key, signing_input.encode(), hash_name).digest())}"


def make_jwt(
    payload: Any, secret: str, alg: str = "HS256", header: dict[str, Any] | None = None
) -> str:
    """A JWT signed the way jsonwebtoken does it: header {"alg": alg, "typ": "JWT"} unless
    `header` is given, HMAC by `alg` (HS256/384/512); alg "none" leaves the signature empty."""
    head = header or {"alg": alg, "typ": "JWT"}
    if alg == "none":
        return f"{segment(head)}.{segment(payload)}."
    if alg not in DIGESTS:
        raise KeyError(alg)
    return hmac_jwt(head, payload, secret, digest=alg)


def payload_of(token: str) -> dict[str, Any]:
    """The claims of `token`, unverified."""
    decoded: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return decoded


def bearer(token: str) -> dict[str, str]:
    """The Authorization header that presents `token`."""
    return {"Authorization": f"Bearer {token}"}


def node_style_token(claims: dict[str, Any], secret: str) -> str:
    """A token laid out byte for byte as jsonwebtoken (under @nestjs/jwt) writes one."""
    return hmac_jwt(NODE_HEADER, claims, secret)
