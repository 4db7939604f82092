"""UserDirectory and the throttle's unlock against a real MongoDB-protocol server
(SecantusDB, or AUTHKIT_TEST_MONGO_URI): what mongomock might answer differently, the
`$type` filter that leaves out documents no User can be made of, the escaped prefix
search, cursor pages, and the atomic updates of roles, the disabled flag and the password.

The same through the routes on mongomock: tests/unit/test_admin_routes.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from bson import ObjectId
from pymongo.database import Database

from authkit.admin.store import UserDirectory
from authkit.passwords.throttle import Limit, SigninThrottle
from authkit.users.store import MongoUserStore

pytestmark = pytest.mark.integration

T = TypeVar("T")
HASH = "$2b$04$" + "x" * 53


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_pages_search_and_updates_on_a_real_server(mongo_db: Database[dict[str, Any]]) -> None:
    store = MongoUserStore(mongo_db["users"])
    directory = UserDirectory(mongo_db["users"])
    made = [run(store.create(name, HASH)) for name in ("Alice", "alfred", "a.b.", "axbx", "bob1")]
    mongo_db["users"].insert_one({"_id": ObjectId(), "username": "nopassword", "__v": 0})

    first, after = run(directory.page(limit=2))
    second, after2 = run(directory.page(after=after, limit=10))
    names = [u.username for u in first + second]
    assert names == ["Alice", "alfred", "a.b.", "axbx", "bob1"] and after2 is None
    assert [u.username for u in run(directory.page(search="al"))[0]] == ["Alice", "alfred"]
    assert [u.username for u in run(directory.page(search="a.b"))[0]] == ["a.b."]

    user = made[0]
    updated = run(directory.set_roles(user.id, ("admin", "ops")))
    assert updated is not None and updated.roles == ("admin", "ops")
    assert updated.token_version == user.token_version + 1
    cleared = run(directory.set_roles(user.id, ()))
    assert cleared is not None and cleared.roles == ()
    assert "roles" not in mongo_db["users"].find_one({"_id": ObjectId(user.id)})

    disabled = run(directory.set_disabled(user.id, True))
    assert disabled is not None and disabled.disabled
    assert run(store.token_version(user.id)) is None  # revocation checks refuse its tokens
    run(directory.set_disabled(user.id, False))
    assert run(store.token_version(user.id)) == cleared.token_version

    assert run(directory.set_roles(str(ObjectId()), ("x",))) is None
    assert run(directory.set_roles("not-an-id", ("x",))) is None


def test_unlock_forgets_the_accounts_failures_only(mongo_db: Database[dict[str, Any]]) -> None:
    throttle = SigninThrottle(
        mongo_db["signin_failures"], per_account=Limit(3, 900), per_address=Limit(100, 900)
    )

    async def scenario() -> tuple[int, int | None, int | None]:
        for _ in range(3):
            await throttle.record_failure("carol", "198.51.100.7")
        await throttle.record_failure("dave", "198.51.100.7")
        locked = await throttle.retry_after("carol", "198.51.100.8")
        cleared = await throttle.clear_account("carol")
        return cleared, locked, await throttle.retry_after("carol", "198.51.100.8")

    cleared, locked, after = run(scenario())
    assert locked is not None and (cleared, after) == (3, None)
    assert mongo_db["signin_failures"].count_documents({"account": "dave"}) == 1
