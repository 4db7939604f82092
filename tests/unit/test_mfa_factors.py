"""The second factors' parts on mongomock with a fake clock: TOTP codes accepted once and
within one step of drift, secrets sealed at rest and bound to their user, challenges that
expire and are used once (of two at once, one wins), recovery codes used once."""

from __future__ import annotations

import asyncio
from typing import Any

import pyotp
import pytest
from support.clock import Clock

from authkit.mfa.challenges import MFAChallenges
from authkit.mfa.keys import CODE_PURPOSE, SECRET_PURPOSE, CodeHasher, SecretBox, derive_key
from authkit.mfa.recovery import RecoveryCodes
from authkit.mfa.store import MongoFactorStore
from authkit.mfa.totp import TOTPFactor

pytestmark = pytest.mark.anyio

ALICE, BOB = "6650c0ffee0123456789abcd", "6650c0ffee0123456789abce"
KEY = "mfa-test-key-0123456789abcdef0123456789"


@pytest.fixture
def store(db: Any) -> MongoFactorStore:
    return MongoFactorStore(db["mfa_factors"])


@pytest.fixture
def totp(store: MongoFactorStore, clock: Clock) -> TOTPFactor:
    return TOTPFactor(store, SecretBox(derive_key(KEY, SECRET_PURPOSE)), clock=clock)


@pytest.fixture
def recovery(store: MongoFactorStore) -> RecoveryCodes:
    return RecoveryCodes(store, CodeHasher(derive_key(KEY, CODE_PURPOSE)))


async def turn_on(totp: TOTPFactor, clock: Clock, user_id: str = ALICE) -> pyotp.TOTP:
    enrolment = await totp.enrol(user_id, "alice")
    assert enrolment is not None
    app = pyotp.TOTP(enrolment.secret)
    assert await totp.confirm(user_id, app.at(clock.now), [])
    return app


async def test_each_code_is_accepted_once_and_never_an_older_one(
    totp: TOTPFactor, clock: Clock
) -> None:
    app = await turn_on(totp, clock)
    assert not await totp.verify(ALICE, app.at(clock.now))  # confirmed with it
    clock.advance(30)
    current = app.at(clock.now)
    assert await totp.verify(ALICE, current)
    assert not await totp.verify(ALICE, current)
    # The next step's code is fine (one step of drift), and then the current one is not.
    clock.advance(1)
    ahead = app.at(clock.now + 30)
    assert await totp.verify(ALICE, ahead)
    clock.advance(30)
    assert not await totp.verify(ALICE, app.at(clock.now - 30))


async def test_codes_two_steps_away_are_refused(totp: TOTPFactor, clock: Clock) -> None:
    app = await turn_on(totp, clock)
    clock.advance(300)
    assert not await totp.verify(ALICE, app.at(clock.now + 60))
    assert not await totp.verify(ALICE, app.at(clock.now - 60))
    assert await totp.verify(ALICE, app.at(clock.now - 30))


async def test_two_uses_of_one_code_at_once_one_wins(totp: TOTPFactor, clock: Clock) -> None:
    app = await turn_on(totp, clock)
    clock.advance(30)
    code = app.at(clock.now)
    results = await asyncio.gather(*(totp.verify(ALICE, code) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_the_stored_document_holds_no_secret_in_clear(
    totp: TOTPFactor, clock: Clock, db: Any
) -> None:
    enrolment = await totp.enrol(ALICE, "alice")
    assert enrolment is not None
    pending = db["mfa_factors"].find_one({"_id": ALICE})
    secret = enrolment.secret.encode()
    raw = pyotp.TOTP(enrolment.secret).byte_secret()
    assert secret not in repr(pending).encode() and raw not in pending["totp_pending"]
    assert await totp.confirm(ALICE, pyotp.TOTP(enrolment.secret).at(clock.now), [])
    on = db["mfa_factors"].find_one({"_id": ALICE})
    assert secret not in on["totp"] and raw not in on["totp"]
    assert enrolment.secret not in repr(on)


async def test_a_secret_copied_to_another_user_does_not_open(
    totp: TOTPFactor, clock: Clock, db: Any
) -> None:
    app = await turn_on(totp, clock)
    await turn_on(totp, clock, BOB)
    alices = db["mfa_factors"].find_one({"_id": ALICE})["totp"]
    db["mfa_factors"].update_one({"_id": BOB}, {"$set": {"totp": alices, "totp_last_step": 0}})
    clock.advance(30)
    assert not await totp.verify(BOB, app.at(clock.now))
    assert await totp.verify(ALICE, app.at(clock.now))


async def test_another_key_opens_nothing(store: MongoFactorStore, clock: Clock) -> None:
    sealed = SecretBox(derive_key(KEY, SECRET_PURPOSE)).seal(b"JBSWY3DPEHPK3PXP", ALICE)
    assert SecretBox(derive_key(KEY, SECRET_PURPOSE)).open(sealed, ALICE) == b"JBSWY3DPEHPK3PXP"
    assert SecretBox(derive_key("another-key" * 4, SECRET_PURPOSE)).open(sealed, ALICE) is None
    assert SecretBox(derive_key(KEY, CODE_PURPOSE)).open(sealed, ALICE) is None


async def test_enrolling_twice_while_on_is_refused(totp: TOTPFactor, clock: Clock) -> None:
    await turn_on(totp, clock)
    assert await totp.enrol(ALICE, "alice") is None


async def test_a_challenge_expires_after_five_minutes(db: Any, clock: Clock) -> None:
    challenges = MFAChallenges(db["mfa_challenges"], clock=clock)
    token = await challenges.open(ALICE)
    clock.advance(299)
    assert await challenges.peek(token) == ALICE
    clock.advance(2)
    assert await challenges.peek(token) is None
    assert await challenges.consume(token) is None


async def test_a_challenge_is_used_once_of_many_at_once(db: Any, clock: Clock) -> None:
    challenges = MFAChallenges(db["mfa_challenges"], clock=clock)
    token = await challenges.open(ALICE)
    won = await asyncio.gather(*(challenges.consume(token) for _ in range(8)))
    assert won.count(ALICE) == 1
    assert await challenges.peek(token) is None


async def test_only_the_tokens_hash_is_stored(db: Any, clock: Clock) -> None:
    token = await MFAChallenges(db["mfa_challenges"], clock=clock).open(ALICE)
    assert token not in repr(list(db["mfa_challenges"].find()))


async def test_a_recovery_code_is_used_once(recovery: RecoveryCodes, db: Any) -> None:
    codes = await recovery.regenerate(ALICE)
    assert len(set(codes)) == 10
    stored = repr(db["mfa_factors"].find_one({"_id": ALICE}))
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)
    results = await asyncio.gather(*(recovery.use(ALICE, codes[0]) for _ in range(4)))
    assert results.count(True) == 1
    assert await recovery.left(ALICE) == 9
    # A code is Alice's alone: its hash is keyed with her id.
    await recovery.regenerate(BOB)
    assert not await recovery.use(BOB, codes[1])
    assert await recovery.use(ALICE, f" {codes[1].upper().replace('-', '')} ")
