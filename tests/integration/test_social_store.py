"""Social sign-in's stores on a real MongoDB-protocol server (SecantusDB, or
AUTHKIT_TEST_MONGO_URI): what only a real server shows. Concurrent takers on separate
connections get a flow or an exchange code exactly once (and a code bound to a challenge signs
in once with the right verifier, and not at all once a wrong one took it); the unique
(issuer, subject) index
lets one of two racing links win; the TTL indexes exist; a user made without a password
keeps the NestJS layout minus `password`.

The same code on mongomock: tests/unit/test_social.py.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx2
import pytest
from pymongo.database import Database
from support.github_fake import GitHubFake
from support.pkce import Pkce
from support.races import RACERS, finish, race_on_server
from support.settings import make_settings

from authkit.core.errors import BadRequest
from authkit.http.settings import ServerSettings
from authkit.social.feature import social_service
from authkit.social.flows import ExchangeCodes, Flow, FlowStore, digest, new_secret
from authkit.social.identities import IdentityStore
from authkit.social.providers import Profile, ProviderOptions
from authkit.social.service import SocialService
from authkit.social.settings import OAuthSettings
from authkit.users.store import MongoUserStore

pytestmark = pytest.mark.integration


def test_of_many_exchanges_of_one_code_exactly_one_wins(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    codes = ExchangeCodes(mongo_db["oauth_codes"])
    finish(codes.ensure_indexes())
    code = finish(codes.issue("65a0c0ffee0000000000beef", "octocat_1a2b3c"))
    assert code not in str(list(mongo_db["oauth_codes"].find()))
    results = race_on_server(
        mongo_uri, db_name, lambda db: finish(ExchangeCodes(db["oauth_codes"]).redeem(code))
    )
    assert sum(r is not None for r in results) == 1
    indexes = mongo_db["oauth_codes"].index_information()
    assert any(i.get("expireAfterSeconds") == 0 for i in indexes.values())


def test_of_many_callbacks_for_one_flow_exactly_one_takes_it(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    flows = FlowStore(mongo_db["oauth_flows"])
    finish(flows.ensure_indexes())
    state, browser = new_secret(), new_secret()
    soon = datetime.now(timezone.utc) + timedelta(minutes=5)
    finish(flows.start(Flow("github", digest(browser), "v" * 64, None, "https://a/b", soon), state))
    results = race_on_server(
        mongo_uri,
        db_name,
        lambda db: finish(FlowStore(db["oauth_flows"]).take("github", state, browser)),
    )
    assert sum(r is not None for r in results) == 1


def test_an_expired_flow_is_not_taken_on_a_real_server(mongo_db: Database[dict[str, Any]]) -> None:
    flows = FlowStore(mongo_db["oauth_flows"])
    state, browser = new_secret(), new_secret()
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    finish(flows.start(Flow("github", digest(browser), "v" * 64, None, "https://a/b", past), state))
    assert finish(flows.take("github", state, browser)) is None
    assert finish(flows.peek("github", state)) is None


def test_of_racing_links_of_one_identity_one_wins(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str
) -> None:
    finish(IdentityStore(mongo_db["oauth_identities"]).ensure_indexes())
    profile = Profile("https://github.com", "4242", "octo@example.com", True)
    users = [f"65a0c0ffee00000000{n:06d}" for n in range(RACERS)]
    counter = iter(range(RACERS))
    lock = threading.Lock()

    def link(db: Database[dict[str, Any]]) -> bool:
        with lock:
            me = users[next(counter)]
        return finish(IdentityStore(db["oauth_identities"]).link(me, "github", profile))

    assert sum(race_on_server(mongo_uri, db_name, link)) == 1
    assert mongo_db["oauth_identities"].count_documents({}) == 1


def test_a_user_without_a_password(mongo_db: Database[dict[str, Any]]) -> None:
    users = MongoUserStore(mongo_db["users"])
    made = finish(users.create_without_password("octocat_1a2b3c"))
    doc = mongo_db["users"].find_one({"username": "octocat_1a2b3c"})
    assert doc is not None and "password" not in doc and doc["__v"] == 0
    assert finish(users.find_by_username("octocat_1a2b3c")) is None  # no password sign-in
    found = finish(users.find_by_id(made.id))
    assert found is not None and not found.has_password
    finish(users.remove_without_password(made.id))
    assert mongo_db["users"].count_documents({}) == 0


API = "http://github.fake"
TARGET = "https://app.test/done"


def _github_service(
    mongo_db: Database[dict[str, Any]],
) -> tuple[SocialService, httpx2.AsyncBaseTransport]:
    fake = GitHubFake()
    settings = make_settings(
        server=ServerSettings(public_url="http://authkit.test"),
        oauth=OAuthSettings(providers=("github",), redirect_targets=(TARGET,)),
        oauth_clients=(fake.client_config(API),),
    )
    users = MongoUserStore(mongo_db["users"])
    options = ProviderOptions(transport=httpx2.ASGITransport(app=fake.app))
    service = social_service(settings, mongo_db, users, options=options)
    assert service is not None and options.transport is not None
    return service, options.transport


async def _exchange_codes(
    service: SocialService, transport: httpx2.AsyncBaseTransport, flows: int, pkce: Pkce
) -> list[str]:
    """`flows` sign-ins started in one browser, their callbacks opened at once: the codes."""
    browser = new_secret()
    backs = []
    async with httpx2.AsyncClient(transport=transport, base_url=API) as github:
        for _ in range(flows):
            started = await service.start(
                "github", TARGET, browser, exchange_challenge=pkce.challenge
            )
            url = urlsplit(started)
            answer = await github.get(f"{url.path}?{url.query}")
            query = parse_qs(urlsplit(answer.headers["location"]).query)
            backs.append({k: v[0] for k, v in query.items()})
    destinations = await asyncio.gather(
        *(service.callback("github", b, browser, "127.0.0.1") for b in backs)
    )
    return [parse_qs(urlsplit(d).query)["code"][0] for d in destinations]


def test_two_first_sign_ins_of_one_identity_at_once_make_one_user(
    mongo_db: Database[dict[str, Any]],
) -> None:
    service, transport = _github_service(mongo_db)
    pkce = Pkce.new()
    codes = finish(_exchange_codes(service, transport, 2, pkce))
    grants = [finish(service.exchange(c, pkce.verifier)) for c in codes]
    assert grants[0].user_id == grants[1].user_id
    assert mongo_db["users"].count_documents({}) == 1
    assert mongo_db["oauth_identities"].count_documents({}) == 1


@pytest.mark.parametrize("verifier", ["right", "wrong"])
def test_of_racing_exchanges_of_one_bound_code_at_most_one_signs_in(
    mongo_db: Database[dict[str, Any]], mongo_uri: str, db_name: str, verifier: str
) -> None:
    service, transport = _github_service(mongo_db)
    pkce = Pkce.new()
    (code,) = finish(_exchange_codes(service, transport, 1, pkce))
    sent = pkce.verifier if verifier == "right" else Pkce.new().verifier

    def exchange(db: Database[dict[str, Any]]) -> str:
        # The same service, on this thread's own connection.
        mine = attrs.evolve(service, codes=ExchangeCodes(db["oauth_codes"]))
        try:
            return finish(mine.exchange(code, sent)).user_id
        except BadRequest as refused:
            return str(refused.message)

    answers = race_on_server(mongo_uri, db_name, exchange)
    refused = [a for a in answers if a.startswith(("The code is", "code_verifier"))]
    signed_in = [a for a in answers if a not in refused]
    assert len(signed_in) == (1 if verifier == "right" else 0), answers
    # A wrong verifier takes the code as the right one would: the other racers find none.
    assert sum(a.startswith("code_verifier does not match") for a in answers) == (
        0 if verifier == "right" else 1
    )
    assert mongo_db["oauth_codes"].count_documents({}) == 0
