"""/healthz and /readyz through the whole app (mongomock); the real-process probe test is in
tests/e2e/test_operations.py."""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from pymongo.errors import ServerSelectionTimeoutError
from starlette.testclient import TestClient
from support.settings import make_settings

from authkit import create_app

SETTINGS = make_settings("h" * 40)


@pytest.fixture
def database() -> Any:
    return mongomock.MongoClient().db


def test_ready_means_the_database_answers_and_the_username_index_exists(database: Any) -> None:
    with TestClient(create_app(SETTINGS, database=database)) as client:
        database.users.drop_indexes()  # as if someone dropped it behind our back
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert ready.headers["cache-control"] == "no-store"
    assert database.users.index_information()["username_1"]["unique"] is True


def test_an_outage_is_unready_but_still_alive(
    database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise ServerSelectionTimeoutError("no servers")

    with TestClient(create_app(SETTINGS, database=database)) as client:
        monkeypatch.setattr(type(database.users), "index_information", down)
        alive, ready = client.get("/healthz"), client.get("/readyz")

    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {"database": "The user database is unavailable; try again shortly"},
    }
