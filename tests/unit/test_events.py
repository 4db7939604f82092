"""Lifecycle events: delivered after sign-up, sign-in, sign-out, sign-out-all, a refresh
token's reuse and the administrators' actions, in order, without secrets; a handler that
raises or hangs is logged and harms neither the request nor the handlers after it; plugins
subscribe through the `authkit.events` entry points.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from support.jwt import bearer
from support.settings import SECRET, make_settings

import authkit.events.plugins
from authkit import create_app
from authkit.core.errors import ConfigError
from authkit.core.strategy import StrategyContext
from authkit.events.bus import Event, EventBus
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import MongoUserStore

PASSWORD = "Passw0rd!x"


def _drain(client: Any) -> None:
    client.portal.call(client.app.state.events.drain)


def _app_with(client_for: Any, db: Any, *handlers: Any) -> Any:
    client = client_for(create_app(make_settings(), database=db))
    for handler in handlers:
        client.app.state.events.subscribe(handler)
    return client


def test_the_lifecycle_of_a_user_is_delivered_in_order(client_for: Any, db: Any) -> None:
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    client = _app_with(client_for, db, record)
    client.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
    pair = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()
    client.post("/auth/signout", headers=bearer(pair["accessToken"]))
    pair = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()
    client.post("/auth/signout-all", headers=bearer(pair["accessToken"]))
    _drain(client)
    assert [e.name for e in seen] == ["signup", "signin", "signout", "signin", "signout_all"]
    user_id = str(db["users"].find_one({"username": "alice"})["_id"])
    assert {e.user_id for e in seen} == {user_id}
    assert seen[0].data == {"username": "alice"}
    assert seen[1].data["username"] == "alice" and seen[1].data["session_id"]
    for event in seen:  # nothing a thief could use
        text = repr(dict(event.data))
        assert PASSWORD not in text and pair["refreshToken"] not in text
        assert pair["accessToken"] not in text


def test_a_reused_refresh_token_is_an_event(client_for: Any, db: Any) -> None:
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.name)

    client = _app_with(client_for, db, record)
    client.post("/auth/signup", json={"username": "bob1", "password": PASSWORD})
    pair = client.post("/auth/signin", json={"username": "bob1", "password": PASSWORD}).json()
    client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    # Used long before, beyond the grace for a client racing itself: a replay.
    long_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    db["refresh_tokens"].update_many({}, {"$set": {"used_at": long_ago}})
    client.post("/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    _drain(client)
    assert seen[-1] == "refresh_token_reused"


def test_administrators_actions_are_events_naming_who(client_for: Any, db: Any) -> None:
    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    client = _app_with(client_for, db, record)
    for name in ("root", "carol"):
        client.post("/auth/signup", json={"username": name, "password": PASSWORD})
    db["users"].update_one({"username": "root"}, {"$set": {"roles": ["admin"]}})
    root_id = str(db["users"].find_one({"username": "root"})["_id"])
    carol = str(db["users"].find_one({"username": "carol"})["_id"])
    pair = client.post("/auth/signin", json={"username": "root", "password": PASSWORD}).json()
    admin = bearer(pair["accessToken"])
    base = f"/auth/admin/users/{carol}"
    client.put(f"{base}/roles", json={"roles": ["editor"]}, headers=admin)
    client.post(f"{base}/disable", headers=admin)
    client.post(f"{base}/enable", headers=admin)
    client.post(f"{base}/unlock", headers=admin)
    client.post(f"{base}/signout-all", headers=admin)
    client.put(f"{base}/password", json={"password": "N3w-password"}, headers=admin)
    _drain(client)
    admin_events = [e for e in seen if e.user_id == carol and e.name != "signup"]
    assert [e.name for e in admin_events] == [
        "roles_changed",
        "user_disabled",
        "user_enabled",
        "lockout_cleared",
        "sessions_ended",
        "password_set",
    ]
    assert all(e.data["by"] == root_id for e in admin_events)
    assert admin_events[0].data["roles"] == ["editor"]
    assert "N3w-password" not in repr([dict(e.data) for e in seen])


def test_a_failing_handler_is_logged_and_harms_nothing(
    client_for: Any, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[str] = []

    async def broken(event: Event) -> None:
        raise RuntimeError("the mail server is down")

    async def next_one(event: Event) -> None:
        after.append(event.name)

    client = _app_with(client_for, db, broken, next_one)
    with caplog.at_level(logging.ERROR, logger="authkit.events"):
        signup = client.post("/auth/signup", json={"username": "dave", "password": PASSWORD})
        _drain(client)
    assert signup.status_code == 201
    assert after == ["signup"]
    failures = [r for r in caplog.records if r.name == "authkit.events"]
    assert len(failures) == 1 and "failed on signup" in failures[0].getMessage()
    assert failures[0].exc_info is not None


def test_a_handler_that_hangs_never_holds_the_request_and_is_cut_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = asyncio.Event()
    handled: list[str] = []

    async def hangs(event: Event) -> None:
        await released.wait()  # never set

    async def next_one(event: Event) -> None:
        handled.append(event.name)

    async def scenario() -> tuple[bool, bool]:
        bus = EventBus([hangs, next_one], handler_timeout=0.05)
        await bus.emit(Event("signup", "u1"))
        returned_while_pending = not handled  # emit came back before any handler finished
        await bus.drain(timeout=5)
        bus.close()
        return returned_while_pending, handled == ["signup"]

    with caplog.at_level(logging.ERROR, logger="authkit.events"):
        assert asyncio.run(scenario()) == (True, True)
    assert any("timed out on signup" in r.getMessage() for r in caplog.records)


def test_beyond_the_queue_an_event_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def slow(event: Event) -> None:
        await asyncio.sleep(0)

    async def scenario() -> None:
        bus = EventBus([slow], queue_size=2)
        for i in range(5):  # no await in between: the worker has not run yet
            await bus.emit(Event(f"e{i}", None))
        await bus.drain(timeout=5)
        bus.close()

    with caplog.at_level(logging.WARNING, logger="authkit.events"):
        asyncio.run(scenario())
    dropped = [r for r in caplog.records if "event dropped" in r.getMessage()]
    assert len(dropped) == 3


def test_an_event_is_frozen_and_stamped() -> None:
    event = Event("signin", "u1", {"username": "alice"})
    assert event.at.tzinfo is not None
    with pytest.raises(TypeError):
        event.data["username"] = "mallory"  # type: ignore[index]


class _FakeEntryPoint:
    def __init__(self, name: str, target: Any) -> None:
        self.name, self.value, self._target = name, f"fake:{name}", target

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


seen_by_plugins: list[str] = []


async def plugin_handler(event: Event) -> None:
    seen_by_plugins.append(f"plain:{event.name}")


def plugin_factory(ctx: Any) -> Any:
    users = ctx.database["users"]

    async def handle(event: Event) -> None:
        count = users.count_documents({})
        seen_by_plugins.append(f"factory:{event.name}:{count}")

    return handle


def test_plugins_subscribe_through_entry_points(
    client_for: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_by_plugins.clear()
    eps = [_FakeEntryPoint("b-factory", plugin_factory), _FakeEntryPoint("a-plain", plugin_handler)]

    def fake(*, group: str) -> list[Any]:
        return eps if group == authkit.events.plugins.EVENTS_GROUP else []

    monkeypatch.setattr(authkit.events.plugins, "entry_points", fake)
    client = client_for(create_app(make_settings(), database=db))
    client.post("/auth/signup", json={"username": "erin", "password": PASSWORD})
    _drain(client)
    # In the order of the entry points' names.
    assert seen_by_plugins == ["plain:signup", "factory:signup:1"]


def test_a_broken_event_plugin_stops_the_start(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    eps = [_FakeEntryPoint("audit", ImportError("no module named audit_plugin"))]
    monkeypatch.setattr(authkit.events.plugins, "entry_points", lambda *, group: eps)
    with pytest.raises(ConfigError, match="event handler 'audit'"):
        create_app(make_settings(), database=db)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "accounts.md"


def _docs_example(title: str) -> str:
    """The python block that follows `**<title>**` in docs/accounts.md."""
    section = DOCS.read_text("utf-8").split(f"**{title}**", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, f"no python block after {title!r}"
    return found[1]


def test_the_docs_audit_example_writes_each_event_to_a_collection(db: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(_docs_example("Audit to a collection"), namespace)  # noqa: S102 - our own docs
    ctx = StrategyContext(
        users=MongoUserStore(db["users"]),
        passwords=PasswordHasher(4),
        tokens=TokenIssuer(SECRET, 60),
        service=AuthService(MongoUserStore(db["users"]), PasswordHasher(4)),
        database=db,
    )

    async def scenario() -> None:
        bus = EventBus([namespace["audit_to_collection"](ctx)])
        await bus.emit(Event("signin", "u1", {"username": "alice", "session_id": "s1"}))
        await bus.drain(timeout=5)
        bus.close()

    asyncio.run(scenario())
    doc = db["audit"].find_one({}, {"_id": 0, "at": 0})
    assert doc == {"event": "signin", "user_id": "u1", "username": "alice", "session_id": "s1"}


def test_the_docs_welcome_example_mails_new_users_only() -> None:
    sent: list[tuple[str, str]] = []

    async def send_mail(to: str, subject: str, body: str) -> None:
        sent.append((to, subject))

    namespace: dict[str, Any] = {"send_mail": send_mail}
    exec(_docs_example("Send a welcome mail"), namespace)  # noqa: S102 - our own docs

    async def scenario() -> None:
        bus = EventBus([namespace["welcome"]])
        await bus.emit(Event("signin", "u1", {"username": "alice"}))
        await bus.emit(Event("signup", "u2", {"username": "bob1"}))
        await bus.drain(timeout=5)
        bus.close()

    asyncio.run(scenario())
    assert sent == [("bob1", "Welcome")]


def test_the_accounts_changes_are_events_too(
    make_client: Any, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from support.accounts import NEW_PASSWORD, PUBLIC, Mailbox, verified_user
    from support.accounts import PASSWORD as ACCOUNT_PASSWORD

    seen: list[Event] = []

    async def record(event: Event) -> None:
        seen.append(event)

    client = make_client(make_settings(server=PUBLIC))
    client.app.state.events.subscribe(record)
    mailbox = Mailbox(caplog)
    headers = verified_user(client, mailbox)
    change = {"currentPassword": ACCOUNT_PASSWORD, "newPassword": NEW_PASSWORD}
    changed = client.post("/auth/password/change", json=change, headers=headers)
    assert changed.status_code == 200, changed.text
    fresh = bearer(changed.json()["accessToken"])
    gone = client.request("DELETE", "/auth/account", json={"password": NEW_PASSWORD}, headers=fresh)
    assert gone.status_code == 204, gone.text
    _drain(client)
    names = [e.name for e in seen]
    # Deleting ends every session first (signout_all), then the user goes.
    expected = ["signup", "email_verified", "signin", "password_changed", "signout_all"]
    assert names == [*expected, "account_deleted"]
    assert seen[1].data == {"email": "alice@example.com"}
    assert seen[-1].data == {"username": "alice"}
    for event in seen:
        assert ACCOUNT_PASSWORD not in repr(dict(event.data))
        assert NEW_PASSWORD not in repr(dict(event.data))
