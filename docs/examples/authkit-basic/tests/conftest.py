"""Fixtures for authkit-basic's own tests: a real AuthService on mongomock, with the sign-in
throttle on (3 failures per account per 15 minutes), and users signed up through it.
"""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from authkit.plugin import (
    AuthService,
    Limit,
    MongoUserStore,
    PasswordHasher,
    SigninThrottle,
    SignupCredentials,
    User,
)

pytest.importorskip("authkit_basic", reason="authkit-basic is not installed (pip install -e .)")

from authkit_basic import BasicStrategy

ACCOUNT_LIMIT = 3


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db() -> Any:
    return mongomock.MongoClient().authkit


@pytest.fixture
def service(db: Any) -> AuthService:
    users = MongoUserStore(db["users"])
    throttle = SigninThrottle(
        db["signin_failures"], per_account=Limit(ACCOUNT_LIMIT, 900), per_address=None
    )
    return AuthService(users, PasswordHasher(4), throttle)


@pytest.fixture
def strategy(service: AuthService) -> BasicStrategy:
    return BasicStrategy(service)


@pytest.fixture
async def alice(service: AuthService) -> User:
    return await service.sign_up(SignupCredentials("alice", "Passw0rd:x"))


@pytest.fixture
async def jurgen(service: AuthService) -> User:
    return await service.sign_up(SignupCredentials("jürgen", "pässwörd€1"))
