"""Managed signing keys: a JWK Set file of RS256, ES256 or EdDSA private keys.

The file is a JWK Set (RFC 7517) that joserfc's `KeySet.import_key_set` loads as
it is. Each key carries `kid` (its RFC 7638 thumbprint), `alg`, `use: "sig"`, and
two members of ours, which RFC 7517 section 4 lets a reader ignore:

- `authkit_created_at`: when the key starts signing (Unix seconds). The newest
  key that has started and not retired signs every new token. `authkit keys
  rotate` sets it a few seconds ahead, so that every server verifies with a new
  key before any server signs with it.
- `authkit_retires_at`: set by `authkit keys rotate` on the key it replaces, to
  the rotation time plus the longest an access token lives. Until then the key
  still verifies the tokens it signed; from then on it neither verifies nor
  appears in the JWKS, and the next rotation drops it from the file.

The file holds private keys: it is written with mode 0600, atomically (a new file
renamed over the old one), so a server reading it never sees half a key set.
`KeyRing` is what a running server holds: it re-reads the file when it changes,
so every worker picks up a rotation within seconds, without a restart.

Example:

    keys = SigningKeys.generate("ES256", now=time.time())
    keys.write(Path("keys.json"), replace=False)
    later = SigningKeys.read(Path("keys.json")).rotated("ES256", time.time(), overlap_seconds=120)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

from authkit.core.errors import ConfigError

__all__ = ["ALGORITHMS", "RELOAD_SECONDS", "KeyRing", "KeySetError", "ManagedKey", "SigningKeys"]

logger = logging.getLogger("authkit.keys")

# alg -> (kty, curve or None). RFC 8725 3.1: one algorithm per key, checked on every token.
ALGORITHMS: Mapping[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "EdDSA": ("OKP", "Ed25519"),
}
CREATED = "authkit_created_at"
RETIRES = "authkit_retires_at"
# How often a running server looks at the file; rotation adds it to the overlap.
RELOAD_SECONDS = 5
# A rotated-in key signs only once every server has had a chance to re-read the file.
ACTIVATION_DELAY = RELOAD_SECONDS + 1
_RSA_BITS = 2048  # RFC 7518 3.3's minimum; verifiers everywhere accept it
_PUBLIC_MEMBERS = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}


class KeySetError(ConfigError):
    """The key-set file is missing, unreadable or not a usable key set; the message says why."""


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@attrs.frozen
class ManagedKey:
    """One signing key and what we know about it."""

    key: Any = attrs.field(repr=False)  # a joserfc RSAKey, ECKey or OKPKey
    kid: str
    alg: str
    created_at: int
    retires_at: int | None = None

    def active(self, now: float) -> bool:
        """True while the key may verify tokens (before its retirement time, if any)."""
        return self.retires_at is None or now < self.retires_at

    @property
    def can_sign(self) -> bool:
        return bool(self.key.is_private)

    def public_jwk(self) -> dict[str, Any]:
        """The public half only, in the members verifiers read."""
        full = self.key.as_dict(private=False)
        kty = ALGORITHMS[self.alg][0]
        jwk = {"kty": kty, **{m: full[m] for m in _PUBLIC_MEMBERS[kty]}}
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def to_dict(self) -> dict[str, Any]:
        """The private JWK, with our two members, as the file stores it."""
        data = {k: v for k, v in self.key.as_dict(private=True).items() if k != "kid"}
        data.update({"kid": self.kid, "alg": self.alg, "use": "sig", CREATED: self.created_at})
        if self.retires_at is not None:
            data[RETIRES] = self.retires_at
        return data

    @classmethod
    def new(cls, alg: str, now: float) -> ManagedKey:
        if alg not in ALGORITHMS:
            raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)} (got {alg!r})")
        key: Any
        if alg == "RS256":
            key = RSAKey.generate_key(_RSA_BITS)
        elif alg == "ES256":
            key = ECKey.generate_key("P-256")
        else:
            key = OKPKey.generate_key("Ed25519")
        return cls(key=key, kid=key.thumbprint(), alg=alg, created_at=int(now))

    @classmethod
    def from_dict(cls, data: object, where: str) -> ManagedKey:
        if not isinstance(data, dict):
            raise KeySetError(f"{where}: expected a JSON object")
        alg = data.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise KeySetError(f"{where}: alg must be one of {', '.join(ALGORITHMS)} (got {alg!r})")
        kty, curve = ALGORITHMS[alg]
        if data.get("kty") != kty or (curve is not None and data.get("crv") != curve):
            wanted = kty + (f" with crv {curve}" if curve else "")
            raise KeySetError(f"{where}: alg {alg} needs a {wanted} key")
        try:
            with warnings.catch_warnings():
                # joserfc warns about a small RSA key; we refuse one below, in our words.
                warnings.simplefilter("ignore")
                key: Any = JWKRegistry.import_key(dict(data))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise KeySetError(f"{where}: not a valid {kty} key ({type(exc).__name__})") from None
        if kty == "RSA" and key.raw_value.key_size < _RSA_BITS:
            raise KeySetError(f"{where}: RSA keys must have at least {_RSA_BITS} bits")
        created, retires = data.get(CREATED, 0), data.get(RETIRES)
        if not _whole_number(created) or not (retires is None or _whole_number(retires)):
            raise KeySetError(f"{where}: {CREATED} and {RETIRES} must be Unix seconds")
        kid = data.get("kid") or key.thumbprint()
        if not isinstance(kid, str):
            raise KeySetError(f"{where}: kid must be a string")
        return cls(key=key, kid=kid, alg=alg, created_at=created, retires_at=retires)


@attrs.frozen
class SigningKeys:
    """A key set: the newest key without a retirement time signs; every active key verifies."""

    keys: tuple[ManagedKey, ...]

    def __attrs_post_init__(self) -> None:
        kids = [k.kid for k in self.keys]
        duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
        if duplicates:
            raise KeySetError(f"two keys share kid {duplicates[0]!r}")
        if not any(k.retires_at is None and k.can_sign for k in self.keys):
            raise KeySetError("no key can sign: every key is public or has a retirement time")

    @classmethod
    def generate(cls, alg: str, now: float) -> SigningKeys:
        return cls((ManagedKey.new(alg, now),))

    @classmethod
    def from_jwks(cls, data: object) -> SigningKeys:
        entries = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(entries, list) or not entries:
            raise KeySetError('expected a JWK Set: {"keys": [ ... ]} with at least one key')
        return cls(tuple(ManagedKey.from_dict(e, f"key {i}") for i, e in enumerate(entries)))

    @classmethod
    def read(cls, path: Path) -> SigningKeys:
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise KeySetError(f"{path}: cannot read the key set ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise KeySetError(f"{path}: not JSON ({exc})") from None
        try:
            keys = cls.from_jwks(data)
        except KeySetError as exc:
            raise KeySetError(f"{path}: {exc}") from None
        with contextlib.suppress(OSError):
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                logger.warning(
                    "key set %s can be read by other users; it holds private keys: chmod 600 it",
                    path,
                )
        return keys

    def signing_key(self, now: float) -> ManagedKey:
        """The key that signs at `now`: the newest that has started signing and not retired."""
        started = [k for k in self.keys if k.can_sign and k.active(now) and k.created_at <= now]
        if not started:  # written by a machine whose clock runs ahead of ours
            started = [k for k in self.keys if k.can_sign and k.retires_at is None]
        # Newest first; on a tie, the one written last.
        return max(reversed(started), key=lambda k: k.created_at)

    def newest(self) -> ManagedKey:
        """The key added last (by `generate` or `rotate`), whether it signs yet or not."""
        return max(reversed(self.keys), key=lambda k: k.created_at)

    def find(self, kid: object, now: float) -> ManagedKey | None:
        """The active key named `kid`; None for an unknown or retired one."""
        return next((k for k in self.keys if k.kid == kid and k.active(now)), None)

    def public_jwks(self, now: float) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys if k.active(now)]}

    def rotated(self, alg: str, now: float, overlap_seconds: int) -> SigningKeys:
        """A new signing key; the keys it replaces sign until it starts, then verify for
        `overlap_seconds` more at most (a key still in an earlier rotation's overlap keeps
        the sooner of its own retirement and this one).

        The new key starts signing ACTIVATION_DELAY seconds from now: by then every
        server (KeyRing re-reads the file every RELOAD_SECONDS) knows it, so no server
        refuses a token another one signed with it. With `overlap_seconds` 0 (a leaked
        key) it starts at once, and every older key is out at once: the leaked one may be
        the key an earlier rotation left verifying. Keys whose retirement has passed are
        dropped: no token they signed is still valid.
        """
        starts = int(now) + (ACTIVATION_DELAY if overlap_seconds > 0 else 0)
        retire_at = starts + overlap_seconds
        kept = tuple(
            attrs.evolve(
                k, retires_at=retire_at if k.retires_at is None else min(k.retires_at, retire_at)
            )
            for k in self.keys
            if k.active(now)
        )
        return SigningKeys((*kept, ManagedKey.new(alg, starts)))  # the new key last

    def to_jwks(self) -> dict[str, Any]:
        return {"keys": [k.to_dict() for k in self.keys]}

    def write(self, path: Path, *, replace: bool) -> None:
        """Write the set with mode 0600. Atomic: readers see the old file or the new one."""
        if not replace and path.exists():
            raise KeySetError(f"{path} already exists")
        text = json.dumps(self.to_jwks(), indent=2) + "\n"
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), 0o600)
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            if not replace:
                # link() fails when the name exists: no race with another writer.
                os.link(temporary, path)
                os.unlink(temporary)
            else:
                os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class KeyRing:
    """The key-set file as a running server sees it, re-read when it changes.

    `current()` looks at the file's inode, size and mtime at most every
    `check_every` seconds; a changed file is read again, and one that no longer
    loads is logged and ignored (the keys already loaded keep working).

    Example:

        SigningKeys.generate("EdDSA", now=time.time()).write(Path("keys.json"), replace=True)
        ring = KeyRing(Path("keys.json"))                   # /etc/authkit/keys.json, say
        key = ring.current().signing_key(time.time())
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        check_every: float = RELOAD_SECONDS,
    ) -> None:
        self.path = path
        self.check_every = check_every
        self._clock = clock
        self._stamp = _stamp(path)
        self._keys = SigningKeys.read(path)
        self._checked_at = clock()

    def current(self) -> SigningKeys:
        now = self._clock()
        if now - self._checked_at >= self.check_every:
            self._checked_at = now
            stamp = _stamp(self.path)
            if stamp is not None and stamp != self._stamp:
                try:
                    self._keys = SigningKeys.read(self.path)
                    logger.info("key set %s changed; reloaded", self.path)
                except KeySetError as exc:
                    logger.error("key set changed but cannot be used; keeping the old one: %s", exc)
                self._stamp = stamp
        return self._keys
