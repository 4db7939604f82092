"""APIKeyStrategy: an `X-API-Key: ak_...` header -> the key's owner, with the key's scopes.

A key is refused (Fail, challenge `APIKey header="X-API-Key"`) when the header is
missing, given twice, not shaped like a key, unknown, revoked, or when its owner no
longer exists (a user deleted, or deleted and created again under the same name).
Refusals are logged on `authkit.security` with the key's non-secret prefix at most.

Keys carry 256 random bits, so unlike passwords they need no throttling: guessing
one is hopeless at any request rate.

`last_used_at` is written after the answer is decided, in a background task (the
request does not wait for it), and at most once per `touch_every` per key, so a busy
key costs one read per request and one write a minute.

Example:

    strategy = APIKeyStrategy(APIKeyStore(db["api_keys"]), MongoUserStore(db["users"]))
    outcome = await strategy.authenticate(request)
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs
from authkit.plugin import (
    AuthenticatedUser,
    Fail,
    Feature,
    Outcome,
    StrategyContext,
    Success,
    UserStore,
    client_ip,
)
from pymongo.database import Database
from starlette.requests import Request

from authkit_apikey.keys import display_prefix, looks_like_key
from authkit_apikey.routes import api_key_routes
from authkit_apikey.store import APIKey, APIKeyStore

__all__ = ["CHALLENGE", "HEADER", "APIKeyStrategy"]

HEADER = "X-API-Key"
CHALLENGE = f'APIKey header="{HEADER}"'
_FAIL = Fail(challenge=CHALLENGE)

security_log = logging.getLogger("authkit.security")
logger = logging.getLogger("authkit_apikey")


def database_of(ctx: StrategyContext) -> Database[dict[str, Any]]:
    """The database the users live in, where the keys go too."""
    if ctx.database is None:
        raise TypeError(
            "authkit-apikey stores keys in the users' MongoDB database, and this application "
            "gave its strategies none (StrategyContext.database is None)"
        )
    return ctx.database


@attrs.frozen
class APIKeyStrategy:
    name: ClassVar[str] = "apikey"
    openapi_scheme: ClassVar[dict[str, str]] = {"type": "apiKey", "in": "header", "name": HEADER}

    keys: APIKeyStore
    users: UserStore
    max_body_bytes: int = 16 * 1024
    touch_every: timedelta = timedelta(minutes=1)
    # Background last_used_at writes still running: held so they are not garbage-collected.
    _pending: set[asyncio.Task[None]] = attrs.field(factory=set, init=False, repr=False, eq=False)

    @classmethod
    def from_context(cls, ctx: StrategyContext) -> APIKeyStrategy:
        return cls(APIKeyStore.on_database(database_of(ctx)), ctx.users, ctx.max_body_bytes)

    def feature(self) -> Feature:
        """POST/GET /auth/api-keys and DELETE /auth/api-keys/{id}, for holders of a JWT, and
        the keys' indexes, built at start-up."""
        return Feature(
            "apikey",
            routes=api_key_routes(self.keys, self.max_body_bytes),
            indexes=[self.keys.ensure_indexes],
        )

    async def authenticate(self, request: Request) -> Outcome:
        values = request.headers.getlist(HEADER)
        if len(values) != 1:
            return _FAIL  # none, or two keys: which one did the client mean?
        key = values[0].strip()
        if not looks_like_key(key):
            return self._refused(request, "malformed", None)
        record = await self.keys.find_active(key)
        if record is None:
            return self._refused(request, "unknown_or_revoked", display_prefix(key))
        owner = await self.users.find_by_username(record.username)
        if owner is None or owner.id != record.user_id:
            return self._refused(request, "owner_gone", record.prefix)
        self._touch_later(record)
        user = AuthenticatedUser(record.user_id, record.username, {"api_key_id": record.id})
        return Success(user, record.scopes)

    async def flush(self) -> None:
        """Wait for the background last_used_at writes started so far (tests, shutdown)."""
        while pending := [task for task in self._pending if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    def _refused(self, request: Request, reason: str, prefix: str | None) -> Fail:
        fields: dict[str, Any] = {
            "event": "apikey_refused",
            "reason": reason,
            "address": str(client_ip(request.scope) or "unknown"),
        }
        if prefix is not None:
            fields["key_prefix"] = prefix
        security_log.warning("api key refused", extra={"fields": fields})
        return _FAIL

    def _touch_later(self, record: APIKey) -> None:
        now = self.keys.now()
        if record.last_used_at is not None and now - record.last_used_at < self.touch_every:
            return
        task = asyncio.get_running_loop().create_task(self._touch(record, now))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _touch(self, record: APIKey, now: datetime) -> None:
        try:
            await self.keys.touch(record.id, now, every=self.touch_every)
        except Exception as exc:  # the request was answered already; only a log is left to give
            logger.warning(
                "could not record the use of API key %s: %s", record.prefix, type(exc).__name__
            )
