"""The database breaker (issue #16, item 16): once the database is known down, sign-up and
sign-in answer 503 without trying it, a background probe finds out when it is back, and
/auth/me never needed it. Timings against a real server: tests/e2e/test_db_outage.py.
"""

from __future__ import annotations

import threading
from typing import Any

import mongomock
import pytest
from pymongo import monitoring
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError
from starlette.testclient import TestClient
from support.jwt import bearer
from support.processes import eventually
from support.settings import make_settings

from authkit import create_app
from authkit.storage.breaker import DatabaseBreaker, HeartbeatWatch

ALICE = {"username": "alice", "password": "Passw0rd!x"}


class Database:
    """A database that is up or down: while down, pings and inserts fail as pymongo's do."""

    def __init__(self) -> None:
        self.down = False
        self.pings = 0
        self.lock = threading.Lock()

    def ping(self) -> None:
        with self.lock:
            self.pings += 1
        if self.down:
            raise ServerSelectionTimeoutError("no servers available")


def test_a_failed_call_opens_the_breaker_only_when_a_ping_fails_too() -> None:
    db = Database()
    breaker = DatabaseBreaker(db.ping, interval=0.01)
    try:
        breaker.suspect()  # a blip: the ping that follows it succeeds
        eventually(lambda: db.pings == 1 and not breaker.probing, what="the probe ended")
        assert not breaker.is_open

        db.down = True
        breaker.suspect()
        eventually(lambda: breaker.is_open, what="the breaker opened")
        pings = db.pings
        eventually(lambda: db.pings > pings + 2, what="the probe kept trying")
        db.down = False
        eventually(lambda: not breaker.is_open, what="the breaker closed once a ping succeeded")
    finally:
        breaker.close()


def test_a_failure_that_is_no_outage_trips_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    database = mongomock.MongoClient().db
    pings: list[object] = []
    monkeypatch.setattr(type(database), "command", lambda *a, **k: pings.append(a))

    def refused(*args: Any, **kwargs: Any) -> None:
        raise OperationFailure("not authorized")  # an answer from a live server

    with TestClient(create_app(make_settings(), database=database)) as client:
        monkeypatch.setattr(mongomock.collection.Collection, "insert_one", refused)
        assert client.post("/auth/signup", json=ALICE).status_code == 503
    assert pings == []


def test_once_the_database_is_known_down_nothing_tries_it_until_a_probe_reaches_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database = mongomock.MongoClient().db
    db = Database()
    monkeypatch.setattr(type(database), "command", lambda self, *a, **k: db.ping())
    real_insert, real_find = mongomock.collection.Collection.insert_one, mongomock.Collection.find
    tried: list[str] = []

    def insert_one(self: Any, *args: Any, **kwargs: Any) -> Any:
        tried.append("insert_one")
        if db.down:
            raise ServerSelectionTimeoutError("no servers available")
        return real_insert(self, *args, **kwargs)

    def find(self: Any, *args: Any, **kwargs: Any) -> Any:
        tried.append("find")
        if db.down:
            raise ServerSelectionTimeoutError("no servers available")
        return real_find(self, *args, **kwargs)

    app = create_app(make_settings(), database=database)
    with TestClient(app) as client:
        assert client.post("/auth/signup", json=ALICE).status_code == 201
        token = client.post("/auth/signin", json=ALICE).json()["accessToken"]
        monkeypatch.setattr(mongomock.collection.Collection, "insert_one", insert_one)
        monkeypatch.setattr(mongomock.collection.Collection, "find", find)

        db.down = True
        first = client.post("/auth/signin", json=ALICE)
        assert first.status_code == 503 and tried, "the first call found the outage"
        breaker = app.state.database_breaker
        eventually(lambda: breaker.is_open, what="the probe confirmed the outage")

        tried.clear()
        answers = [
            client.post("/auth/signin", json=ALICE),
            client.post("/auth/signup", json={"username": "bobby", "password": "Passw0rd!y"}),
        ]
        assert [r.status_code for r in answers] == [503, 503]
        assert answers[0].json() == first.json()
        assert answers[0].headers["retry-after"] == "5"
        assert tried == [], "a request tried the database while it was known down"
        me = client.get("/auth/me", headers=bearer(token))
        assert (me.status_code, me.json()["username"]) == (200, "alice")

        db.down = False
        eventually(lambda: not breaker.is_open, what="the probe found the database back")
        assert client.post("/auth/signin", json=ALICE).status_code == 201
    assert not breaker.is_open


def test_the_drivers_failed_heartbeat_starts_the_probe() -> None:
    # The driver loses the server before any request does: the breaker finds out then.
    db = Database()
    db.down = True
    breaker = DatabaseBreaker(db.ping, interval=0.01)
    watch = HeartbeatWatch()
    watch.failed(monitoring.ServerHeartbeatFailedEvent(0.01, OSError("gone"), ("db", 27017)))
    watch.breaker = breaker
    try:
        watch.succeeded(monitoring.ServerHeartbeatSucceededEvent(0.01, {}, ("db", 27017)))
        assert not breaker.probing
        watch.failed(monitoring.ServerHeartbeatFailedEvent(0.01, OSError("gone"), ("db", 27017)))
        eventually(lambda: breaker.is_open, what="the breaker opened")
    finally:
        breaker.close()
