"""The state of sign-in flows in flight, and the one-time codes a finished one hands out.

A flow is one document (`oauth_flows`) keyed by the hash of its `state`, holding the hash of
the browser-binding cookie of the browser that started it, the PKCE verifier, the nonce,
where to return, the provider, the user a link flow links to, and the front end's
`code_challenge` for the exchange (authkit.social.pkce). Each flow is its own
document, so any number run at once in one browser (two tabs, two providers). The callback
takes it with one `find_one_and_delete` conditioned on the state, the browser and the
expiry: a replayed callback, a foreign browser's, or a late one finds nothing, and two
callbacks racing for one flow get it once. A foreign browser's attempt does not consume the
flow (its owner can still finish).

An exchange code (`oauth_codes`) is stored hashed with its flow's `code_challenge`, lives
60 s and is taken the same way: of two exchanges at once, one wins, and the verifier is
checked only once the code is taken, so a wrong one has used the code up.

Example:

    from datetime import datetime, timedelta, timezone

    flows = FlowStore(db["oauth_flows"])
    state, browser = new_secret(), new_secret()
    soon = datetime.now(timezone.utc) + timedelta(minutes=10)
    flow = Flow("github", digest(browser), "verifier", None, "https://app.example/done", soon)
    await flows.start(flow, state)
    assert await flows.take("github", state, new_secret()) is None    # another browser
    taken = await flows.take("github", state, browser)
    assert taken is not None and taken.code_verifier == "verifier"
    assert await flows.take("github", state, browser) is None         # used
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
from pymongo.collection import Collection

from authkit.storage.database import call_database

__all__ = ["CODE_TTL", "CodeGrant", "ExchangeCodes", "Flow", "FlowStore", "digest", "new_secret"]

CODE_TTL = timedelta(seconds=60)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime) -> datetime:
    # mongomock and some servers hand back naive UTC datetimes.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@attrs.frozen
class Flow:
    provider: str
    browser_hash: str
    code_verifier: str = attrs.field(repr=False)
    nonce: str | None = attrs.field(repr=False)
    redirect_to: str
    expires: datetime
    # Set for a link flow: the signed-in user the identity joins.
    link_user_id: str | None = None
    # The client address (authkit.http.client_address.throttle_key) that started it.
    address: str | None = None
    # The front end's RFC 7636 S256 challenge, which the exchange's code_verifier must meet.
    exchange_challenge: str | None = None

    def document(self, state: str) -> dict[str, Any]:
        return {"_id": digest(state), **attrs.asdict(self)}

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Flow:
        fields: dict[str, Any] = {a.name: doc.get(a.name) for a in attrs.fields(cls)}
        fields["expires"] = _aware(doc["expires"])
        return cls(**fields)


class FlowStore:
    def __init__(self, collection: Collection[dict[str, Any]]) -> None:
        self._flows = collection

    async def ensure_indexes(self) -> None:
        # Expired flows are refused by the query; the TTL index only clears them away.
        await call_database(self._flows.create_index, "expires", expireAfterSeconds=0)
        await call_database(self._flows.create_index, "address")

    async def live_from(self, address: str, at_most: int) -> int:
        """How many live flows `address` started (counting stops at `at_most`)."""
        query = {"address": address, "expires": {"$gt": _now()}}
        found: int = await call_database(self._flows.count_documents, query, limit=at_most)
        return found

    async def start(self, flow: Flow, state: str) -> None:
        await call_database(self._flows.insert_one, flow.document(state))

    async def take(self, provider: str, state: str, browser_cookie: str | None) -> Flow | None:
        """The flow `state` names, removed: None unless it is live, of this provider, and
        this browser's."""
        if browser_cookie is None:
            return None
        query = {
            "_id": digest(state),
            "provider": provider,
            "browser_hash": digest(browser_cookie),
            "expires": {"$gt": _now()},
        }
        doc = await call_database(self._flows.find_one_and_delete, query)
        return None if doc is None else Flow.from_document(doc)

    async def peek(self, provider: str, state: str) -> Flow | None:
        """The live flow `state` names, whoever's browser asks, left in place: where to send
        a refused callback back to."""
        doc = await call_database(
            self._flows.find_one,
            {"_id": digest(state), "provider": provider, "expires": {"$gt": _now()}},
        )
        return None if doc is None else Flow.from_document(doc)


@attrs.frozen
class CodeGrant:
    user_id: str
    username: str
    # The challenge the code's flow started with (None: the code is bound to nothing).
    challenge: str | None = None


class ExchangeCodes:
    def __init__(self, collection: Collection[dict[str, Any]], ttl: timedelta = CODE_TTL) -> None:
        self._codes = collection
        self.ttl = ttl

    async def ensure_indexes(self) -> None:
        await call_database(self._codes.create_index, "expires", expireAfterSeconds=0)

    async def issue(self, user_id: str, username: str, challenge: str | None = None) -> str:
        code = new_secret()
        doc = {
            "_id": digest(code),
            "user_id": user_id,
            "username": username,
            "challenge": challenge,
            "expires": _now() + self.ttl,
        }
        await call_database(self._codes.insert_one, doc)
        return code

    async def redeem(self, code: str) -> CodeGrant | None:
        """What `code` grants, once: None when unknown, used or expired. Taken whatever the
        caller then decides: the verifier is checked after, against `CodeGrant.challenge`."""
        doc = await call_database(
            self._codes.find_one_and_delete,
            {"_id": digest(code), "expires": {"$gt": _now()}},
        )
        if doc is None:
            return None
        challenge = doc.get("challenge")
        return CodeGrant(
            str(doc["user_id"]),
            str(doc["username"]),
            None if challenge is None else str(challenge),
        )
