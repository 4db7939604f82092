"""TokenLifecycle and the revocation checks on mongomock, with an injected clock (no sleeps):
rotation, reuse detection, expiry, sign-out, sign-out-all, sessions, the denylist.

The same store against a real server: tests/integration/test_session_store.py. Over HTTP:
tests/unit/test_token_routes.py (TestClient) and tests/e2e/test_token_lifecycle.py (uvicorn).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from support.clock import Clock

from authkit.core.errors import BackendUnavailable, InvalidRefreshToken, NotFound
from authkit.sessions.lifecycle import TokenLifecycle, TokenPair
from authkit.sessions.revocation import MongoDenylist, RevocationChecker
from authkit.sessions.store import MongoSessionStore, hash_token
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore, User

pytestmark = pytest.mark.anyio

HASH = "$2b$04$abcdefghijklmnopqrstuu8Ym0Xd4lRnBQGyNwDcJyGJkQ1uVzX4G"
DAY = 86400


@pytest.fixture
def users(db: Any) -> MongoUserStore:
    return MongoUserStore(db["users"])


@pytest.fixture
def denylist(db: Any) -> MongoDenylist:
    return MongoDenylist(db["revoked_tokens"])


def make_lifecycle(
    db: Any, issuer: TokenIssuer, *, checks: bool = False, refresh: bool = True
) -> TokenLifecycle:
    sessions = MongoSessionStore(db["auth_sessions"], db["refresh_tokens"]) if refresh else None
    return TokenLifecycle(
        issuer,
        MongoUserStore(db["users"]),
        sessions,
        MongoDenylist(db["revoked_tokens"]),
        refresh_ttl=timedelta(days=14),
        revocation_checks=checks,
    )


@pytest.fixture
def lifecycle(db: Any, issuer: TokenIssuer) -> TokenLifecycle:
    return make_lifecycle(db, issuer)


@pytest.fixture
async def alice(users: MongoUserStore) -> User:
    return await users.create("alice", HASH)


async def sign_in(lifecycle: TokenLifecycle, user: User, agent: str = "curl/8.5") -> TokenPair:
    return await lifecycle.sign_in(user.id, user.username, user_agent=agent)


def issuer_time(clock: Clock, seconds: float) -> datetime:
    return datetime.fromtimestamp(clock.now + seconds, tz=timezone.utc)


def refresh_of(pair: TokenPair) -> str:
    assert pair.refresh_token is not None
    return pair.refresh_token


# ---------------------------------------------------------------- sign-in and rotation


async def test_sign_in_starts_a_session_and_stores_only_the_hash(
    lifecycle: TokenLifecycle, alice: User, issuer: TokenIssuer, db: Any
) -> None:
    pair = await sign_in(lifecycle, alice)

    token = refresh_of(pair)
    assert len(token) == 43
    stored = db["refresh_tokens"].find_one()
    assert stored["_id"] == hash_token(token) != token
    assert token not in repr(list(db["refresh_tokens"].find())) + repr(
        list(db["auth_sessions"].find())
    )
    claims = issuer.verify(pair.access_token)
    assert (claims["sid"], claims["token_version"]) == (pair.session_id, 0)
    (session,) = await lifecycle.list_sessions(alice.id)
    assert (session.id, session.user_agent) == (pair.session_id, "curl/8.5")
    assert session.expires_at - session.created_at == timedelta(days=14)


async def test_each_refresh_token_works_once_and_the_next_one_takes_over(
    lifecycle: TokenLifecycle, alice: User, issuer: TokenIssuer, clock: Clock
) -> None:
    first = await sign_in(lifecycle, alice)
    clock.now += 30
    second = await lifecycle.refresh(refresh_of(first))
    clock.now += 30
    third = await lifecycle.refresh(refresh_of(second))

    assert len({refresh_of(first), refresh_of(second), refresh_of(third)}) == 3
    assert third.session_id == first.session_id
    assert issuer.verify(third.access_token)["iat"] == int(clock.now)
    (session,) = await lifecycle.list_sessions(alice.id)
    assert session.last_used_at.timestamp() == clock.now
    assert session.created_at.timestamp() == clock.now - 60


async def test_reuse_revokes_the_whole_family_and_is_logged_without_the_token(
    lifecycle: TokenLifecycle, alice: User, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    stolen = await sign_in(lifecycle, alice)
    victim = await lifecycle.refresh(refresh_of(stolen))  # the victim refreshes first
    other = await sign_in(lifecycle, alice, agent="another device")
    clock.now += 10  # past the reuse grace: a replay, not a race

    with (
        caplog.at_level(logging.INFO, logger="authkit.security"),
        pytest.raises(InvalidRefreshToken) as caught,
    ):
        await lifecycle.refresh(refresh_of(stolen))  # the thief replays the old one
    assert caught.value.message == "Invalid or expired refresh token"
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(victim))  # the family is gone: both sign in again

    reuse = [
        r for r in caplog.records if getattr(r, "fields", {}).get("event") == "refresh_token_reused"
    ]
    assert len(reuse) == 1 and reuse[0].levelno == logging.WARNING
    assert reuse[0].fields["session_id"] == stolen.session_id  # type: ignore[attr-defined]
    for secret in (refresh_of(stolen), refresh_of(victim), hash_token(refresh_of(stolen))):
        assert secret not in caplog.text
    # Another sign-in of the same user is untouched.
    assert [s.id for s in await lifecycle.list_sessions(alice.id)] == [other.session_id]
    assert await lifecycle.refresh(refresh_of(other))


async def test_a_second_use_within_the_grace_is_refused_but_keeps_the_session(
    lifecycle: TokenLifecycle, alice: User, clock: Clock
) -> None:
    first = await sign_in(lifecycle, alice)
    winner = await lifecycle.refresh(refresh_of(first))
    clock.now += 9  # another tab, a retry: moments later
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(first))
    assert await lifecycle.refresh(refresh_of(winner))  # the session lives on


async def test_with_no_grace_any_second_use_revokes(
    db: Any, issuer: TokenIssuer, alice: User
) -> None:
    strict = attrs.evolve(make_lifecycle(db, issuer), reuse_grace_seconds=0)
    first = await sign_in(strict, alice)
    winner = await strict.refresh(refresh_of(first))
    with pytest.raises(InvalidRefreshToken):
        await strict.refresh(refresh_of(first))
    with pytest.raises(InvalidRefreshToken):
        await strict.refresh(refresh_of(winner))


@pytest.mark.parametrize(
    "token", ["", "x" * 43, "not a token at all!", "é" * 43, "a" * 300, "\ud800" * 30]
)
async def test_unknown_or_malformed_refresh_tokens_are_refused(
    lifecycle: TokenLifecycle, token: str
) -> None:
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(token)


async def test_refresh_tokens_expire_after_the_refresh_ttl(
    lifecycle: TokenLifecycle, alice: User, clock: Clock
) -> None:
    pair = await sign_in(lifecycle, alice)
    clock.now += 14 * DAY - 1
    renewed = await lifecycle.refresh(refresh_of(pair))  # its last second
    clock.now += 14 * DAY
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(renewed))
    assert await lifecycle.list_sessions(alice.id) == []


async def test_a_session_refreshed_every_day_still_ends_at_its_max_age(
    lifecycle: TokenLifecycle, alice: User, clock: Clock
) -> None:
    assert lifecycle.session_max_age == timedelta(days=30)  # the default
    pair = await sign_in(lifecycle, alice)
    for _ in range(29):
        clock.now += DAY
        pair = await lifecycle.refresh(refresh_of(pair))
    (session,) = await lifecycle.list_sessions(alice.id)
    # The day-29 token lives one day, not fourteen: the session ends 30 days after sign-in.
    assert session.expires_at - session.created_at == timedelta(days=30)
    clock.now += DAY - 1
    pair = await lifecycle.refresh(refresh_of(pair))  # its last second
    clock.now += 1
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(pair))
    assert await lifecycle.list_sessions(alice.id) == []
    assert await sign_in(lifecycle, alice)  # signing in again starts a new 30 days


async def test_lowering_the_max_age_ends_older_sessions_at_their_next_refresh(
    db: Any, issuer: TokenIssuer, alice: User, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    pair = await sign_in(make_lifecycle(db, issuer), alice)
    clock.now += 8 * DAY
    week = attrs.evolve(make_lifecycle(db, issuer), session_max_age=timedelta(days=7))
    with (
        caplog.at_level(logging.INFO, logger="authkit.security"),
        pytest.raises(InvalidRefreshToken),
    ):
        await week.refresh(refresh_of(pair))
    (refused,) = [r for r in caplog.records if getattr(r, "fields", {}).get("reason")]
    assert refused.fields["reason"] == "max_age"  # type: ignore[attr-defined]
    assert db["auth_sessions"].find_one({"_id": pair.session_id})["revoked"] is True


async def test_a_database_blip_while_ending_an_over_age_session_raises_no_theft_alarm(
    db: Any,
    issuer: TokenIssuer,
    alice: User,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pair = await sign_in(make_lifecycle(db, issuer), alice)
    clock.now += 8 * DAY
    week = attrs.evolve(make_lifecycle(db, issuer), session_max_age=timedelta(days=7))
    assert week.sessions is not None

    async def away(*args: Any) -> bool:
        raise BackendUnavailable()

    with monkeypatch.context() as patched:
        patched.setattr(week.sessions, "revoke", away)
        with pytest.raises(BackendUnavailable):  # the client gets a 503...
            await week.refresh(refresh_of(pair))
    clock.now += 60  # ...and retries, well past the reuse grace
    with (
        caplog.at_level(logging.INFO, logger="authkit.security"),
        pytest.raises(InvalidRefreshToken),
    ):
        await week.refresh(refresh_of(pair))
    events = [getattr(r, "fields", {}).get("event") for r in caplog.records]
    assert "refresh_token_reused" not in events  # the token was given back: no replay
    (refused,) = [r for r in caplog.records if getattr(r, "fields", {}).get("reason")]
    assert refused.fields["reason"] == "max_age"  # type: ignore[attr-defined]
    assert db["auth_sessions"].find_one({"_id": pair.session_id})["revoked"] is True


async def test_with_max_age_off_a_session_lives_while_it_is_refreshed(
    db: Any, issuer: TokenIssuer, alice: User, clock: Clock
) -> None:
    forever = attrs.evolve(make_lifecycle(db, issuer), session_max_age=None)
    pair = await sign_in(forever, alice)
    for _ in range(10):  # 130 days
        clock.now += 13 * DAY
        pair = await forever.refresh(refresh_of(pair))
    (session,) = await forever.list_sessions(alice.id)
    assert session.expires_at.timestamp() == clock.now + 14 * DAY


async def test_a_token_older_than_the_session_start_field_counts_from_its_next_refresh(
    lifecycle: TokenLifecycle, alice: User, clock: Clock, db: Any
) -> None:
    # Written by an authkit from before tokens carried their session's start.
    pair = await sign_in(lifecycle, alice)
    db["refresh_tokens"].update_many({}, {"$unset": {"session_started_at": ""}})
    clock.now += 60 * DAY
    db["refresh_tokens"].update_many({}, {"$set": {"expires_at": issuer_time(clock, DAY)}})
    db["auth_sessions"].update_many({}, {"$set": {"expires_at": issuer_time(clock, DAY)}})
    pair = await lifecycle.refresh(refresh_of(pair))  # not refused for the 60 days...
    counted_from = clock.now
    for _ in range(2):
        clock.now += 13 * DAY
        pair = await lifecycle.refresh(refresh_of(pair))
    (session,) = await lifecycle.list_sessions(alice.id)
    # ...but counted from that first refresh: 30 days on, it ends.
    assert session.expires_at.timestamp() == counted_from + 30 * DAY
    clock.now = counted_from + 30 * DAY
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(pair))


async def test_a_deleted_users_refresh_is_refused_and_their_session_ends(
    lifecycle: TokenLifecycle, alice: User, db: Any
) -> None:
    pair = await sign_in(lifecycle, alice)
    db["users"].delete_many({})
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(pair))
    assert db["auth_sessions"].find_one()["revoked"] is True


async def test_with_refresh_tokens_off_sign_in_returns_an_access_token_only(
    db: Any, issuer: TokenIssuer, alice: User
) -> None:
    off = make_lifecycle(db, issuer, refresh=False)
    pair = await sign_in(off, alice)
    assert pair.refresh_token is None and pair.session_id is None
    assert "sid" not in issuer.verify(pair.access_token)
    assert await off.list_sessions(alice.id) == []
    with pytest.raises(InvalidRefreshToken):
        await off.refresh("A" * 43)


# ---------------------------------------------------------------- sign-out and sessions


async def test_sign_out_ends_the_session_of_the_refresh_token_or_of_the_sid(
    lifecycle: TokenLifecycle, alice: User, issuer: TokenIssuer
) -> None:
    by_token, by_sid, kept = [await sign_in(lifecycle, alice) for _ in range(3)]
    no_sid = {**issuer.verify(by_token.access_token), "sid": None}
    await lifecycle.sign_out(no_sid, refresh_of(by_token))
    await lifecycle.sign_out(issuer.verify(by_sid.access_token), None)

    for ended in (by_token, by_sid):
        with pytest.raises(InvalidRefreshToken):
            await lifecycle.refresh(refresh_of(ended))
    assert [s.id for s in await lifecycle.list_sessions(alice.id)] == [kept.session_id]


async def test_sign_out_with_someone_elses_refresh_token_ends_nothing_of_theirs(
    lifecycle: TokenLifecycle, alice: User, users: MongoUserStore, issuer: TokenIssuer
) -> None:
    bob = await users.create("bobby", HASH)
    bobs = await sign_in(lifecycle, bob)
    alices = await sign_in(lifecycle, alice)
    await lifecycle.sign_out(issuer.verify(alices.access_token), refresh_of(bobs))
    assert await lifecycle.refresh(refresh_of(bobs))


async def test_revoke_session_only_revokes_the_callers_own(
    lifecycle: TokenLifecycle, alice: User, users: MongoUserStore
) -> None:
    bob = await users.create("bobby", HASH)
    bobs, alices = await sign_in(lifecycle, bob), await sign_in(lifecycle, alice)
    assert alices.session_id and bobs.session_id
    for user_id, session_id in ((alice.id, bobs.session_id), (alice.id, "nope"), (bob.id, "")):
        with pytest.raises(NotFound) as caught:
            await lifecycle.revoke_session(user_id, session_id)
        assert caught.value.message == "Session not found"
    await lifecycle.revoke_session(alice.id, alices.session_id)
    with pytest.raises(NotFound):  # once only
        await lifecycle.revoke_session(alice.id, alices.session_id)
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(alices))
    assert await lifecycle.refresh(refresh_of(bobs))


async def test_sign_out_all_ends_every_session_and_raises_the_token_version(
    lifecycle: TokenLifecycle, alice: User, users: MongoUserStore, issuer: TokenIssuer, db: Any
) -> None:
    pairs = [await sign_in(lifecycle, alice) for _ in range(3)]
    assert await lifecycle.sign_out_all(issuer.verify(pairs[0].access_token)) == 3

    assert await lifecycle.list_sessions(alice.id) == []
    for pair in pairs:
        with pytest.raises(InvalidRefreshToken):
            await lifecycle.refresh(refresh_of(pair))
    assert await users.token_version(alice.id) == 1
    doc = db["users"].find_one()
    assert doc["token_version"] == 1
    fresh = await lifecycle.sign_in(alice.id, alice.username)  # the version is looked up
    assert issuer.verify(fresh.access_token)["token_version"] == 1


# ---------------------------------------------------------------- revocation checks


async def test_without_checks_a_signed_out_access_token_lives_until_exp(
    lifecycle: TokenLifecycle, alice: User, issuer: TokenIssuer, clock: Clock, db: Any
) -> None:
    pair = await sign_in(lifecycle, alice)
    claims = issuer.verify(pair.access_token)
    await lifecycle.sign_out(claims, refresh_of(pair))
    await lifecycle.sign_out_all(claims)
    assert db["revoked_tokens"].count_documents({}) == 0  # nothing written: nothing checked
    assert issuer.verify(pair.access_token)  # until its exp
    clock.now += 60
    with pytest.raises(Exception, match="Unauthorized"):
        issuer.verify(pair.access_token)


async def test_with_checks_sign_out_refuses_the_token_and_its_session_at_once(
    db: Any, issuer: TokenIssuer, alice: User, users: MongoUserStore, clock: Clock
) -> None:
    lifecycle = make_lifecycle(db, issuer, checks=True)
    checker = RevocationChecker(MongoDenylist(db["revoked_tokens"]), users)
    pair = await sign_in(lifecycle, alice)
    renewed = await lifecycle.refresh(refresh_of(pair))  # same session, another access token
    other = await sign_in(lifecycle, alice)
    claims = issuer.verify(pair.access_token)
    assert await checker.refusal(claims) is None

    await lifecycle.sign_out(claims, None)

    assert await checker.refusal(claims) == "revoked"
    assert await checker.refusal(issuer.verify(renewed.access_token)) == "revoked"  # by sid
    assert await checker.refusal(issuer.verify(other.access_token)) is None
    entry = db["revoked_tokens"].find_one({"_id": f"jti:{claims['jti']}"})
    assert entry["expires_at"].timestamp() == pytest.approx(claims["exp"] + 5)
    await lifecycle.sign_out(claims, None)  # twice is fine


async def test_with_checks_sign_out_all_outdates_every_earlier_token(
    db: Any, issuer: TokenIssuer, alice: User, users: MongoUserStore
) -> None:
    lifecycle = make_lifecycle(db, issuer, checks=True)
    checker = RevocationChecker(MongoDenylist(db["revoked_tokens"]), users)
    earlier = issuer.verify((await sign_in(lifecycle, alice)).access_token)
    node_style = {"username": "alice", "sub": alice.id, "iat": 0, "exp": 1}  # no version: 0
    assert await checker.refusal(node_style) is None

    await lifecycle.sign_out_all(earlier)

    assert await checker.refusal(earlier) == "revoked"
    assert await checker.refusal(node_style) == "revoked"
    later = issuer.verify((await sign_in(lifecycle, alice)).access_token)
    assert await checker.refusal(later) is None


async def test_with_checks_reuse_and_revoked_sessions_stop_their_access_tokens(
    db: Any, issuer: TokenIssuer, alice: User, users: MongoUserStore, clock: Clock
) -> None:
    lifecycle = make_lifecycle(db, issuer, checks=True)
    checker = RevocationChecker(MongoDenylist(db["revoked_tokens"]), users)
    stolen = await sign_in(lifecycle, alice)
    thief = await lifecycle.refresh(refresh_of(stolen))
    clock.now += 30
    with pytest.raises(InvalidRefreshToken):
        await lifecycle.refresh(refresh_of(stolen))  # the victim, too late
    assert await checker.refusal(issuer.verify(thief.access_token)) == "revoked"

    listed = await sign_in(lifecycle, alice)
    assert listed.session_id
    await lifecycle.revoke_session(alice.id, listed.session_id)
    assert await checker.refusal(issuer.verify(listed.access_token)) == "revoked"


async def test_with_checks_a_deleted_users_token_is_refused(
    db: Any, users: MongoUserStore, denylist: MongoDenylist, alice: User
) -> None:
    checker = RevocationChecker(denylist, users)
    claims = {"sub": alice.id, "username": "alice"}
    assert await checker.refusal(claims) is None
    db["users"].delete_many({})
    assert await checker.refusal(claims) == "unknown_user"
    assert await checker.refusal({"sub": "not-an-object-id", "username": "x"}) == "unknown_user"
