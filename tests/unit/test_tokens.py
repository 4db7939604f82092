"""authkit.tokens.TokenIssuer: tokens byte-compatible with @nestjs/jwt (jsonwebtoken) both ways,
expiry by an injected clock, and every token verification must refuse.

Hostile tokens are built with the standard library only (tests/support/jwt.py: hmac,
hashlib, base64, json), independently of joserfc.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from typing import Any

import pytest
from support.clock import Clock
from support.jwt import b64url, b64url_decode, make_jwt, payload_of

from authkit.core.errors import InvalidToken
from authkit.tokens.issuer import MAX_TOKEN_LENGTH, VERIFIED_CACHE_SIZE, TokenIssuer

JSONWEBTOKEN_HS256_HEADER = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"HS256","typ":"JWT"}
NOW = 1_800_000_000
SECRET = "token-test-secret-0123456789abcdef0123456789"


# Signed with this module's SECRET unless a test says `secret=`.
forge = functools.partial(make_jwt, secret=SECRET)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "username": "alice",
        "sub": "6650f0c2a1b2c3d4e5f60718",
        "iat": NOW,
        "exp": NOW + 60,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def issuer_at(now: float, secret: str = SECRET, ttl: int = 60) -> TokenIssuer:
    return TokenIssuer(secret, ttl, clock=Clock(now))


# ---------------------------------------------------------------- tokens the Node app issued


def node_tokens(node_compat: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    users = {u["username"]: u for u in node_compat["users"]}
    return [
        (t["token"], payload_of(t["token"]), users[t["username"]]) for t in node_compat["tokens"]
    ]


def test_node_tokens_verify_while_valid(node_compat: dict[str, Any]) -> None:
    for token, payload, user in node_tokens(node_compat):
        verifier = issuer_at(payload["iat"] + 1, node_compat["jwt_secret"])
        verified = verifier.verify(token)
        assert verified["sub"] == user["_id"]
        assert verified["username"] == user["username"]


def test_node_tokens_verify_in_their_last_second(node_compat: dict[str, Any]) -> None:
    for token, payload, _ in node_tokens(node_compat):
        assert issuer_at(payload["exp"] - 1, node_compat["jwt_secret"]).verify(token)


@pytest.mark.parametrize("after_exp", [0, 1, 3600])
def test_node_tokens_are_expired_from_exp_on(node_compat: dict[str, Any], after_exp: int) -> None:
    # jsonwebtoken: expired when now >= exp.
    for token, payload, _ in node_tokens(node_compat):
        verifier = issuer_at(payload["exp"] + after_exp, node_compat["jwt_secret"])
        with pytest.raises(InvalidToken) as caught:
            verifier.verify(token)
        assert "xpired" in caught.value.reason
        assert caught.value.message == "Unauthorized"


def test_token_from_a_server_whose_clock_is_ahead_is_accepted_within_the_leeway(
    node_compat: dict[str, Any],
) -> None:
    # Two servers sharing the secret (the NestJS app and authkit during a migration, or two
    # authkit replicas) never have identical clocks. Less than a second ahead always passes
    # (`iat` is whole seconds); more passes within AUTHKIT_JWT_LEEWAY, as `exp` and `nbf` do.
    secret = node_compat["jwt_secret"]
    for token, payload, _ in node_tokens(node_compat):
        assert issuer_at(payload["iat"] - 0.999, secret).verify(token)
        assert TokenIssuer(secret, 60, leeway=2, clock=Clock(payload["iat"] - 2)).verify(token)
        with pytest.raises(InvalidToken) as caught:
            issuer_at(payload["iat"] - 2, secret).verify(token)
        assert caught.value.reason == "issued_in_future"


def test_node_token_with_another_secret_is_refused(node_compat: dict[str, Any]) -> None:
    token, payload, _ = node_tokens(node_compat)[0]
    with pytest.raises(InvalidToken):
        issuer_at(payload["iat"] + 1, SECRET).verify(token)


def test_our_token_is_the_node_apps_plus_a_jti(node_compat: dict[str, Any]) -> None:
    # Same header bytes, same claims in the same order, then the jti every token carries
    # (jsonwebtoken ignores claims it is not asked to check, so the NestJS app accepts it).
    for token, payload, user in node_tokens(node_compat):
        ours = issuer_at(payload["iat"], node_compat["jwt_secret"]).issue(
            user_id=user["_id"], username=user["username"]
        )
        assert ours.split(".")[0] == token.split(".")[0]
        claims = payload_of(ours)
        jti = claims.pop("jti")
        assert claims == payload and list(claims) == list(payload)
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", jti)
        head, body, signature = ours.split(".")
        expected = hmac.new(
            node_compat["jwt_secret"].encode(), f"{head}.{body}".encode(), hashlib.sha256
        ).digest()
        assert b64url_decode(signature) == expected


def test_every_token_has_its_own_jti() -> None:
    issuer = issuer_at(NOW)
    jtis = {payload_of(issuer.issue(user_id="u1", username="a"))["jti"] for _ in range(50)}
    assert len(jtis) == 50


# ---------------------------------------------------------------- tokens we issue


def test_header_segment_is_the_bytes_jsonwebtoken_writes() -> None:
    token = issuer_at(NOW).issue(user_id="6650f0c2a1b2c3d4e5f60718", username="alice")
    assert token.split(".")[0] == JSONWEBTOKEN_HS256_HEADER


@pytest.mark.parametrize("ttl", [1, 60, 3600, 7 * 86400])
def test_payload_keys_in_order_and_lifetime(ttl: int) -> None:
    token = issuer_at(NOW + 0.9, ttl=ttl).issue(user_id="abc123", username="élodie")
    segment = token.split(".")[1]
    payload = payload_of(token)
    assert list(payload) == ["username", "sub", "iat", "exp", "jti"]
    jti = payload.pop("jti")
    assert payload == {"username": "élodie", "sub": "abc123", "iat": NOW, "exp": NOW + ttl}
    payload["jti"] = jti
    assert payload["exp"] - payload["iat"] == ttl
    # compact JSON with raw UTF-8, as JSON.stringify writes it
    expected = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert b64url_decode(segment) == expected


def test_our_token_verifies_with_plain_hmac_sha256() -> None:
    token = issuer_at(NOW).issue(user_id="u1", username="alice")
    head, body, signature = token.split(".")
    expected = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(b64url_decode(signature), expected)
    assert "=" not in token  # base64url without padding


def test_round_trip_until_expiry(clock: Clock) -> None:
    issuer = TokenIssuer(SECRET, 60, clock=clock)
    token = issuer.issue(user_id="u1", username="alice")
    clock.now += 59
    assert issuer.verify(token)["username"] == "alice"
    clock.now += 1
    with pytest.raises(InvalidToken):
        issuer.verify(token)


def test_short_secret_still_works_without_warnings() -> None:
    issuer = issuer_at(NOW, secret="short")
    assert issuer.verify(issuer.issue(user_id="u1", username="alice"))["sub"] == "u1"


@pytest.mark.parametrize("ttl", [0, -60])
def test_lifetime_under_one_second_is_refused(ttl: int) -> None:
    with pytest.raises(ValueError, match="at least 1 second"):
        TokenIssuer(SECRET, ttl)


# ---------------------------------------------------------------- what verification refuses


def refuse(token: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        issuer_at(NOW + 1).verify(token)
    assert caught.value.status_code == 401
    assert caught.value.message == "Unauthorized"  # the reason is never sent
    return caught.value


def test_a_stdlib_token_is_accepted_as_a_baseline() -> None:
    assert issuer_at(NOW + 1).verify(forge(claims()))["username"] == "alice"


def test_refuses_alg_none() -> None:
    refuse(forge(claims(), alg="none"))


def test_refuses_alg_none_with_a_signature() -> None:
    head = b64url(b'{"alg":"none","typ":"JWT"}')
    real = forge(claims())
    refuse(head + real[real.index(".") :])


def test_refuses_hs512_with_the_same_secret() -> None:
    refuse(forge(claims(), alg="HS512"))


def test_refuses_hs384_with_the_same_secret() -> None:
    refuse(forge(claims(), alg="HS384"))


def test_refuses_a_token_without_exp() -> None:
    refuse(forge(claims(exp=None)))


def test_refuses_a_token_without_sub() -> None:
    refuse(forge(claims(sub=None)))


def test_refuses_a_token_without_username() -> None:
    refuse(forge(claims(username=None)))


def test_refuses_the_wrong_secret() -> None:
    refuse(forge(claims(), secret="definitely-not-the-secret"))


def test_refuses_an_expired_token() -> None:
    refuse(forge(claims(iat=NOW - 3600, exp=NOW - 1800)))


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not.a.jwt",
        "abc",
        "a.b",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.%%%.abc",
        b64url(b"[1,2]") + "." + b64url(b"{}") + ".sig",
        JSONWEBTOKEN_HS256_HEADER + "." + b64url(b"not json") + ".sig",
        "é.é.é",
    ],
)
def test_refuses_garbage(garbage: str) -> None:
    refuse(garbage)


def test_refuses_a_json_array_payload_even_when_signed() -> None:
    refuse(forge([1, 2, 3]))


def test_refuses_a_token_longer_than_the_limit_before_parsing_it() -> None:
    padding = "x" * MAX_TOKEN_LENGTH
    token = forge(claims(padding=padding))
    assert len(token) > MAX_TOKEN_LENGTH
    assert refuse(token).reason == "too_long"


def test_accepts_a_long_token_within_the_limit() -> None:
    token = forge(claims(padding=""))
    padding = "x" * ((MAX_TOKEN_LENGTH - len(token)) * 3 // 4 - 8)
    token = forge(claims(padding=padding))
    assert len(token) <= MAX_TOKEN_LENGTH
    assert issuer_at(NOW + 1).verify(token)["padding"] == padding


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": 12345},
        {"sub": ["a"]},
        {"sub": {"$ne": None}},
        {"username": 12345},
        {"username": ["alice"]},
        {"username": {"a": 1}},
        {"exp": "tomorrow"},
        {"exp": True},
    ],
)
def test_refuses_claims_of_the_wrong_type(overrides: dict[str, Any]) -> None:
    refuse(forge(claims(**overrides)))


def test_refuses_a_tampered_payload() -> None:
    head, _, signature = forge(claims()).split(".")
    forged = b64url(json.dumps(claims(username="admin"), separators=(",", ":")).encode())
    refuse(f"{head}.{forged}.{signature}")


def test_refuses_a_tampered_signature() -> None:
    token = forge(claims())
    last = token[-1]
    refuse(token[:-1] + ("A" if last != "A" else "B"))


def test_refuses_a_token_with_the_signature_stripped() -> None:
    token = forge(claims())
    refuse(token[: token.rindex(".") + 1])


# ---------------------------------------------------------------- the verified-token cache


def test_a_token_met_before_still_expires_on_time(clock: Clock) -> None:
    issuer = TokenIssuer(SECRET, 60, clock=clock)
    token = issuer.issue(user_id="u1", username="alice")
    assert issuer.verify(token)["sub"] == "u1"  # now remembered
    clock.now += 59
    assert issuer.verify(token)["sub"] == "u1"
    clock.now += 1
    with pytest.raises(InvalidToken) as refused:
        issuer.verify(token)
    assert refused.value.reason == "expired"


def test_a_token_met_before_is_not_valid_before_its_nbf(clock: Clock) -> None:
    issuer = TokenIssuer(SECRET, 60, clock=clock)
    token = forge(claims(iat=int(clock.now), nbf=int(clock.now), exp=int(clock.now) + 60))
    assert issuer.verify(token)["sub"]
    clock.now -= 5  # a clock stepped back (NTP) must not make nbf meaningless
    with pytest.raises(InvalidToken):
        issuer.verify(token)


def test_changing_the_claims_one_caller_got_does_not_reach_the_next() -> None:
    issuer = issuer_at(NOW)
    token = issuer.issue(user_id="u1", username="alice")
    issuer.verify(token)["username"] = "mallory"
    assert issuer.verify(token)["username"] == "alice"


def test_a_tampered_copy_of_a_remembered_token_is_still_refused() -> None:
    issuer = issuer_at(NOW)
    token = issuer.issue(user_id="u1", username="alice")
    issuer.verify(token)
    head, _, signature = token.split(".")
    forged = b64url(json.dumps(claims(username="admin"), separators=(",", ":")).encode())
    with pytest.raises(InvalidToken):
        issuer.verify(f"{head}.{forged}.{signature}")
    with pytest.raises(InvalidToken):
        issuer.verify(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_the_cache_keeps_at_most_its_size_and_refused_tokens_never() -> None:
    issuer = issuer_at(NOW)
    for n in range(VERIFIED_CACHE_SIZE + 10):
        issuer.verify(issuer.issue(user_id=f"u{n}", username="alice"))
    for _ in range(10):
        with pytest.raises(InvalidToken):
            issuer.verify(forge(claims(), secret="another-secret-0123456789abcdef0123"))
    remembered = issuer._verified  # the size bound is the point of this test
    assert len(remembered) == VERIFIED_CACHE_SIZE
    assert all(claims["sub"] != "u0" for claims, *_ in remembered.values())  # the oldest went first


# ---------------------------------------------------------------- iss, aud, nbf, leeway, jti


def configured(now: float = NOW + 1, **options: Any) -> TokenIssuer:
    return TokenIssuer(SECRET, 60, clock=Clock(now), **options)


def test_issuer_and_audience_are_set_and_required_when_configured() -> None:
    issuer = configured(NOW, issuer="https://auth.example", audience="orders-api")
    token = issuer.issue(user_id="u1", username="alice")
    payload = payload_of(token)
    assert (payload["iss"], payload["aud"]) == ("https://auth.example", "orders-api")
    assert list(payload)[:4] == ["username", "sub", "iat", "exp"]
    assert issuer.verify(token)["aud"] == "orders-api"

    strict = configured(issuer="https://auth.example", audience="orders-api")
    good = {"iss": "https://auth.example", "aud": "orders-api"}
    assert strict.verify(forge(claims(**good)))
    assert strict.verify(forge(claims(**{**good, "aud": ["other", "orders-api"]})))
    for bad in (
        {"aud": "orders-api"},  # no iss
        {"iss": "https://auth.example"},  # no aud
        {**good, "iss": "https://evil.example"},
        {**good, "aud": "billing-api"},
        {**good, "aud": ["billing-api"]},
        {**good, "aud": 7},
        {**good, "iss": ["https://auth.example"]},
    ):
        with pytest.raises(InvalidToken) as caught:
            strict.verify(forge(claims(**bad)))
        assert caught.value.reason == "bad_claims", bad


def test_without_issuer_or_audience_configured_node_tokens_need_neither(
    node_compat: dict[str, Any],
) -> None:
    token, payload, _ = node_tokens(node_compat)[0]
    assert "iss" not in payload and "aud" not in payload
    assert issuer_at(payload["iat"] + 1, node_compat["jwt_secret"]).verify(token)


def test_nbf_is_honoured_with_the_leeway() -> None:
    token = forge(claims(nbf=NOW + 10))
    with pytest.raises(InvalidToken) as caught:
        configured(NOW + 9).verify(token)
    assert caught.value.reason == "bad_claims"
    assert configured(NOW + 10).verify(token)
    assert configured(NOW + 5, leeway=5).verify(token)
    for nbf in ("soon", True, None):
        if nbf is not None:
            with pytest.raises(InvalidToken):
                configured().verify(forge(claims(nbf=nbf)))


def test_leeway_forgives_that_many_seconds_after_exp_and_no_more() -> None:
    token = forge(claims())  # exp = NOW + 60
    assert configured(NOW + 64, leeway=5).verify(token)
    with pytest.raises(InvalidToken):
        configured(NOW + 65, leeway=5).verify(token)
    with pytest.raises(InvalidToken):
        configured(NOW + 60).verify(token)  # leeway 0 by default


def test_leeway_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="leeway"):
        TokenIssuer(SECRET, 60, leeway=-1)


@pytest.mark.parametrize(
    "overrides",
    [{"jti": 5}, {"jti": ["a"]}, {"sid": 1}, {"token_version": "1"}, {"token_version": True}],
)
def test_refuses_our_own_claims_of_the_wrong_type(overrides: dict[str, Any]) -> None:
    refuse(forge(claims(**overrides)))


def test_extra_claims_are_added_but_never_replace_the_standard_ones() -> None:
    issuer = issuer_at(NOW)
    token = issuer.issue(user_id="u1", username="alice", claims={"token_version": 3, "sid": "s1"})
    assert list(payload_of(token))[4:] == ["jti", "token_version", "sid"]
    for name in ("sub", "exp", "jti", "iss"):
        with pytest.raises(ValueError, match=name):
            issuer.issue(user_id="u1", username="alice", claims={name: "x"})


def test_an_issuer_needs_a_secret_or_keys() -> None:
    with pytest.raises(ValueError, match="secret"):
        TokenIssuer(None)


def test_a_remembered_token_gets_the_leeway_and_no_more() -> None:
    clock = Clock(NOW)
    issuer = TokenIssuer(SECRET, 60, leeway=5, clock=clock)
    token = issuer.issue(user_id="u1", username="alice")
    assert issuer.verify(token)
    clock.now = NOW + 64
    assert issuer.verify(token)["sub"] == "u1"
    clock.now = NOW + 65
    with pytest.raises(InvalidToken) as refused:
        issuer.verify(token)
    assert refused.value.reason == "expired"


def test_claims_are_the_callers_to_change_nested_ones_too() -> None:
    # The verified-token cache keeps the claims: a handler that appends to a list it was
    # given must not change what the same token carries on its next request.
    clock = Clock()
    issuer = TokenIssuer(SECRET, 60, clock=clock)
    token = issuer.issue(user_id="u1", username="alice", claims={"roles": ["user"]})
    first = issuer.verify(token)
    first["roles"].append("admin")
    first["username"] = "mallory"
    again = issuer.verify(token)
    assert again["roles"] == ["user"] and again["username"] == "alice"
