"""authkit's own strategies pass the conformance suite it gives plugin authors.

Each is built the way the application builds it, `from_context(ctx)`, over a StrategyContext
on mongomock (the local strategy's sign-in throttle included) with bcrypt at 4 rounds, and
each has a request that must succeed: a signed-up user's credentials for `local`, a token
from the TokenIssuer for `jwt`, any request at all for `anonymous`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import mongomock
import pytest
from authkit.strategies.anonymous import AnonymousStrategy
from authkit.strategies.jwt import JWTStrategy
from authkit.strategies.local import LocalStrategy
from starlette.requests import Request

from authkit.core.strategy import StrategyContext
from authkit.passwords.dto import SignupCredentials
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.passwords.throttle import Limit, SigninThrottle
from authkit.testing import StrategyConformance, make_request
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore

SECRET = "conformance-test-secret-0123456789abcdef0123"
USERNAME = "alice"
PASSWORD = "Passw0rd!x"
USER_ID = "6650f0c2a1b2c3d4e5f60718"


@pytest.fixture
def ctx() -> StrategyContext:
    database: Any = mongomock.MongoClient().db
    users = MongoUserStore(database["users"])
    passwords = PasswordHasher(rounds=4)
    tokens = TokenIssuer(SECRET, 60)
    throttle = SigninThrottle(
        database["signin_failures"], per_account=Limit(10, 900), per_address=Limit(100, 900)
    )
    service = AuthService(users, passwords, throttle)
    return StrategyContext(users=users, passwords=passwords, tokens=tokens, service=service)


class TestLocalConformance(StrategyConformance):
    @pytest.fixture
    def strategy(self, ctx: StrategyContext) -> LocalStrategy:
        return LocalStrategy.from_context(ctx)

    @pytest.fixture
    def valid_request(self, ctx: StrategyContext) -> Request:
        asyncio.run(ctx.service.sign_up(SignupCredentials(USERNAME, PASSWORD)))
        return make_request(
            "POST", "/auth/signin", json={"username": USERNAME, "password": PASSWORD}
        )


class TestJWTConformance(StrategyConformance):
    @pytest.fixture
    def strategy(self, ctx: StrategyContext) -> JWTStrategy:
        return JWTStrategy.from_context(ctx)

    @pytest.fixture
    def valid_request(self, ctx: StrategyContext) -> Request:
        token = ctx.tokens.issue(user_id=USER_ID, username=USERNAME)
        return make_request("GET", "/auth/me", headers={"authorization": f"Bearer {token}"})


class TestAnonymousConformance(StrategyConformance):
    # Its Success is Starlette's UnauthenticatedUser, on purpose: the valid request must
    # succeed, with is_authenticated False.
    expect_authenticated = False

    @pytest.fixture
    def strategy(self, ctx: StrategyContext) -> AnonymousStrategy:
        return AnonymousStrategy.from_context(ctx)

    @pytest.fixture
    def valid_request(self) -> Request:
        return make_request("GET", "/")
