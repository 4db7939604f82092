"""Managed keys (authkit.keys) and TokenIssuer with a key ring: every alg, the file, rotation
with overlap on an injected clock, JWKS checked by PyJWT (an independent JOSE library), and
the key-confusion attacks an asymmetric verifier must refuse.

Over real HTTP: tests/e2e/test_token_lifecycle.py. The CLI: tests/unit/test_keys_cli.py.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
import warnings
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import KeySet
from support.clock import Clock
from support.jwt import hmac_jwt, segment

from authkit.core.errors import InvalidToken
from authkit.tokens.issuer import TokenIssuer
from authkit.tokens.keys import (
    ACTIVATION_DELAY,
    ALGORITHMS,
    CREATED,
    RELOAD_SECONDS,
    RETIRES,
    KeyRing,
    KeySetError,
    SigningKeys,
)

NOW = 1_800_000_000
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def claims(**extra: Any) -> dict[str, Any]:
    return {"username": "alice", "sub": "u1", "iat": NOW, "exp": NOW + 60, **extra}


@pytest.fixture(scope="module")
def key_sets() -> dict[str, SigningKeys]:
    # One per algorithm for the module: RSA generation is the slow part of these tests.
    return {alg: SigningKeys.generate(alg, NOW - 10) for alg in ALGORITHMS}


def kid(token: str) -> str:
    found: str = pyjwt.get_unverified_header(token)["kid"]
    return found


def ring_for(keys: SigningKeys, path: Path, clock: Clock) -> KeyRing:
    keys.write(path, replace=True)
    return KeyRing(path, clock=clock)


# ---------------------------------------------------------------- the file


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_generated_file_is_private_and_a_jwk_set_joserfc_loads(
    alg: str, key_sets: dict[str, SigningKeys], tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    key_sets[alg].write(path, replace=False)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text("utf-8"))
    loaded = KeySet.import_key_set(data)  # joserfc reads our members as it reads any JWK's
    (entry,) = data["keys"]
    assert loaded.keys[0].kid == entry["kid"]
    assert entry["alg"] == alg and entry["use"] == "sig" and entry[CREATED] == NOW - 10
    assert PRIVATE_MEMBERS & set(entry)  # it is a private key
    assert SigningKeys.read(path).signing_key(time.time()).kid == entry["kid"]


def test_write_without_replace_refuses_an_existing_file(
    key_sets: dict[str, SigningKeys], tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    path.write_text("precious")
    with pytest.raises(KeySetError, match="already exists"):
        key_sets["ES256"].write(path, replace=False)
    assert path.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temporary file left


def test_a_file_others_can_read_loads_with_a_warning(
    key_sets: dict[str, SigningKeys], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keys.json"
    key_sets["ES256"].write(path, replace=False)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="authkit.keys"):
        SigningKeys.read(path)
    assert "chmod 600" in caplog.text


def entry_of(keys: SigningKeys, **changes: Any) -> dict[str, Any]:
    entry = keys.to_jwks()["keys"][0]
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda ks: "not json", "not JSON"),
        (lambda ks: {"keys": []}, "at least one key"),
        (lambda ks: [1, 2], "JWK Set"),
        (lambda ks: {"keys": [entry_of(ks["ES256"], alg="HS256")]}, "alg must be one of"),
        (lambda ks: {"keys": [entry_of(ks["ES256"], alg=None)]}, "alg must be one of"),
        (lambda ks: {"keys": [entry_of(ks["ES256"], alg="RS256")]}, "needs a RSA key"),
        (lambda ks: {"keys": [entry_of(ks["EdDSA"], crv="X25519")]}, "crv Ed25519"),
        (lambda ks: {"keys": [entry_of(ks["ES256"], x="%%%")]}, "not a valid EC key"),
        (lambda ks: {"keys": [entry_of(ks["ES256"], **{CREATED: "yesterday"})]}, "Unix seconds"),
        (
            lambda ks: {"keys": [entry_of(ks["ES256"]), entry_of(ks["ES256"])]},
            "share kid",
        ),
        (
            lambda ks: {"keys": [entry_of(ks["ES256"], **{RETIRES: NOW})]},
            "no key can sign",
        ),
        (
            lambda ks: {"keys": [{**ks["ES256"].keys[0].public_jwk()}]},
            "no key can sign",
        ),
    ],
)
def test_unusable_files_are_refused_with_the_reason(
    make: Any, message: str, key_sets: dict[str, SigningKeys], tmp_path: Path
) -> None:
    path = tmp_path / "keys.json"
    content = make(key_sets)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(KeySetError, match=message) as caught:
        SigningKeys.read(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeySetError, match="cannot read"):
        SigningKeys.read(tmp_path / "nope.json")


def test_small_rsa_keys_are_refused() -> None:
    from joserfc.jwk import RSAKey

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns about the size; we refuse it
        small = RSAKey.generate_key(1024, private=True, auto_kid=False)
    entry = {**small.as_dict(private=True), "alg": "RS256"}
    with pytest.raises(KeySetError, match="at least 2048 bits"):
        SigningKeys.from_jwks({"keys": [entry]})


# ---------------------------------------------------------------- signing and JWKS


@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_tokens_carry_kid_and_verify_with_pyjwt_from_the_jwks(
    alg: str, key_sets: dict[str, SigningKeys], tmp_path: Path
) -> None:
    clock = Clock()
    issuer = TokenIssuer(keys=ring_for(key_sets[alg], tmp_path / "k.json", clock), clock=clock)
    token = issuer.issue(user_id="u1", username="alice")

    header = pyjwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "JWT", "kid": key_sets[alg].keys[0].kid}
    jwks = issuer.public_jwks()
    for jwk in jwks["keys"]:
        assert not PRIVATE_MEMBERS & set(jwk), jwk
        assert not any(name.startswith("authkit_") for name in jwk)
    key = pyjwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    decoded = pyjwt.decode(
        token, key, algorithms=[alg], options={"verify_exp": False, "verify_iat": False}
    )
    assert decoded["sub"] == "u1" and decoded["exp"] == NOW + 60
    assert issuer.verify(token)["username"] == "alice"
    assert issuer.algorithm == alg


def test_hs256_mode_serves_an_empty_jwks() -> None:
    assert TokenIssuer("s" * 40).public_jwks() == {"keys": []}


# ---------------------------------------------------------------- rotation with overlap


def test_rotation_old_tokens_verify_until_the_overlap_ends_then_stop(
    key_sets: dict[str, SigningKeys], tmp_path: Path
) -> None:
    path, clock = tmp_path / "keys.json", Clock()
    issuer = TokenIssuer(ttl_seconds=60, keys=ring_for(key_sets["ES256"], path, clock), clock=clock)
    old_kid = key_sets["ES256"].keys[0].kid
    old_token = issuer.issue(user_id="u1", username="alice")
    # A replica that has not reloaded yet, still signing with the old key.
    lagging = TokenIssuer(
        ttl_seconds=60, keys=ring_for(key_sets["ES256"], tmp_path / "old.json", clock), clock=clock
    )

    # `authkit keys rotate` with a 65 s overlap, switching to EdDSA on the way.
    SigningKeys.read(path).rotated("EdDSA", clock.now, overlap_seconds=65).write(path, replace=True)
    clock.now += 5  # the ring looks at the file again: it verifies with the new key now...
    new_kid = SigningKeys.read(path).newest().kid
    assert {k["kid"] for k in issuer.public_jwks()["keys"]} == {old_kid, new_kid}
    # ...but signs with the old one until every server has had the chance to reload.
    assert pyjwt.get_unverified_header(issuer.issue(user_id="u1", username="a"))["kid"] == old_kid
    clock.now = NOW + ACTIVATION_DELAY
    new_token = issuer.issue(user_id="u1", username="alice")
    assert pyjwt.get_unverified_header(new_token)["kid"] == new_kid != old_kid
    assert pyjwt.get_unverified_header(new_token)["alg"] == "EdDSA"
    late_token = lagging.issue(user_id="u1", username="alice")  # exp = NOW + 6 + 60

    clock.now = NOW + 59
    assert issuer.verify(old_token)["sub"] == "u1"  # inside its lifetime: still good
    clock.now = NOW + ACTIVATION_DELAY + 59
    assert issuer.verify(late_token)["sub"] == "u1"  # its last second
    clock.now = NOW + ACTIVATION_DELAY + 65  # the overlap is over: the old key is out
    with pytest.raises(InvalidToken) as caught:
        issuer.verify(late_token)
    assert caught.value.reason in ("unknown_key", "expired")
    unexpired = TokenIssuer(
        ttl_seconds=3600,
        keys=ring_for(key_sets["ES256"], tmp_path / "old2.json", clock),
        clock=clock,
    ).issue(user_id="u1", username="alice")
    with pytest.raises(InvalidToken) as caught:
        issuer.verify(unexpired)
    assert caught.value.reason == "unknown_key"
    assert [k["kid"] for k in issuer.public_jwks()["keys"]] == [new_kid]
    assert issuer.verify(issuer.issue(user_id="u2", username="bob"))["sub"] == "u2"

    # The next rotation drops the retired key from the file.
    SigningKeys.read(path).rotated("EdDSA", clock.now, 70).write(path, replace=True)
    assert old_kid not in {k.kid for k in SigningKeys.read(path).keys}


def test_the_ring_keeps_its_keys_when_the_file_turns_bad(
    key_sets: dict[str, SigningKeys], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, clock = tmp_path / "keys.json", Clock()
    ring = ring_for(key_sets["ES256"], path, clock)
    path.write_text("{ half a file")
    clock.now += 4
    assert ring.current() is ring.current()  # not looked at yet: checked every 5 s
    clock.now += 1
    with caplog.at_level(logging.ERROR, logger="authkit.keys"):
        keys = ring.current()
    assert keys.signing_key(time.time()).kid == key_sets["ES256"].keys[0].kid
    assert "keeping the old one" in caplog.text


# ---------------------------------------------------------------- what verification refuses


@pytest.fixture
def rs256(key_sets: dict[str, SigningKeys], tmp_path: Path) -> TokenIssuer:
    clock = Clock(NOW + 1)
    return TokenIssuer(keys=ring_for(key_sets["RS256"], tmp_path / "rs.json", clock), clock=clock)


def public_pem(keys: SigningKeys) -> bytes:
    public = keys.keys[0].key.raw_value.public_key()
    return public.public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_key_confusion_hs256_signed_with_the_public_key_is_refused(
    rs256: TokenIssuer, key_sets: dict[str, SigningKeys]
) -> None:
    kid = key_sets["RS256"].keys[0].kid
    pem = public_pem(key_sets["RS256"])
    for secret in (pem, pem.strip(), json.dumps(key_sets["RS256"].keys[0].public_jwk()).encode()):
        forged = hmac_jwt({"alg": "HS256", "typ": "JWT", "kid": kid}, claims(), secret)
        with pytest.raises(InvalidToken) as caught:
            rs256.verify(forged)
        assert caught.value.reason == "bad_algorithm"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "none", "typ": "JWT", "kid": "KID"},
        {"alg": "ES256", "typ": "JWT", "kid": "KID"},
        {"alg": "RS256", "typ": "JWT"},
        {"alg": "RS256", "typ": "JWT", "kid": "someone-elses"},
        {"alg": "RS256", "typ": "JWT", "kid": ["KID"]},
    ],
)
def test_tokens_with_another_alg_or_no_known_kid_are_refused(
    header: dict[str, Any], rs256: TokenIssuer, key_sets: dict[str, SigningKeys]
) -> None:
    kid = key_sets["RS256"].keys[0].kid
    header = {k: (kid if v == "KID" else v) for k, v in header.items()}
    real = rs256.issue(user_id="u1", username="alice")
    forged = f"{segment(header)}.{real.split('.', 1)[1]}"
    with pytest.raises(InvalidToken):
        rs256.verify(forged)


def test_an_hs256_token_made_with_jwt_secret_is_refused_when_keys_are_configured(
    rs256: TokenIssuer,
) -> None:
    node_style = hmac_jwt({"alg": "HS256", "typ": "JWT"}, claims(), b"s" * 40)
    with pytest.raises(InvalidToken):
        rs256.verify(node_style)


def test_an_rs256_token_is_refused_by_an_hs256_issuer(rs256: TokenIssuer) -> None:
    token = rs256.issue(user_id="u1", username="alice")
    with pytest.raises(InvalidToken) as caught:
        TokenIssuer("s" * 40, clock=lambda: NOW + 1).verify(token)
    assert caught.value.reason == "bad_algorithm"


def test_a_tampered_payload_is_refused(rs256: TokenIssuer) -> None:
    head, _, signature = rs256.issue(user_id="u1", username="alice").split(".")
    with pytest.raises(InvalidToken) as caught:
        rs256.verify(f"{head}.{segment(claims(username='admin'))}.{signature}")
    assert caught.value.reason == "bad_signature"


def es256_issuer(
    key_sets: dict[str, SigningKeys], tmp_path: Path
) -> tuple[Path, Clock, TokenIssuer]:
    """An issuer on a key file in tmp_path (ES256, the set's one key), on a clock of its own."""
    path, clock = tmp_path / "keys.json", Clock()
    keys = ring_for(key_sets["ES256"], path, clock)
    return path, clock, TokenIssuer(ttl_seconds=600, keys=keys, clock=clock)


def test_a_remembered_token_is_refused_once_its_key_is_rotated_out(
    key_sets: dict[str, SigningKeys], tmp_path: Path
) -> None:
    path, clock, issuer = es256_issuer(key_sets, tmp_path)
    token = issuer.issue(user_id="u1", username="alice")
    assert issuer.verify(token)["sub"] == "u1"  # verified once: now in the cache
    assert issuer.verify(token)["sub"] == "u1"

    # A leaked key: `authkit keys rotate --overlap 0`.
    SigningKeys.read(path).rotated("ES256", clock.now, overlap_seconds=0).write(path, replace=True)
    clock.now += 5
    with pytest.raises(InvalidToken) as caught:
        issuer.verify(token)
    assert caught.value.reason == "unknown_key"
    with pytest.raises(InvalidToken):
        issuer.verify(token)


def test_overlap_0_also_retires_a_key_still_in_an_earlier_overlap(
    key_sets: dict[str, SigningKeys], tmp_path: Path
) -> None:
    path, clock, issuer = es256_issuer(key_sets, tmp_path)
    first = issuer.issue(user_id="u1", username="alice")
    # A routine rotation leaves the first key verifying for an hour...
    SigningKeys.read(path).rotated("ES256", clock.now, overlap_seconds=3600).write(
        path, replace=True
    )
    clock.now += ACTIVATION_DELAY
    second = issuer.issue(user_id="u1", username="alice")
    assert kid(second) != kid(first)
    assert issuer.verify(first)["sub"] == "u1"

    # ...then a leak: whichever older key it was, none may verify from the next reload on.
    SigningKeys.read(path).rotated("ES256", clock.now, overlap_seconds=0).write(path, replace=True)
    clock.now += RELOAD_SECONDS
    for token in (first, second):
        with pytest.raises(InvalidToken) as caught:
            issuer.verify(token)
        assert caught.value.reason == "unknown_key"
    assert issuer.verify(issuer.issue(user_id="u1", username="alice"))["sub"] == "u1"
    assert len(issuer.public_jwks()["keys"]) == 1


def test_a_rotation_never_lengthens_an_overlap_already_running(
    key_sets: dict[str, SigningKeys],
) -> None:
    once = key_sets["ES256"].rotated("ES256", NOW, overlap_seconds=600)
    twice = once.rotated("ES256", NOW + 60, overlap_seconds=3600)
    retirements = {k.kid: k.retires_at for k in twice.keys}
    assert retirements[key_sets["ES256"].keys[0].kid] == NOW + ACTIVATION_DELAY + 600
    assert retirements[once.newest().kid] == NOW + 60 + ACTIVATION_DELAY + 3600
