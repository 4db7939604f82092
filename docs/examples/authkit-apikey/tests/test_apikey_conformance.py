"""authkit's conformance suite (authkit.testing.StrategyConformance) run on APIKeyStrategy:
hostile requests never crash it, every Fail carries a challenge, nothing blocks the event
loop (pymongo runs in worker threads), and a real key succeeds.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from authkit.plugin import MongoUserStore
from bson import ObjectId
from starlette.requests import Request

from authkit_apikey import APIKeyStore, APIKeyStrategy

pytest.importorskip("authkit.testing", reason="authkit.testing (the conformance kit) is missing")

from authkit.testing import StrategyConformance, make_request


@pytest.fixture
def owner_id(db: Any) -> str:
    doc = {"_id": ObjectId(), "username": "alice", "password": "$2b$04$unused", "__v": 0}
    db["users"].insert_one(doc)
    return str(doc["_id"])


class TestAPIKeyConformance(StrategyConformance):
    @pytest.fixture
    def strategy(self, db: Any) -> APIKeyStrategy:
        return APIKeyStrategy(APIKeyStore.on_database(db), MongoUserStore(db["users"]))

    @pytest.fixture
    def valid_request(self, strategy: APIKeyStrategy, owner_id: str) -> Request:
        _, key = asyncio.run(
            strategy.keys.create(user_id=owner_id, username="alice", label="ci", scopes=("r",))
        )
        request: Request = make_request(headers={"x-api-key": key})
        return request
