"""Fixtures for authkit-apikey's own tests: a mongomock database with users in it, a key store
on a clock the test moves, the strategy, and requests built the way an ASGI server hands
them over. Nothing here touches the network or the real clock.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import mongomock
import pytest
from authkit.plugin import MongoUserStore, User
from starlette.requests import Request

pytest.importorskip("authkit_apikey", reason="authkit-apikey is not installed (pip install -e .)")

from apikey_helpers import Clock, build_request

from authkit_apikey import APIKeyStore, APIKeyStrategy

with warnings.catch_warnings():
    # Starlette warns at import when its test client runs on `httpx`, not `httpx2`.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient  # noqa: F401 - imported here once, warning-free


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db() -> Any:
    return mongomock.MongoClient().authkit


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(db: Any) -> MongoUserStore:
    return MongoUserStore(db["users"])


@pytest.fixture
def keys(db: Any, clock: Clock) -> APIKeyStore:
    return APIKeyStore.on_database(db, clock=clock)


@pytest.fixture
def strategy(keys: APIKeyStore, users: MongoUserStore) -> APIKeyStrategy:
    return APIKeyStrategy(keys, users)


@pytest.fixture
async def alice(users: MongoUserStore) -> User:
    # The password hash is never checked here: API keys do not involve passwords.
    return await users.create("alice", "$2b$04$not-a-real-bcrypt-hash-for-these-tests.....")


@pytest.fixture
async def bob(users: MongoUserStore) -> User:
    return await users.create("bob", "$2b$04$not-a-real-bcrypt-hash-for-these-tests.....")


@pytest.fixture
def make_request() -> Callable[..., Request]:
    return build_request


@pytest.fixture
def key_request() -> Callable[[str], Request]:
    return lambda key: build_request([("X-API-Key", key)])
