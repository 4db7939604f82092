"""Tokens only the key's holder could make, that authkit would never issue, are refused
(docs/security.md, "Token claims"): `iat` in the future, a lifetime longer than
configured, `Infinity` and other non-finite numbers, a JSON key given twice, and an
ES256 signature in its high-S twin encoding.

Tokens are built by hand with the standard library (tests/support/jwt.py), signed with
the right secret or key: every refusal here is of a token whose signature is good.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import jwt as pyjwt
import mongomock
import pytest
from starlette.testclient import TestClient
from support.clock import Clock
from support.jwt import b64url, b64url_decode, bearer
from support.settings import make_settings

from authkit import create_app
from authkit.core.errors import InvalidToken
from authkit.tokens.issuer import TokenIssuer
from authkit.tokens.keys import KeyRing, SigningKeys
from authkit.tokens.strict import EC_ORDERS

NOW = 1_800_000_000
TTL = 60
SECRET = "claims-test-secret-0123456789abcdef0123456789"
HEADER = '{"alg":"HS256","typ":"JWT"}'
P256_ORDER = EC_ORDERS["ES256"]
# PyJWT checks the signature only: the claims are at NOW, which is not the real time.
SIGNATURE_ONLY = {"verify_exp": False, "verify_iat": False}


def raw_token(payload: str, header: str = HEADER, secret: str = SECRET) -> str:
    """`header` and `payload` exactly as written (JSON text, not objects), HS256-signed."""
    signing_input = f"{b64url(header.encode())}.{b64url(payload.encode())}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def claims_text(**values: str) -> str:
    """The claims of a fresh token as JSON text, each value given as JSON text."""
    fields = {"username": '"alice"', "sub": '"u1"', "iat": str(NOW), "exp": str(NOW + TTL)}
    fields.update(values)
    return "{" + ",".join(f'"{k}":{v}' for k, v in fields.items() if v) + "}"


def issuer(leeway: int = 0) -> TokenIssuer:
    return TokenIssuer(SECRET, TTL, leeway=leeway, clock=Clock(NOW + 1))


def reason_refused(token: str, verifier: TokenIssuer | None = None) -> str:
    with pytest.raises(InvalidToken) as caught:
        (verifier or issuer()).verify(token)
    return caught.value.reason


def test_the_hand_made_tokens_are_good_when_nothing_is_wrong_with_them() -> None:
    assert issuer().verify(raw_token(claims_text()))["sub"] == "u1"
    assert issuer().verify(raw_token(claims_text(iat="")))["sub"] == "u1"  # no iat
    assert issuer().verify(raw_token(claims_text(iat=f"{NOW}.5", exp=f"{NOW + 60}.5")))


@pytest.mark.parametrize(
    "values",
    [
        {"iat": str(NOW + 10 * 365 * 86400), "exp": str(NOW + 10 * 365 * 86400 + 60)},
        {"iat": str(NOW + 3)},
    ],
    ids=["ten-years-ahead", "three-seconds-ahead"],
)
def test_a_token_issued_in_the_future_is_refused(values: dict[str, str]) -> None:
    assert reason_refused(raw_token(claims_text(**values))) == "issued_in_future"


def test_iat_ahead_within_the_leeway_passes() -> None:
    token = raw_token(claims_text(iat=str(NOW + 3), exp=str(NOW + 3 + TTL)))
    assert issuer(leeway=2).verify(token)
    assert reason_refused(token, issuer(leeway=1)) == "issued_in_future"


@pytest.mark.parametrize(
    "values",
    [
        {"exp": "1e308"},
        {"exp": str(NOW + TTL + 1)},
        {"exp": str(10**40)},
        {"iat": "", "exp": str(NOW + 3600)},
        {"iat": "", "exp": "1e308"},
        {"iat": str(NOW - 86400), "exp": str(NOW + 30)},  # backdated: a day-long token
    ],
    ids=["1e308", "one-second-over", "huge-int", "no-iat-an-hour", "no-iat-1e308", "backdated"],
)
def test_a_lifetime_longer_than_configured_is_refused(values: dict[str, str]) -> None:
    assert reason_refused(raw_token(claims_text(**values))) == "lifetime_too_long"


@pytest.mark.parametrize(
    "values",
    [
        {"exp": "Infinity"},
        {"exp": "-Infinity"},
        {"exp": "NaN"},
        {"exp": "1e309"},
        {"iat": "-1e999"},
        {"nbf": "NaN"},
        {"extra": '{"deep": [Infinity]}'},
    ],
    ids=["Infinity", "-Infinity", "NaN", "1e309", "iat--1e999", "nbf-NaN", "nested"],
)
def test_non_finite_numbers_are_refused(values: dict[str, str]) -> None:
    assert reason_refused(raw_token(claims_text(**values))) == "non_finite"


@pytest.mark.parametrize(
    ("payload", "header"),
    [
        (claims_text()[:-1] + ',"sub":"admin"}', HEADER),
        (claims_text()[:-1] + ',"exp":1e12}', HEADER),
        (claims_text(extra='{"a":1,"a":2}'), HEADER),
        (claims_text(), '{"alg":"HS256","typ":"JWT","typ":"JWT"}'),
    ],
    ids=["sub-twice", "exp-twice", "nested-object", "header"],
)
def test_a_key_given_twice_is_refused(payload: str, header: str) -> None:
    assert reason_refused(raw_token(payload, header)) == "duplicate_key"


def test_over_http_each_is_the_same_bare_401() -> None:
    now = int(time.time())
    fresh = {"iat": str(now), "exp": str(now + TTL)}
    tokens = [
        raw_token(claims_text(iat=str(now + 86400), exp=str(now + 86400 + TTL))),
        raw_token(claims_text(**{**fresh, "exp": "Infinity"})),
        raw_token(claims_text(**{**fresh, "exp": str(now + 86400)})),
        raw_token(claims_text(**fresh)[:-1] + ',"sub":"admin"}'),
    ]
    good = raw_token(claims_text(**fresh))
    with TestClient(create_app(make_settings(SECRET), database=mongomock.MongoClient().db)) as c:
        assert c.get("/auth/me", headers=bearer(good)).status_code == 200
        answers = [c.get("/auth/me", headers=bearer(t)) for t in tokens]
    assert [a.status_code for a in answers] == [401] * len(tokens)
    assert {a.text for a in answers} == {'{"message":"Unauthorized","statusCode":401}'}


# ---------------------------------------------------------------- ES256: low S only


@pytest.fixture(scope="module")
def es256(tmp_path_factory: pytest.TempPathFactory) -> tuple[TokenIssuer, SigningKeys]:
    keys = SigningKeys.generate("ES256", NOW - 10)
    path: Path = tmp_path_factory.mktemp("keys") / "keys.json"
    keys.write(path, replace=True)
    clock = Clock(NOW)
    return TokenIssuer(ttl_seconds=TTL, keys=KeyRing(path, clock=clock), clock=clock), keys


def s_of(token: str) -> int:
    return int.from_bytes(b64url_decode(token.rsplit(".", 1)[1])[32:], "big")


def twin(token: str) -> str:
    """The same ECDSA signature with s replaced by n - s: it verifies just as well."""
    signature = b64url_decode(token.rsplit(".", 1)[1])
    other = signature[:32] + (P256_ORDER - s_of(token)).to_bytes(32, "big")
    return f"{token.rsplit('.', 1)[0]}.{base64.urlsafe_b64encode(other).rstrip(b'=').decode()}"


def public_key(keys: SigningKeys) -> Any:
    return pyjwt.PyJWK(keys.keys[0].public_jwk()).key


def test_authkit_signs_only_low_s_and_pyjwt_verifies_it(
    es256: tuple[TokenIssuer, SigningKeys],
) -> None:
    tokens_issuer, keys = es256
    # Half of all ECDSA signatures come out high: 40 tokens would all be low by chance
    # once in 2**40.
    tokens = [tokens_issuer.issue(user_id=f"u{n}", username="alice") for n in range(40)]
    assert all(s_of(t) <= P256_ORDER // 2 for t in tokens)
    for token in tokens:
        pyjwt.decode(token, public_key(keys), algorithms=["ES256"], options=SIGNATURE_ONLY)
        assert tokens_issuer.verify(token)


def test_the_high_s_twin_of_a_good_token_is_refused(
    es256: tuple[TokenIssuer, SigningKeys],
) -> None:
    tokens_issuer, keys = es256
    token = tokens_issuer.issue(user_id="u1", username="alice")
    high = twin(token)
    assert s_of(high) > P256_ORDER // 2
    # An independent library accepts it: the signature is good, only its encoding differs.
    pyjwt.decode(high, public_key(keys), algorithms=["ES256"], options=SIGNATURE_ONLY)
    assert reason_refused(high, tokens_issuer) == "high_s"


def test_an_iat_that_is_not_a_number_is_bad_claims_not_future() -> None:
    assert reason_refused(raw_token(claims_text(iat='"tomorrow"'))) == "bad_claims"
