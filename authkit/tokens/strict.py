"""One token, one meaning, one encoding: the JSON and signature rules a token must meet
beyond what joserfc checks.

- JSON with a key given twice (`{"sub": "alice", "sub": "admin"}`) reads differently
  in different parsers (Python and Node keep the last, others the first), so a token
  holding one is refused, in its header as in its claims.
- `Infinity`, `NaN` and numbers too large for a float (`1e309`) are not JSON numbers
  (RFC 8259 6); Python reads them anyway, and `exp: Infinity` would never expire.
- An ECDSA signature (r, s) has a twin (r, n - s) that verifies as well: one set of
  claims, two token strings. Only the low one (s <= n/2) is accepted, and authkit
  signs only low ones, so a token cannot be re-encoded into another that also passes.

Example:

    import json

    assert json.loads('{"exp": 1e9}', cls=StrictJSONDecoder) == {"exp": 1e9}
    try:
        json.loads('{"exp": Infinity}', cls=StrictJSONDecoder)
    except NotStrictJSON as refused:
        assert refused.reason == "non_finite"
    token = issuer.issue(user_id="u1", username="alice")
    assert low_s("HS256", token) == token and not has_high_s("HS256", token)
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

__all__ = ["EC_ORDERS", "NotStrictJSON", "StrictJSONDecoder", "has_high_s", "low_s"]

# The order n of each ECDSA algorithm's curve (SEC 2 2.4.2), by JWS alg, and the bytes of
# each half of its signature. ES256 is the one ECDSA algorithm key sets hold (authkit.keys).
EC_ORDERS = {"ES256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551}
_SIZES = {"ES256": 32}


class NotStrictJSON(ValueError):
    """JSON a token must not hold; `reason` is the fixed label for metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise NotStrictJSON("duplicate_key", "a JSON object names a key twice")
    return found


def _constant(name: str) -> Any:
    raise NotStrictJSON("non_finite", f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotStrictJSON("non_finite", "a number too large for a float")
    return value


class StrictJSONDecoder(json.JSONDecoder):
    """json.JSONDecoder refusing duplicate keys and non-finite numbers (for joserfc's
    `decoder_cls`, and for headers)."""

    def __init__(self) -> None:
        super().__init__(object_pairs_hook=_object, parse_constant=_constant, parse_float=_float)


def _signature(token: str) -> bytes:
    segment = token.rsplit(".", 1)[-1]
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return b""


def has_high_s(alg: str, token: str) -> bool:
    """True when `token`'s signature is ECDSA's (`alg` ES256) and its s is above
    n/2, or is not the two fixed-size numbers JWS writes; False for other algorithms."""
    order = EC_ORDERS.get(alg)
    if order is None:
        return False
    signature = _signature(token)
    size = _SIZES[alg]
    if len(signature) != 2 * size:
        return True
    return int.from_bytes(signature[size:], "big") > order // 2


def low_s(alg: str, token: str) -> str:
    """`token` with its ECDSA signature's s replaced by n - s when s is above n/2: the same
    signature's other encoding, which every verifier accepts. Other tokens unchanged."""
    order = EC_ORDERS.get(alg)
    signature = _signature(token)
    if order is None or len(signature) != 2 * _SIZES[alg] or not has_high_s(alg, token):
        return token
    size = _SIZES[alg]
    s = order - int.from_bytes(signature[size:], "big")
    fixed = signature[:size] + s.to_bytes(size, "big")
    encoded = base64.urlsafe_b64encode(fixed).rstrip(b"=").decode("ascii")
    return f"{token.rsplit('.', 1)[0]}.{encoded}"
