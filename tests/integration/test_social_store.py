"""Social sign-in's stores on a real MongoDB-protocol server (SecantusDB, or
AUTHKIT_TEST_MONGO_URI): what only a real server shows. Concurrent takers on separate
connections get a flow or an exchange code exactly once; the unique (issuer, subject) index
lets one of two racing links win; the TTL indexes exist; a user made without a password
keeps the NestJS layout minus `password`.

The same code on mongomock: tests/unit/test_social.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from pymongo import MongoClient
from pymongo.database import Database
from support.github_fake import GitHubFake
from support.settings import make_settings

from authkit.http.settings import ServerSettings
from authkit.settings.model import Secret
from authkit.social.feature import social_service
from authkit.social.flows import ExchangeCodes, Flow, FlowStore, digest, new_secret
from authkit.social.identities import IdentityStore
from authkit.social.providers import Profile, ProviderOptions
from authkit.social.settings import OAuthSettings, ProviderConfig
from authkit.users.store import MongoUserStore

pytestmark = pytest.mark.integration

T = TypeVar("T")
ATTEMPTS = 12


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def race(mongo_uri: str, db_name: str, work: Callable[[Database[dict[str, Any]]], T]) -> list[T]:
    """`work` in ATTEMPTS threads at once, each on a connection of its own."""
    barrier = threading.Barrier(ATTEMPTS)

    def one(_: int) -> T:
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
        try:
            barrier.wait(timeout=30)
            return work(client[db_name])
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        return list(pool.map(one, range(ATTEMPTS)))


def test_of_many_exchanges_of_one_code_exactly_one_wins(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    codes = ExchangeCodes(mongo_db["oauth_codes"])
    run(codes.ensure_indexes())
    code = run(codes.issue("65a0c0ffee0000000000beef", "octocat_1a2b3c"))
    assert code not in str(list(mongo_db["oauth_codes"].find()))
    results = race(
        mongo_uri, db_name, lambda db: run(ExchangeCodes(db["oauth_codes"]).redeem(code))
    )
    assert sum(r is not None for r in results) == 1
    indexes = mongo_db["oauth_codes"].index_information()
    assert any(i.get("expireAfterSeconds") == 0 for i in indexes.values())


def test_of_many_callbacks_for_one_flow_exactly_one_takes_it(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    flows = FlowStore(mongo_db["oauth_flows"])
    run(flows.ensure_indexes())
    state, browser = new_secret(), new_secret()
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)
    run(flows.start(Flow("github", digest(browser), "v" * 64, None, "https://a/b", soon), state))
    results = race(
        mongo_uri,
        db_name,
        lambda db: run(FlowStore(db["oauth_flows"]).take("github", state, browser)),
    )
    assert sum(r is not None for r in results) == 1


def test_an_expired_flow_is_not_taken_on_a_real_server(mongo_db: Database[dict[str, Any]]) -> None:
    flows = FlowStore(mongo_db["oauth_flows"])
    state, browser = new_secret(), new_secret()
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    run(flows.start(Flow("github", digest(browser), "v" * 64, None, "https://a/b", past), state))
    assert run(flows.take("github", state, browser)) is None
    assert run(flows.peek("github", state)) is None


def test_of_racing_links_of_one_identity_one_wins(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    run(IdentityStore(mongo_db["oauth_identities"]).ensure_indexes())
    profile = Profile("https://github.com", "4242", "octo@example.com", True)
    users = [f"65a0c0ffee00000000{n:06d}" for n in range(ATTEMPTS)]
    counter = iter(range(ATTEMPTS))
    lock = threading.Lock()

    def link(db: Database[dict[str, Any]]) -> bool:
        with lock:
            me = users[next(counter)]
        return run(IdentityStore(db["oauth_identities"]).link(me, "github", profile))

    assert sum(race(mongo_uri, db_name, link)) == 1
    assert mongo_db["oauth_identities"].count_documents({}) == 1


def test_a_user_without_a_password(mongo_db: Database[dict[str, Any]]) -> None:
    users = MongoUserStore(mongo_db["users"])
    made = run(users.create_without_password("octocat_1a2b3c"))
    doc = mongo_db["users"].find_one({"username": "octocat_1a2b3c"})
    assert doc is not None and "password" not in doc and doc["__v"] == 0
    assert run(users.find_by_username("octocat_1a2b3c")) is None  # no password sign-in
    found = run(users.find_by_id(made.id))
    assert found is not None and not found.has_password
    run(users.remove_without_password(made.id))
    assert mongo_db["users"].count_documents({}) == 0


def test_two_first_sign_ins_of_one_identity_at_once_make_one_user(
    mongo_db: Database[dict[str, Any]],
) -> None:

    fake = GitHubFake()
    api = "http://github.fake"
    settings = make_settings(
        server=ServerSettings(public_url="http://authkit.test"),
        oauth=OAuthSettings(providers=("github",), redirect_targets=("https://app.test/done",)),
        oauth_clients=(
            ProviderConfig(
                name="github",
                kind="github",
                client_id=fake.client_id,
                client_secret=Secret(fake.client_secret),
                api_url=api,
                authorize_url=f"{api}/login/oauth/authorize",
                token_url=f"{api}/login/oauth/access_token",
            ),
        ),
    )
    users = MongoUserStore(mongo_db["users"])
    options = ProviderOptions(transport=httpx2.ASGITransport(app=fake.app))
    service = social_service(settings, mongo_db, users, options=options)
    assert service is not None

    async def both() -> list[str]:
        browser = new_secret()
        backs = []
        async with httpx2.AsyncClient(transport=options.transport, base_url=api) as github:
            for _ in range(2):
                url = urlsplit(await service.start("github", "https://app.test/done", browser))
                answer = await github.get(f"{url.path}?{url.query}")
                query = parse_qs(urlsplit(answer.headers["location"]).query)
                backs.append({k: v[0] for k, v in query.items()})
        return list(
            await asyncio.gather(
                *(service.callback("github", b, browser, "127.0.0.1") for b in backs)
            )
        )

    destinations = run(both())
    codes = [parse_qs(urlsplit(d).query)["code"][0] for d in destinations]
    grants = [run(service.exchange(c)) for c in codes]
    assert grants[0].user_id == grants[1].user_id
    assert mongo_db["users"].count_documents({}) == 1
    assert mongo_db["oauth_identities"].count_documents({}) == 1
