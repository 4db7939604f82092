"""TokenLifecycle: what happens to tokens after the password check.

Sign-in starts a session (a refresh-token family) and returns an access token
and a refresh token; a refresh trades a refresh token for a new pair, once;
sign-out ends the session, sign-out-all every session of the user; sessions
are listed and revoked one by one. A session ends `session_max_age` after its
sign-in however often it is refreshed: a refresh token issued near that end
lives only until it. An access token carries the user's `roles` (when they have
any), read again at every refresh, so a change of roles reaches the client at its
next refresh; a disabled user's refresh is refused and their session ended.
Sign-in, sign-out, sign-out-all and a detected reuse are also lifecycle events
(authkit.events), emitted after they happened. Storage is authkit.sessions'
business, revocation checks authkit.revocation's; no HTTP here.

Every security-relevant outcome is logged on `authkit.security` with the user
and session ids, never a token or its hash. A reused refresh token is a
warning: either a thief or the victim used a token the other had already
traded, and since nobody can tell which, the whole session is revoked and both
must sign in again. The one exception is a second use within a few seconds of
the first (`reuse_grace_seconds`): that is a client racing itself (two tabs
sharing a cookie, a retry), refused without ending the session, so that of
many concurrent refreshes exactly one wins and the session lives on.

Example:

    from authkit.sessions.revocation import MongoDenylist
    from authkit.sessions.store import MongoSessionStore

    sessions = MongoSessionStore(db["auth_sessions"], db["refresh_tokens"])
    denylist = MongoDenylist(db["revoked_tokens"])
    lifecycle = TokenLifecycle(issuer, store, sessions, denylist)
    user = await store.create("alice", "$2b$10$…")      # a refresh needs the user to exist
    pair = await lifecycle.sign_in(user.id, user.username, token_version=0, user_agent="curl/8.5")
    pair = await lifecycle.refresh(pair.refresh_token, user_agent="curl/8.5")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

from authkit.core.errors import (
    AccountDisabled,
    AuthenticationFailed,
    BackendUnavailable,
    InvalidRefreshToken,
    NotFound,
)
from authkit.events.bus import Event, EventBus
from authkit.ops.metrics import NoMetrics
from authkit.sessions.revocation import MongoDenylist
from authkit.sessions.store import MongoSessionStore, Session, hash_token, new_refresh_token
from authkit.tokens.issuer import TokenIssuer
from authkit.users.store import AccountStore

__all__ = ["TokenLifecycle", "TokenPair", "looks_like_refresh_token"]

security_log = logging.getLogger("authkit.security")

# What new_refresh_token() makes, with room to spare; anything else is refused unread.
_REFRESH_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{20,256}$")
# A denied session's access tokens were issued before the denial, give or take a
# refresh in flight: their exp falls within one lifetime (plus leeway) of it.
_DENY_MARGIN_SECONDS = 5


def looks_like_refresh_token(value: str) -> bool:
    return bool(_REFRESH_TOKEN_SHAPE.match(value))


@attrs.frozen
class TokenPair:
    access_token: str
    refresh_token: str | None = attrs.field(default=None, repr=False)
    session_id: str | None = None
    # Seconds the refresh token lives: a cookie carrying it should not outlive it.
    refresh_expires_in: int | None = None


@attrs.frozen
class TokenLifecycle:
    tokens: TokenIssuer
    users: AccountStore
    # None when refresh tokens are off: sign-in then starts no session.
    sessions: MongoSessionStore | None
    denylist: MongoDenylist
    refresh_ttl: timedelta = timedelta(days=14)
    # A session ends this long after its sign-in, refreshed or not; None: never.
    session_max_age: timedelta | None = timedelta(days=30)
    revocation_checks: bool = False
    # A used token presented again within this many seconds of its first use is a
    # concurrent duplicate (two tabs, a retry): refused, but the session is kept.
    reuse_grace_seconds: int = 10
    metrics: NoMetrics = attrs.field(factory=NoMetrics)
    events: EventBus = attrs.field(factory=EventBus)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.tokens.now(), tz=timezone.utc)

    def _access(
        self,
        user_id: str,
        username: str,
        version: int,
        session_id: str | None,
        auth_time: datetime | None,
        roles: Sequence[str] = (),
    ) -> str:
        claims: dict[str, Any] = {"token_version": version}
        if session_id is not None:
            claims["sid"] = session_id
        if auth_time is not None:
            # When the user last proved who they are (RFC 9470): step-up reads it.
            claims["auth_time"] = int(auth_time.timestamp())
        if roles:
            # Only when there are some: a user without roles gets the seed's token.
            claims["roles"] = list(roles)
        token = self.tokens.issue(user_id=user_id, username=username, claims=claims)
        self.metrics.token_issued()
        return token

    async def sign_in(
        self,
        user_id: str,
        username: str,
        *,
        token_version: int | None = None,
        roles: Sequence[str] | None = None,
        user_agent: str | None = None,
    ) -> TokenPair:
        """A new session (when refresh tokens are on) and its tokens. `token_version` and
        `roles` are the user's as the password check just read them; either left out, the
        user is read (AccountDisabled if it is disabled, AuthenticationFailed if it is gone:
        deleted between a first step, a social callback or a password, and the last)."""
        if token_version is None or roles is None:
            user = await self.users.find_by_id(user_id)
            if user is None:
                raise AuthenticationFailed()
            if user.disabled:
                raise AccountDisabled()
            if token_version is None:
                token_version = user.token_version
            if roles is None:
                roles = user.roles
        now = self._now()
        if self.sessions is None:
            pair = TokenPair(self._access(user_id, username, token_version, None, now, roles))
        else:
            refresh_token = new_refresh_token()
            expires = self._expiry(now, now)
            session = await self.sessions.start(
                user_id, user_agent, hash_token(refresh_token), now, expires
            )
            _log("session started", "session_started", user_id, session.id)
            access = self._access(user_id, username, token_version, session.id, now, roles)
            pair = TokenPair(access, refresh_token, session.id, _seconds_until(expires, now))
        data = {"username": username, "session_id": pair.session_id}
        await self.events.emit(Event("signin", user_id, data))
        return pair

    def reauthenticated(self, claims: Mapping[str, Any]) -> str:
        """A fresh access token for the bearer of `claims` (verified), who has just proved
        who they are again (step-up): the same session and token version, `auth_time` now."""
        version, sid = claims.get("token_version"), claims.get("sid")
        roles = claims.get("roles")
        return self._access(
            claims["sub"],
            claims["username"],
            version if isinstance(version, int) and not isinstance(version, bool) else 0,
            sid if isinstance(sid, str) else None,
            self._now(),
            # The token's own: step-up proves who the user is, it grants nothing new.
            [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else (),
        )

    async def refresh(self, refresh_token: str, *, user_agent: str | None = None) -> TokenPair:
        """A new pair for a live refresh token, which is used up; InvalidRefreshToken if not."""
        if self.sessions is None or not looks_like_refresh_token(refresh_token):
            raise InvalidRefreshToken()
        now = self._now()
        used = await self.sessions.consume(hash_token(refresh_token), now)
        if used.outcome == "reused" and self._within_grace(used.used_at, now):
            _log("refresh refused", "refresh_refused", used.user_id, used.session_id, "race")
            raise InvalidRefreshToken()
        if used.outcome == "reused" and used.session_id and used.user_id:
            await self._end_session(used.session_id, used.user_id, now)
            security_log.warning(
                "refresh token reused; session revoked",
                extra={
                    "fields": {
                        "event": "refresh_token_reused",
                        "user_id": used.user_id,
                        "session_id": used.session_id,
                        "user_agent": user_agent,
                    }
                },
            )
            data = {"session_id": used.session_id, "user_agent": user_agent}
            await self.events.emit(Event("refresh_token_reused", used.user_id, data))
        if used.outcome != "consumed" or not used.session_id or not used.user_id:
            _log("refresh refused", "refresh_refused", used.user_id, used.session_id, used.outcome)
            raise InvalidRefreshToken()
        # A token from before authkit kept the session's start: its session counts from now.
        started = used.session_started_at or now
        try:
            if self._expiry(started, now) <= now:
                await self._end_session(used.session_id, used.user_id, now)
                _log("refresh refused", "refresh_refused", used.user_id, used.session_id, "max_age")
                raise InvalidRefreshToken()
            user = await self.users.find_by_id(used.user_id)
            if user is None or user.disabled:
                await self._end_session(used.session_id, used.user_id, now)
                reason = "no_user" if user is None else "disabled"
                _log("refresh refused", "refresh_refused", used.user_id, used.session_id, reason)
                raise InvalidRefreshToken()
            successor, expires = new_refresh_token(), self._expiry(started, now)
            continued = await self.sessions.continue_session(
                used.session_id, user.id, hash_token(successor), now, expires, started
            )
        except BackendUnavailable:
            # The client gets a 503 and will retry with the same token: give it back, or the
            # retry would look like a replay (a 401, or a revoked session and a false alarm).
            await self.sessions.release(hash_token(refresh_token))
            raise
        if not continued:
            _log("refresh refused", "refresh_refused", user.id, used.session_id, "revoked")
            raise InvalidRefreshToken()
        # The sign-in's time, not the refresh's: a refresh proves nothing about the user.
        # A session from before authkit kept its start has none, and is never fresh. The
        # roles as they are now: a change since the last refresh arrives here.
        access = self._access(
            user.id,
            user.username,
            user.token_version,
            used.session_id,
            used.session_started_at,
            user.roles,
        )
        return TokenPair(access, successor, used.session_id, _seconds_until(expires, now))

    def _expiry(self, started: datetime, now: datetime) -> datetime:
        """When a token issued `now` in a session begun at `started` expires: one refresh
        lifetime on, but never past the session's maximum age."""
        expiry = now + self.refresh_ttl
        if self.session_max_age is None:
            return expiry
        return min(expiry, started + self.session_max_age)

    def _within_grace(self, used_at: datetime | None, now: datetime) -> bool:
        return used_at is not None and (now - used_at).total_seconds() < self.reuse_grace_seconds

    async def sign_out(self, claims: Mapping[str, Any], refresh_token: str | None) -> None:
        """End the session the access token (its `sid`) or the refresh token belongs to."""
        user_id, now = claims["sub"], self._now()
        ended: set[str] = set()
        if isinstance(claims.get("sid"), str):
            ended.add(claims["sid"])
        if self.sessions is not None and refresh_token and looks_like_refresh_token(refresh_token):
            owner = await self.sessions.find_token(hash_token(refresh_token))
            # Someone else's token ends nobody's session: sign-out only ever ends your own.
            if owner.session_id and owner.user_id == user_id:
                ended.add(owner.session_id)
        for session_id in sorted(ended):
            await self._end_session(session_id, user_id, now)
        if self.revocation_checks and isinstance(claims.get("jti"), str):
            await self.denylist.deny_token(claims["jti"], self._deny_until(claims, now))
        _log("signed out", "signout", user_id, ",".join(sorted(ended)) or None)
        await self.events.emit(Event("signout", user_id, {"sessions": sorted(ended)}))

    async def sign_out_all(self, claims: Mapping[str, Any]) -> int:
        """Revoke every session of the user and every access token issued so far."""
        ended = await self.end_every_session(claims["sub"])
        await self.events.emit(Event("signout_all", claims["sub"], {"sessions": ended}))
        return ended

    async def end_every_session(self, user_id: str) -> int:
        """Revoke every session of `user_id` and outdate every access token issued so far
        (refused at once with revocation checks); how many sessions were live."""
        now = self._now()
        version = await self.users.bump_token_version(user_id)
        ended = 0 if self.sessions is None else await self.sessions.revoke_all(user_id, now)
        security_log.info(
            "signed out everywhere",
            extra={
                "fields": {
                    "event": "signout_all",
                    "user_id": user_id,
                    "sessions": ended,
                    "token_version": version,
                }
            },
        )
        return ended

    async def sign_out_others(self, user_id: str, username: str, keep_session: str | None) -> str:
        """Revoke every session of the user but `keep_session` and outdate every access
        token issued so far (a password change); a new access token for the session kept."""
        now = self._now()
        version = await self.users.bump_token_version(user_id)
        ended = 0
        if self.sessions is not None:
            ended = await self.sessions.revoke_all(user_id, now, keep=keep_session)
        security_log.info(
            "signed out other sessions",
            extra={
                "fields": {
                    "event": "signout_others",
                    "user_id": user_id,
                    "session_id": keep_session,
                    "sessions": ended,
                    "token_version": version,
                }
            },
        )
        # The caller has just given their password: that is a sign-in's proof, `auth_time` now.
        return self._access(user_id, username, version, keep_session, now)

    async def forget_user(self, user_id: str) -> None:
        """Every session and refresh token of a deleted user, gone; the user's access
        tokens are refused from here on when revocation checks are on (no such user)."""
        if self.sessions is not None:
            await self.sessions.delete_all(user_id)
        _log("sessions deleted", "sessions_deleted", user_id, None)

    async def list_sessions(self, user_id: str) -> list[Session]:
        if self.sessions is None:
            return []
        return await self.sessions.active(user_id, self._now())

    async def revoke_session(self, user_id: str, session_id: str) -> None:
        """Revoke one of the user's own live sessions; NotFound for any other id."""
        if not await self._end_session(session_id, user_id, self._now()):
            raise NotFound("Session not found")
        _log("session revoked", "session_revoked", user_id, session_id)

    async def _end_session(self, session_id: str, user_id: str, now: datetime) -> bool:
        if self.sessions is None:
            return False
        if self.revocation_checks and await self.sessions.is_live(session_id, user_id, now):
            # The session's access tokens, wherever they are, stop at once as well. Only
            # for a session this user owns: nobody can deny someone else's tokens. Denied
            # before it is revoked: should the database fail in between, the retry still
            # finds the session live and finishes; the other order would lose the denial.
            await self.denylist.deny_session(session_id, self._deny_until({}, now))
        return await self.sessions.revoke(session_id, user_id, now)

    def _deny_until(self, claims: Mapping[str, Any], now: datetime) -> datetime:
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and not isinstance(exp, bool):
            # Accepted up to exp + leeway; remembered a little beyond.
            seconds = exp - now.timestamp() + self.tokens.leeway + _DENY_MARGIN_SECONDS
        else:
            seconds = self.tokens.ttl_seconds + self.tokens.leeway + _DENY_MARGIN_SECONDS
        return now + timedelta(seconds=max(seconds, _DENY_MARGIN_SECONDS))


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(0, int((moment - now).total_seconds()))


def _log(
    message: str, event: str, user_id: str | None, session_id: str | None, reason: str = ""
) -> None:
    fields: dict[str, Any] = {"event": event, "user_id": user_id, "session_id": session_id}
    if reason:
        fields["reason"] = reason
    security_log.info(message, extra={"fields": fields})
