"""TokenIssuer: sign and verify access tokens (JWT, through joserfc).

By default tokens are what the NestJS app issues with `@nestjs/jwt`: header
`{"alg":"HS256","typ":"JWT"}`, payload `{username, sub, iat, exp}` signed with
`JWT_SECRET`, plus a `jti` (and `iss`/`aud` when configured, and whatever the
caller adds: `token_version`, `sid`). Either side accepts the other's tokens
when they share the secret: jsonwebtoken ignores claims it was not asked about.

With a key ring (authkit.keys) tokens are signed with the ring's newest key
instead, and every header names it in `kid`.

Verification is stricter than the reference (RFC 8725): the algorithm is pinned
to the configured one (HS256, or the `alg` of the key the `kid` names: an HMAC
token is never checked against a public key), `exp` is required, `nbf` is
honoured, `iss` and `aud` are required when configured, `leeway` seconds of
clock skew are forgiven on `exp`, `nbf` and `iat`, and `sub`, `username` and `jti`
must be strings. A token must also be one no issuer configured like this one
would refuse to write: `iat` no later than now (plus the leeway), `exp` no more
than the configured lifetime after `iat` (after now, without `iat`), JSON without
a key given twice or a non-finite number, and an ECDSA signature in its low-S
form (authkit.tokens.strict).

Example:

    issuer = TokenIssuer(secret="…32 bytes or more…", ttl_seconds=60)
    token = issuer.issue(user_id="6650…", username="alice")
    claims = issuer.verify(token)          # raises InvalidToken
"""

from __future__ import annotations

import base64
import copy
import math
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import OctKey
from joserfc.jws import JWSRegistry

from authkit.core.errors import InvalidToken
from authkit.tokens.keys import KeyRing
from authkit.tokens.strict import NotStrictJSON, StrictJSONDecoder, has_high_s, low_s

__all__ = ["MAX_TOKEN_LENGTH", "VERIFIED_CACHE_SIZE", "TokenIssuer"]

# Far above any token authkit issues (~250 bytes, ~700 with an RSA signature);
# refusing longer input early keeps an attacker from making us parse megabytes.
MAX_TOKEN_LENGTH = 8192
# Tokens whose signature and claims were verified, remembered so that a client calling
# again with the same token skips the signature and JSON work (two fifths of /auth/me).
# Only tokens that passed are kept, so an attacker cannot fill it without our key.
VERIFIED_CACHE_SIZE = 4096
_OWN_CLAIMS = frozenset({"username", "sub", "iat", "exp", "iss", "aud", "jti"})


def _quiet_eddsa() -> Any:
    # RFC 9864 deprecates the name "EdDSA" because it does not say which curve. Our keys
    # are pinned to Ed25519 (authkit.keys), so the ambiguity cannot arise, and "EdDSA" is
    # the name verifiers (PyJWT, jose, Java, Go) understand today: sign with it, quietly.
    alg = copy.copy(JWSRegistry.algorithms["EdDSA"])
    alg.security_warning = None
    return alg


class _Registry(JWSRegistry):
    # joserfc declares `algorithms` on the class but types it as an instance variable.
    algorithms = {**JWSRegistry.algorithms, "EdDSA": _quiet_eddsa()}  # noqa: RUF012


def _expired(exp: float, now: int, leeway: int) -> bool:
    # Expired from `exp` on, as RFC 7519 4.1.4 and jsonwebtoken say.
    return exp <= now - leeway


def _premature(nbf: float, now: int, leeway: int) -> bool:
    return nbf > now + leeway


class _IssuedInFuture(InvalidClaimError):
    """`iat` later than now and the leeway (a non-number `iat` is plain bad_claims)."""


class _ClaimsRegistry(jwt.JWTClaimsRegistry):
    """joserfc's registry, with decisions of ours that must not vary with its version."""

    def __init__(
        self,
        clock: float,
        leeway: int,
        issuer: str | None,
        audience: str | None,
        **kw: Any,
    ) -> None:
        # Whole seconds, as jsonwebtoken counts them, for `exp` and `nbf`.
        super().__init__(now=int(clock), leeway=leeway, **kw)
        # Rounded up for `iat`: a clock less than a second ahead of ours never trips it.
        self.latest_iat = math.ceil(clock) + leeway
        self.expected_issuer = issuer
        self.expected_audience = audience

    @staticmethod
    def _numeric(name: str, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise InvalidClaimError(name, f"Claim '{name}' must be a NumericDate value")
        return value

    def validate_exp(self, value: object) -> None:
        # Ours, because joserfc before 1.8 still accepted a token during its `exp` second.
        if _expired(self._numeric("exp", value), self.now, self.leeway):
            raise ExpiredTokenError("exp")

    def validate_nbf(self, value: object) -> None:
        if _premature(self._numeric("nbf", value), self.now, self.leeway):
            raise InvalidClaimError("nbf", "The token is not valid yet")

    def validate_iat(self, value: object) -> None:
        # A token from the future was made by a clock we do not share, or by someone who
        # holds the key and wants a token that outlives TokenIssuer's lifetime check.
        if self._numeric("iat", value) > self.latest_iat:
            raise _IssuedInFuture("iat", "The token was issued in the future")

    def validate_iss(self, value: object) -> None:
        if not isinstance(value, str) or (
            self.expected_issuer is not None and value != self.expected_issuer
        ):
            raise InvalidClaimError("iss")

    def validate_aud(self, value: object) -> None:
        audiences = [value] if isinstance(value, str) else value
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise InvalidClaimError("aud")
        if self.expected_audience is not None and self.expected_audience not in audiences:
            raise InvalidClaimError("aud")


def _reason(exc: Exception) -> str:
    """A short, fixed label for why a token was refused: for metrics and logs, never clients."""
    # joserfc wraps what its decoder_cls raises: as the cause (1.8), or while handling
    # it (1.7, on Python 3.10), so the strict refusal is looked for down the chain.
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            break
        if isinstance(seen, NotStrictJSON):
            return seen.reason
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, _IssuedInFuture):
        return "issued_in_future"
    if isinstance(exc, ExpiredTokenError):
        return "expired"
    if isinstance(exc, BadSignatureError):
        return "bad_signature"
    if isinstance(exc, UnsupportedAlgorithmError):
        return "bad_algorithm"
    if isinstance(exc, (InvalidClaimError, MissingClaimError)):
        return "bad_claims"
    if isinstance(exc, DecodeError):
        return "malformed"
    return "malformed" if isinstance(exc, (ValueError, TypeError)) else "invalid"


# A header authkit writes is ~100 characters; anything far longer is refused unread, so
# a client cannot make us parse a deeply nested JSON document to pick a key.
MAX_HEADER_LENGTH = 1024
# One decoder for every header, as json.loads() shares one: making a decoder builds its
# scanner, which costs about what parsing a header does.
_STRICT_JSON = StrictJSONDecoder()


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to choose the key; nothing in it is trusted beyond that."""
    segment = token.split(".", 1)[0]
    if len(segment) > MAX_HEADER_LENGTH:
        raise InvalidToken("malformed")
    try:
        header = _STRICT_JSON.decode(
            base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)).decode("utf-8")
        )
    except RecursionError:
        raise InvalidToken("malformed") from None
    if not isinstance(header, dict):
        raise InvalidToken("malformed")
    return header


class TokenIssuer:
    """Issues and verifies access tokens: HS256 with a secret, or a managed key ring."""

    def __init__(
        self,
        secret: str | None = None,
        ttl_seconds: int = 60,
        *,
        keys: KeyRing | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        leeway: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError(f"token lifetime must be at least 1 second (got {ttl_seconds})")
        if leeway < 0:
            raise ValueError(f"leeway must not be negative (got {leeway})")
        if keys is None and secret is None:
            raise ValueError("a TokenIssuer needs a secret (HS256) or a key ring")
        self._key: OctKey | None = None
        if keys is None and secret is not None:
            with warnings.catch_warnings():
                # joserfc warns about short HMAC keys; settings warn once, in words an
                # operator can act on, and an existing deployment's short secret must work.
                warnings.simplefilter("ignore")
                self._key = OctKey.import_key(secret.encode("utf-8"))
        self.keys = keys
        self.ttl_seconds = ttl_seconds
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._clock = clock
        # token -> (claims, kid): the kid kept so a hit need not parse the header again.
        # token -> (claims, kid, whether a claim holds a list or an object)
        self._verified: dict[str, tuple[dict[str, Any], str | None, bool]] = {}
        self._cache_lock = threading.Lock()

    @property
    def algorithm(self) -> str:
        if self.keys is None:
            return "HS256"
        return self.keys.current().signing_key(self._clock()).alg

    def now(self) -> float:
        return self._clock()

    def issue(self, *, user_id: str, username: str, claims: Mapping[str, Any] | None = None) -> str:
        """A signed token; `claims` adds claims of the caller's (never one of the standard ones)."""
        now = int(self._clock())
        payload: dict[str, Any] = {
            "username": username,
            "sub": user_id,
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        if self.issuer is not None:
            payload["iss"] = self.issuer
        if self.audience is not None:
            payload["aud"] = self.audience
        payload["jti"] = secrets.token_urlsafe(16)
        for name, value in (claims or {}).items():
            if name in _OWN_CLAIMS:
                raise ValueError(f"claim {name!r} is set by the TokenIssuer")
            payload[name] = value
        if self._key is not None:
            # default_type=None keeps the header bytes identical to jsonwebtoken's.
            header = {"alg": "HS256", "typ": "JWT"}
            return jwt.encode(header, payload, self._key, ["HS256"], default_type=None)
        signer = self._ring().current().signing_key(self._clock())
        header = {"alg": signer.alg, "typ": "JWT", "kid": signer.kid}
        registry = _Registry(algorithms=[signer.alg])
        token = jwt.encode(header, payload, signer.key, registry=registry, default_type=None)
        return low_s(signer.alg, token)  # ECDSA: the encoding verify() accepts

    def public_jwks(self) -> dict[str, Any]:
        """The JWK Set other services verify tokens with; empty with HS256 (a secret is secret)."""
        if self.keys is None:
            return {"keys": []}
        return self.keys.current().public_jwks(self._clock())

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims (a copy: yours to change); InvalidToken saying why not."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("too_long")
        remembered = self._verified.get(token)
        if remembered is None:
            claims, kid = self._verify(token)
            nested = any(isinstance(value, dict | list) for value in claims.values())
            with self._cache_lock:  # a plugin may verify from a worker thread
                if len(self._verified) >= VERIFIED_CACHE_SIZE:
                    # Oldest first; with the cache full, tokens in use come back soon.
                    del self._verified[next(iter(self._verified))]
                self._verified[token] = (claims, kid, nested)
        else:
            # Time moves on for a token we met before: exp, nbf and its key are checked again.
            claims, kid, nested = remembered
            self._check_again(token, claims, kid)
        # A copy the caller may change, nested lists (`roles`) included: a handler that
        # appended to one would otherwise change the token for every later request.
        return copy.deepcopy(claims) if nested else dict(claims)

    def _check_again(self, token: str, claims: dict[str, Any], kid: str | None) -> None:
        now = int(self._clock())
        if _expired(claims["exp"], now, self.leeway):
            self._verified.pop(token, None)
            raise InvalidToken("expired")
        nbf = claims.get("nbf")
        if nbf is not None and _premature(nbf, now, self.leeway):
            raise InvalidToken("bad_claims")
        if self.keys is not None and self.keys.current().find(kid, now) is None:
            # Its key retired (or was rotated out at once) since we verified it.
            self._verified.pop(token, None)
            raise InvalidToken("unknown_key")

    def _verify(self, token: str) -> tuple[dict[str, Any], str | None]:
        """The claims, and the kid of the key that verified them (None with HS256)."""
        clock = self._clock()
        now = int(clock)
        kid = None
        try:
            if self._key is not None:
                _unverified_header(token)  # for its strictness: the key is known
                decoded = jwt.decode(
                    token, self._key, algorithms=["HS256"], decoder_cls=StrictJSONDecoder
                )
            else:
                decoded, kid = self._decode_with_ring(token, now)
            if not isinstance(decoded.claims, dict):  # joserfc < 1.8 lets a JSON array through
                raise InvalidToken("malformed")
            registry = _ClaimsRegistry(
                clock,
                self.leeway,
                self.issuer,
                self.audience,
                exp={"essential": True},
                sub={"essential": True},
                **({"iss": {"essential": True}} if self.issuer is not None else {}),
                **({"aud": {"essential": True}} if self.audience is not None else {}),
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError, RecursionError) as exc:
            raise InvalidToken(_reason(exc)) from exc
        claims = decoded.claims
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("username"), str):
            raise InvalidToken("bad_claims")
        # Longer-lived than this issuer would make it: minted by whoever holds the key.
        issued = claims.get("iat")
        start = issued if issued is not None else math.ceil(clock) + self.leeway
        if claims["exp"] - start > self.ttl_seconds:
            raise InvalidToken("lifetime_too_long")
        for name, kind in (("jti", str), ("sid", str), ("token_version", int)):
            value = claims.get(name)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                raise InvalidToken("bad_claims")
        return claims, kid

    def _ring(self) -> KeyRing:
        if self.keys is None:  # pragma: no cover - the constructor makes this impossible
            raise RuntimeError("no key ring")
        return self.keys

    def _decode_with_ring(self, token: str, now: int) -> tuple[jwt.Token, str]:
        header = _unverified_header(token)
        key = self._ring().current().find(header.get("kid"), now)
        if key is None:
            raise InvalidToken("unknown_key")
        if header.get("alg") != key.alg:
            # Key confusion (an HS256 token "signed" with the public key, say) ends here.
            raise InvalidToken("bad_algorithm")
        # The registry allows exactly this key's algorithm (joserfc ignores `algorithms=`
        # when given a registry).
        registry = _Registry(algorithms=[key.alg])
        decoded = jwt.decode(token, key.key, registry=registry, decoder_cls=StrictJSONDecoder)
        if has_high_s(key.alg, token):
            raise InvalidToken("high_s")
        return decoded, key.kid
