"""SocialService: the flows of social sign-in, with no HTTP in them.

- `start`: a new flow (state, PKCE verifier, nonce) bound to the browser, and the provider's
  authorization URL for it;
- `callback`: the flow taken back (once, by the browser that started it), the code traded
  and the identity verified by the provider, then the user found, linked by a verified
  email, or made; the answer is where to send the browser: the flow's target with a
  one-time authkit code, `linked=<provider>`, or `error=<code>`;
- `exchange`: a one-time code, and the verifier of the challenge its flow started with
  (authkit.social.pkce), for the user it stands for (the route then signs in);
- `identities` and `unlink`.

Failed callbacks count against the client address like failed password sign-ins (the
`signin_failures` collection, per-address limit). Every outcome is logged on
`authkit.security`, never with a state, code or token.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs

from authkit.core.errors import (
    BackendUnavailable,
    BadRequest,
    Conflict,
    NotFound,
    TooManyRequests,
    UserAlreadyExists,
)
from authkit.passwords.dto import is_clean_text
from authkit.passwords.throttle import SigninThrottle
from authkit.social.flows import CodeGrant, ExchangeCodes, Flow, FlowStore, digest, new_secret
from authkit.social.identities import Identity, IdentityStore
from authkit.social.pkce import binding_problem, read_challenge
from authkit.social.providers import Profile, Provider, ProviderFailure
from authkit.users.store import MongoUserStore, User

__all__ = [
    "CallbackError",
    "SocialService",
    "error_redirect",
    "is_redirect_target",
    "redirect_with",
]

security_log = logging.getLogger("authkit.security")

_STATE_SHAPE = re.compile(r"^[A-Za-z0-9_.~-]{16,256}$")
_NAME_CHARS = re.compile(r"[^a-z0-9]+")
_MAX_CODE = 2048
_NEW_NAME_TRIES = 5


class CallbackError(Exception):
    """A callback that ends with `error=<code>` at the flow's target."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def redirect_with(target: str, **params: str) -> str:
    """`target` with `params` added to its query (kept apart from any it has)."""
    parts = urlsplit(target)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query), fragment=""))


def _log(message: str, event: str, **fields: Any) -> None:
    security_log.info(message, extra={"fields": {"event": event, **fields}})


@attrs.define
class SocialService:
    providers: dict[str, Provider]
    flows: FlowStore
    codes: ExchangeCodes
    identities: IdentityStore
    users: MongoUserStore
    throttle: SigninThrottle
    public_url: str
    redirect_targets: tuple[str, ...] = ()
    link_by_email: bool = False
    flow_ttl: timedelta = timedelta(minutes=10)
    # Live flows one client address may have at once; 0: no limit.
    starts_per_address: int = 0
    # AUTHKIT_OAUTH_EXCHANGE_PKCE=required: every exchange code is bound to a challenge.
    exchange_pkce_required: bool = True

    def provider(self, name: str) -> Provider:
        found = self.providers.get(name)
        if found is None:
            raise NotFound(f"No sign-in provider {name!r}")
        return found

    def callback_url(self, name: str) -> str:
        return f"{self.public_url.rstrip('/')}/auth/oauth/{name}/callback"

    def allowed_target(self, redirect_to: object) -> str:
        """`redirect_to` when it is one of AUTHKIT_OAUTH_REDIRECT_TARGETS (scheme, host,
        port and path alike; a query may differ), else BadRequest."""
        if not isinstance(redirect_to, str) or not redirect_to or len(redirect_to) > 2048:
            raise BadRequest("redirect_to is required: one of AUTHKIT_OAUTH_REDIRECT_TARGETS")
        try:
            wanted = _target_key(redirect_to)
        except ValueError:
            wanted = None
        if wanted is None or wanted not in {_target_key(t) for t in self.redirect_targets}:
            raise BadRequest("redirect_to is not one of AUTHKIT_OAUTH_REDIRECT_TARGETS")
        return redirect_to

    def exchange_challenge(self, challenge: str | None, method: str | None) -> str | None:
        """A sign-in start's `code_challenge` (and `_method`), checked: BadRequest when
        malformed, not S256, or missing while AUTHKIT_OAUTH_EXCHANGE_PKCE=required."""
        return read_challenge(challenge, method, required=self.exchange_pkce_required)

    async def start(
        self,
        name: str,
        redirect_to: str,
        browser_cookie: str,
        link_user_id: str | None = None,
        *,
        address: str | None = None,
        exchange_challenge: str | None = None,
    ) -> str:
        """A new flow, stored, and the provider's authorization URL for it (ProviderFailure
        when the provider cannot be asked; CallbackError `too_many_attempts` when `address`
        has as many live flows as it may)."""
        provider = self.provider(name)
        limit = self.starts_per_address
        if address is not None and limit and await self.flows.live_from(address, limit) >= limit:
            _log("social sign-in refused", "oauth_failed", provider=name, reason="too_many_flows")
            raise CallbackError("too_many_attempts", "too many flows from this address")
        state, verifier = new_secret(), secrets.token_urlsafe(48)
        nonce = new_secret() if provider.uses_nonce else None
        url = await provider.authorization_url(
            redirect_uri=self.callback_url(name), state=state, code_verifier=verifier, nonce=nonce
        )
        flow = Flow(
            provider=name,
            browser_hash=digest(browser_cookie),
            code_verifier=verifier,
            nonce=nonce,
            redirect_to=redirect_to,
            expires=datetime.now(timezone.utc) + self.flow_ttl,
            link_user_id=link_user_id,
            address=address,
            exchange_challenge=exchange_challenge,
        )
        await self.flows.start(flow, state)
        _log("social sign-in started", "oauth_started", provider=name, link=bool(link_user_id))
        return url

    async def callback(
        self, name: str, params: dict[str, str], browser_cookie: str | None, address: str
    ) -> str:
        """Where to send the browser back to; BadRequest (400) when no flow says where, or
        TooManyRequests when this address has failed too often and no flow says where."""
        provider = self.provider(name)
        state = params.get("state", "")
        if not _STATE_SHAPE.match(state):
            _log("social callback refused", "oauth_failed", provider=name, reason="no_state")
            raise BadRequest("invalid_state: the sign-in flow is unknown; start again")
        attempt = await self.throttle.begin(f"oauth:{name}", address)
        if attempt.check.retry_after is not None:
            known = await self.flows.peek(name, state)
            _log("social callback throttled", "oauth_failed", provider=name, reason="throttled")
            if known is None:
                raise TooManyRequests(attempt.check.retry_after)
            return error_redirect(known.redirect_to, "too_many_attempts")
        flow = await self.flows.take(name, state, browser_cookie)
        if flow is None:
            await self.throttle.failed(attempt)
            known = await self.flows.peek(name, state)
            reason = "foreign_browser" if known else "unknown_state"
            _log("social callback refused", "oauth_failed", provider=name, reason=reason)
            if known is None:
                raise BadRequest("invalid_state: the sign-in flow is unknown, used or expired")
            return error_redirect(known.redirect_to, "invalid_state")
        try:
            destination = await self._finish(provider, flow, params)
        except CallbackError as exc:
            if exc.code in ("access_denied", "provider_unavailable"):
                await self.throttle.withdraw(attempt)  # the user's choice, or nobody's fault
            else:
                await self.throttle.failed(attempt)
            _log("social callback failed", "oauth_failed", provider=name, reason=exc.reason)
            return error_redirect(flow.redirect_to, exc.code)
        except BackendUnavailable:
            return error_redirect(flow.redirect_to, "temporarily_unavailable")
        await self.throttle.succeeded(attempt)
        return destination

    async def _finish(self, provider: Provider, flow: Flow, params: dict[str, str]) -> str:
        if "error" in params:
            denied = params["error"] == "access_denied"
            raise CallbackError(
                "access_denied" if denied else "provider_error",
                f"provider said {params['error']:.40}",
            )
        code = params.get("code", "")
        if not code or len(code) > _MAX_CODE:
            raise CallbackError("provider_error", "no code")
        try:
            profile = await provider.complete(
                code=code,
                redirect_uri=self.callback_url(flow.provider),
                code_verifier=flow.code_verifier,
                nonce=flow.nonce,
                iss=params.get("iss"),
            )
        except ProviderFailure as exc:
            raise CallbackError(exc.code, exc.reason) from None
        if flow.link_user_id is not None:
            await self._link(flow.link_user_id, flow.provider, profile)
            return redirect_with(flow.redirect_to, linked=flow.provider)
        user = await self._user_for(flow.provider, profile)
        one_time = await self.codes.issue(user.id, user.username, flow.exchange_challenge)
        _log("social sign-in", "oauth_signin", provider=flow.provider, user_id=user.id)
        return redirect_with(flow.redirect_to, code=one_time)

    async def _link(self, user_id: str, provider: str, profile: Profile) -> None:
        if await self.users.find_by_id(user_id) is None:
            raise CallbackError("invalid_state", "the linking user is gone")
        existing = await self.identities.find(profile.issuer, profile.subject)
        if existing is not None:
            if existing.user_id == user_id:
                return
            raise CallbackError("identity_in_use", "identity belongs to another user")
        if not await self.identities.link(user_id, provider, profile):
            raise CallbackError("already_linked", "user has an identity of this provider")
        _log("identity linked", "identity_linked", provider=provider, user_id=user_id)

    async def _user_for(self, provider: str, profile: Profile) -> User:
        identity = await self.identities.find(profile.issuer, profile.subject)
        if identity is not None:
            user = await self.users.find_by_id(identity.user_id)
            if user is not None:
                return user
            # Its user was deleted: the identity is stale, and starts over.
            await self.identities.remove(identity.user_id, identity.provider)
        if self.link_by_email and profile.email and profile.email_verified:
            local = await self.users.find_by_verified_email(profile.email)
            if local is not None:
                if not await self.identities.link(local.id, provider, profile):
                    return await self._winner(profile, "already_linked")
                _log(
                    "identity linked by verified email",
                    "identity_linked",
                    provider=provider,
                    user_id=local.id,
                    reason="verified_email",
                )
                return local
        user = await self._new_user(provider, profile)
        if await self.identities.link(user.id, provider, profile):
            _log(
                "user created by social sign-in",
                "oauth_user_created",
                provider=provider,
                user_id=user.id,
            )
            return user
        # Another callback for the same identity won the race: sign in as its user.
        await self.users.remove_without_password(user.id)
        return await self._winner(profile, "provider_error")

    async def _winner(self, profile: Profile, code: str) -> User:
        identity = await self.identities.find(profile.issuer, profile.subject)
        user = None if identity is None else await self.users.find_by_id(identity.user_id)
        if user is None:
            raise CallbackError(code, "identity could not be linked")
        return user

    async def _new_user(self, provider: str, profile: Profile) -> User:
        hint = profile.name_hint or (profile.email or "").partition("@")[0] or provider
        base = _NAME_CHARS.sub("", hint.lower())[:12] or provider[:12]
        if not base[0].isalpha():
            base = ("u" + base)[:12]
        for _ in range(_NEW_NAME_TRIES):
            name = f"{base}_{secrets.token_hex(3)}"
            try:
                return await self.users.create_without_password(name)
            except UserAlreadyExists:
                continue
        raise CallbackError("provider_error", "no free username")

    async def exchange(self, code: object, verifier: object = None) -> CodeGrant:
        """The user `code` stands for, once `verifier` meets its flow's challenge; the code
        is used up by any attempt that names it, right or wrong."""
        if not isinstance(code, str) or not code or len(code) > 256 or not is_clean_text(code):
            raise BadRequest("code is required: the one-time code the callback gave")
        grant = await self.codes.redeem(code)
        if grant is None:
            _log("exchange refused", "oauth_exchange_refused", user_id=None)
            raise BadRequest("The code is unknown, used or expired")
        problem = binding_problem(grant.challenge, verifier, required=self.exchange_pkce_required)
        if problem is not None:
            reason = "no_challenge" if grant.challenge is None else "verifier"
            _log("exchange refused", "oauth_exchange_refused", user_id=grant.user_id, reason=reason)
            raise BadRequest(problem)
        return grant

    async def identities_of(self, user_id: str) -> list[Identity]:
        return await self.identities.of_user(user_id)

    async def unlink(self, user_id: str, provider: str) -> None:
        """Remove the user's identity at `provider`; Conflict when it is their last way in.

        Removed first and put back if nothing is left: two unlinks at once cannot both see
        another way in and leave none.
        """
        removed = await self.identities.remove(user_id, provider)
        if removed is None:
            raise NotFound(f"No linked identity for {provider!r}")
        user = await self.users.find_by_id(user_id)
        if (user is None or not user.has_password) and not await self.identities.of_user(user_id):
            await self.identities.restore(removed)
            raise Conflict("This is your last way to sign in: set a password or link another first")
        _log("identity unlinked", "identity_unlinked", provider=provider, user_id=user_id)


def error_redirect(target: str, code: str) -> str:
    return redirect_with(target, error=code, error_description=_DESCRIPTIONS.get(code, code))


def is_redirect_target(url: str) -> bool:
    try:
        return _target_key(url) is not None
    except ValueError:  # a port that is no number
        return False


def _target_key(url: str) -> tuple[str, str, str] | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, f"{parts.hostname.lower()}:{port}", parts.path or "/"


_DESCRIPTIONS = {
    "access_denied": "You did not allow the sign-in at the provider",
    "invalid_state": "This sign-in was used, has expired, or is another browser's",
    "provider_error": "The provider's answer could not be used",
    "provider_unavailable": "The provider could not be reached; try again later",
    "too_many_attempts": "Too many failed sign-ins from your address; wait and try again",
    "identity_in_use": "That account at the provider is linked to another user",
    "already_linked": "You have an account of this provider linked already",
    "temporarily_unavailable": "Sign-in is unavailable for a moment; try again",
}
