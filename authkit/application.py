"""`create_app(settings)`: the Starlette application authkit serves, from settings alone.

It reads no environment: the caller loads the settings (`load_settings`), as the
repository's `app.py` and `authkit serve` do.

Example:

    from authkit import create_app, load_settings

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    app = create_app(load_settings(os.environ), routes=[Route("/hello", hello)])
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo.database import Database
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from authkit.account_page.page import account_feature
from authkit.accounts.feature import accounts_feature, build_accounts, mail_setup
from authkit.admin.feature import admin_feature
from authkit.admin.roles import is_role
from authkit.admin.service import Administration, UserDirectory
from authkit.core.errors import ConfigError, HTTPError
from authkit.core.guard import check_guards
from authkit.core.registry import StrategyRegistry
from authkit.core.strategy import StrategyContext
from authkit.events.bus import EventBus
from authkit.events.feature import events_feature
from authkit.events.plugins import load_handlers
from authkit.http.middleware import middleware_stack
from authkit.http.mounted import share_error_rendering
from authkit.http.responses import exception_handlers
from authkit.mfa.factors import build_second_factors
from authkit.mfa.feature import mfa_feature
from authkit.mfa.gate import MFAGate
from authkit.ops.feature import operations_feature
from authkit.ops.metrics import Metrics, NoMetrics
from authkit.passkeys.feature import build_passkeys, passkeys_feature
from authkit.passwords.cpu_pool import CPUPool
from authkit.passwords.feature import device_tokens, passwords_feature
from authkit.passwords.service import AuthService
from authkit.passwords.signup_limit import SignupLimit
from authkit.passwords.throttle import SigninThrottle
from authkit.sessions.feature import sessions_feature
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.revocation import MongoDenylist, RevocationChecker
from authkit.sessions.routes import RefreshDelivery
from authkit.sessions.store import MongoSessionStore
from authkit.settings.model import Settings
from authkit.social.feature import social_feature, social_service
from authkit.social.providers import ProviderOptions
from authkit.storage.breaker import DatabaseBreaker, HeartbeatWatch
from authkit.storage.database import DEFAULT_DATABASE, describe_uri, open_client
from authkit.tokens.settings import token_issuer
from authkit.users.feature import users_feature
from authkit.users.store import MongoUserStore

__all__ = ["create_app"]

logger = logging.getLogger("authkit")


def create_app(
    settings: Settings,
    *,
    database: Database[dict[str, Any]] | None = None,
    routes: Sequence[BaseRoute] = (),
    oauth_options: ProviderOptions | None = None,
) -> Starlette:
    """Build the app: each capability's objects, then the features they make, served.

    `routes` are your own, added beside authkit's and guarded with `@guard(...)` or
    `GuardedApp`; their guards are checked at start-up like authkit's. `database`
    replaces the one MONGO_URI names (tests pass mongomock's); `oauth_options` the
    social sign-in providers' timeouts and transport (tests pass an in-process one).
    """
    metrics = Metrics() if settings.observability.metrics else NoMetrics()
    if not is_role(settings.admin.role):
        raise ConfigError(
            f"AUTHKIT_ADMIN_ROLE={settings.admin.role!r} is not a role name: 1-64 letters, "
            "digits or _ . : -, starting with a letter or digit"
        )
    events = EventBus(
        queue_size=settings.events.queue_size,
        handler_timeout=settings.events.handler_timeout.total_seconds(),
    )
    # Before the client: settings that contradict each other stop the start with no connection.
    pool = CPUPool()
    pool.max_waiting = pool.threads * settings.password_load.queue_per_thread
    hasher = settings.passwords.hasher(metrics, pool)
    policy = settings.passwords.policy()
    mail = mail_setup(settings)
    client = None
    heartbeats = HeartbeatWatch()
    if database is None:
        client = open_client(settings.mongo.effective_uri, listeners=[heartbeats])
        database = client.get_default_database(DEFAULT_DATABASE)
    # Once the database is known down, 503 at once; a probe finds out when it is back.
    breaker = DatabaseBreaker(functools.partial(database.command, "ping"))
    heartbeats.breaker = breaker
    users = MongoUserStore(database["users"])
    tokens = token_issuer(settings.jwt)
    throttle = SigninThrottle(
        database["signin_failures"],
        per_account=settings.signin_limits.per_account,
        per_address=settings.signin_limits.per_address,
        per_device=settings.signin_limits.per_device,
    )
    signup_limit = SignupLimit(
        database["signup_attempts"], settings.password_load.signup_per_address
    )
    service = AuthService(
        users, hasher, throttle, metrics, signup_limit, policy, device_tokens(settings), events
    )
    lifetimes = settings.sessions
    sessions = (
        MongoSessionStore(database["auth_sessions"], database["refresh_tokens"])
        if lifetimes.refresh_tokens != "off"
        else None
    )
    denylist = MongoDenylist(database["revoked_tokens"])
    lifecycle = TokenLifecycle(
        tokens,
        users,
        sessions,
        denylist,
        refresh_ttl=lifetimes.refresh_ttl,
        session_max_age=lifetimes.max_age,
        revocation_checks=lifetimes.revocation_checks,
        reuse_grace_seconds=lifetimes.reuse_grace,
        metrics=metrics,
        events=events,
    )
    delivery = RefreshDelivery(
        lifetimes.refresh_tokens,
        int(lifetimes.refresh_ttl.total_seconds()),
        lifetimes.cookie_samesite,
        trusted_origins=settings.cors.origins,
        host_prefix=lifetimes.cookie_host_prefix,
    )
    ctx = StrategyContext(
        users=users,
        passwords=hasher,
        tokens=tokens,
        service=service,
        max_body_bytes=settings.server.max_body_bytes,
        metrics=metrics,
        database=database,
        revocation=RevocationChecker(denylist, users) if lifetimes.revocation_checks else None,
        settings=settings,
        events=events,
    )
    for handler in load_handlers(ctx):
        events.subscribe(handler)
    accounts = build_accounts(settings, database, users, service, lifecycle, mail=mail)
    admin = Administration(
        users,
        UserDirectory(database["users"]),
        lifecycle,
        hasher,
        throttle,
        policy,
        events,
        admin_role=settings.admin.role,
        password_notice=accounts.passwords.notify_password_changed,
    )
    strategies = StrategyRegistry()
    strategies.load_entry_points(ctx)
    strategies.load_paths(settings.plugins.strategies, ctx)
    max_body = settings.server.max_body_bytes
    # Second factors (authkit.mfa): asked at every password sign-in, once the password is right.
    factors = build_second_factors(settings.mfa, settings.jwt.secret, database, clock=tokens.now)
    gate = None if factors is None else MFAGate(factors.policy, factors.challenges)
    passkeys = build_passkeys(settings, database, users, factors)
    features = [
        users_feature(users),
        passwords_feature(
            service,
            hasher,
            throttle,
            lifecycle,
            delivery,
            signup_limit,
            max_body_bytes=max_body,
            signup_mail=accounts.emails,
            gate=gate,
            signup_open=settings.admin.signup == "open",
        ),
        sessions_feature(
            lifecycle,
            delivery,
            sessions,
            denylist if lifetimes.revocation_checks else None,
            max_body_bytes=max_body,
        ),
        *(
            []
            if factors is None
            else [mfa_feature(factors, lifecycle, delivery, service, max_body_bytes=max_body)]
        ),
        accounts_feature(
            accounts,
            delivery,
            max_body_bytes=max_body,
            second_factors=None if factors is None else factors.policy.factors,
        ),
        passkeys_feature(
            passkeys,
            lifecycle,
            delivery,
            max_body_bytes=max_body,
            fresh_proof=None if factors is None else factors.step_up.require,
            devices=service.devices,
        ),
        account_feature(),
        admin_feature(admin, max_body_bytes=max_body),
        events_feature(events),
        *strategies.features(),
    ]
    social = social_service(settings, database, users, options=oauth_options)
    if social is not None:
        features.append(
            social_feature(social, lifecycle, delivery, max_body_bytes=max_body, gate=gate)
        )
    readiness = {name: check for f in features for name, check in f.readiness.items()}
    features.append(operations_feature(readiness, metrics, settings.observability.metrics_token))
    all_routes: list[BaseRoute] = [route for f in features for route in f.routes]
    all_routes.extend(routes)
    check_guards(all_routes, strategies)
    share_error_rendering(all_routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            for feature in features:
                for ensure_indexes in feature.indexes:
                    await ensure_indexes()
        except HTTPError:
            # Start anyway: the index is created before the first insert, once the
            # database answers, and requests that need it get a 503 until then.
            where = describe_uri(settings.mongo.effective_uri) if client else "the given database"
            logger.warning("database %s is not reachable yet; will retry when needed", where)
        try:
            yield
        finally:
            for feature in features:
                for stop in feature.on_shutdown:
                    stop()
            breaker.close()
            if client is not None:
                client.close()

    # Starlette as it comes: its error layer outside, its exception layer inside, its
    # router. A path no route matches raises Starlette's HTTPException(404), a wrong method
    # its 405, and authkit's handler for HTTPException answers both with Express's 404.
    app = Starlette(
        routes=all_routes,
        middleware=middleware_stack(settings, metrics, all_routes, strategies, breaker),
        exception_handlers=dict(exception_handlers),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.strategies = strategies
    app.state.users = users
    app.state.events = events
    app.state.database_breaker = breaker
    # For other capabilities and the step-up rule (authkit.mfa.step_up.require_fresh).
    app.state.mfa = factors
    app.state.step_up = None if factors is None else factors.step_up
    return app
