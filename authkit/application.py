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
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo.database import Database
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute, Mount

from authkit.core.errors import ConfigError, HTTPError, RegistryError
from authkit.core.guard import GuardedApp, StrategyRegistryMiddleware, guards_in
from authkit.core.registry import StrategyRegistry
from authkit.core.strategy import StrategyContext
from authkit.http.paths import NewlinePathsNotFound
from authkit.http.responses import exception_handlers, http_error_handler
from authkit.ops.feature import operations_feature
from authkit.ops.metrics import Metrics, NoMetrics
from authkit.ops.observer import RequestObserver
from authkit.passwords.feature import passwords_feature
from authkit.passwords.hasher import PasswordHasher
from authkit.passwords.service import AuthService
from authkit.passwords.throttle import SigninThrottle
from authkit.sessions.feature import sessions_feature
from authkit.sessions.lifecycle import TokenLifecycle
from authkit.sessions.revocation import MongoDenylist, RevocationChecker
from authkit.sessions.routes import RefreshDelivery
from authkit.sessions.store import MongoSessionStore
from authkit.settings.model import Settings
from authkit.storage.database import DEFAULT_DATABASE, describe_uri, open_client
from authkit.tokens.issuer import TokenIssuer
from authkit.tokens.keys import KeyRing, KeySetError
from authkit.users.feature import users_feature
from authkit.users.store import MongoUserStore

__all__ = ["create_app"]

logger = logging.getLogger("authkit")


def create_app(
    settings: Settings,
    *,
    database: Database[dict[str, Any]] | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the app: each capability's objects, then the features they make, served.

    `routes` are your own, added beside authkit's and guarded with `@guard(...)` or
    `GuardedApp`; their guards are checked at start-up like authkit's. `database`
    replaces the one MONGO_URI names (tests pass mongomock's).
    """
    client = None
    if database is None:
        client = open_client(settings.mongo.effective_uri)
        database = client.get_default_database(DEFAULT_DATABASE)
    metrics = Metrics() if settings.observability.metrics else NoMetrics()
    users = MongoUserStore(database["users"])
    hasher = PasswordHasher(settings.passwords.bcrypt_rounds, metrics)
    tokens = token_issuer(settings)
    throttle = SigninThrottle(
        database["signin_failures"],
        per_account=settings.signin_limits.per_account,
        per_address=settings.signin_limits.per_address,
    )
    service = AuthService(users, hasher, throttle, metrics)
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
    )
    delivery = RefreshDelivery(
        lifetimes.refresh_tokens,
        int(lifetimes.refresh_ttl.total_seconds()),
        lifetimes.cookie_samesite,
        trusted_origins=settings.cors.origins,
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
    )
    strategies = StrategyRegistry()
    strategies.load_entry_points(ctx)
    strategies.load_paths(settings.plugins.strategies, ctx)
    max_body = settings.server.max_body_bytes
    features = [
        users_feature(users),
        passwords_feature(service, hasher, throttle, lifecycle, delivery, max_body_bytes=max_body),
        sessions_feature(
            lifecycle,
            delivery,
            sessions,
            denylist if lifetimes.revocation_checks else None,
            max_body_bytes=max_body,
        ),
        *strategies.features(),
    ]
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
            if client is not None:
                client.close()

    # Starlette as it comes: its error layer outside, its exception layer inside, its
    # router. A path no route matches raises Starlette's HTTPException(404), a wrong method
    # its 405, and authkit's handler for HTTPException answers both with Express's 404.
    app = Starlette(
        routes=all_routes,
        middleware=_middleware(settings, metrics, all_routes, strategies),
        exception_handlers=dict(exception_handlers),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.strategies = strategies
    app.state.users = users
    return app


def token_issuer(settings: Settings) -> TokenIssuer:
    """HS256 with JWT_SECRET, or the key set AUTHKIT_JWT_KEYS names (ConfigError if unusable)."""
    jwt = settings.jwt
    keys = None
    if jwt.keys_file is not None:
        try:
            keys = KeyRing(jwt.keys_file)
        except KeySetError as exc:
            raise ConfigError(f"AUTHKIT_JWT_KEYS: {exc}") from None
    elif jwt.secret is None:
        raise ConfigError("JWT_SECRET is not set (nor AUTHKIT_JWT_KEYS): nothing to sign with")
    return TokenIssuer(
        None if keys is not None or jwt.secret is None else jwt.secret.value,
        int(jwt.expires_in.total_seconds()),
        keys=keys,
        issuer=jwt.issuer,
        audience=jwt.audience,
        leeway=jwt.leeway,
    )


def check_guards(routes: list[BaseRoute], strategies: StrategyRegistry) -> None:
    """Every strategy a guard names must be registered: a typo fails the boot, not a request."""
    for path, method, rule in guards_in(routes):
        for name in rule.names:
            if name not in strategies:
                raise RegistryError(
                    f"the guard on {method} {path} names strategy {name!r}, which no plugin "
                    f"provides (registered: {', '.join(sorted(strategies)) or 'none'})"
                )


def share_error_rendering(routes: Sequence[BaseRoute]) -> None:
    """Give every mounted Starlette application (a FastAPI one included) authkit's handler
    for authkit's errors (`render_authkit_errors`).

    A mounted app answers exceptions with its own handlers, and one it has none for becomes
    its own 500: a guard's 401 raised in a FastAPI dependency would never reach authkit's.
    """
    for route in routes:
        if not isinstance(route, Mount):
            continue
        app: Any = route.app
        if isinstance(app, GuardedApp):
            app = app.app
        if isinstance(app, Starlette):
            render_authkit_errors(app)
        share_error_rendering(getattr(app, "routes", None) or ())


def render_authkit_errors(app: Starlette) -> None:
    """Render authkit's HTTPError in `app` as authkit does, unless `app` has a handler for
    it already; its other errors (FastAPI's 422, its HTTPException) stay its own.

    Call it before the app serves its first request: Starlette reads its handlers then.
    """
    for key in app.exception_handlers:
        # Exception is any app's last resort, and never meant as the answer to an HTTPError.
        if isinstance(key, type) and key is not Exception and issubclass(HTTPError, key):
            return
    app.add_exception_handler(HTTPError, http_error_handler)


def _middleware(
    settings: Settings,
    metrics: NoMetrics,
    routes: list[BaseRoute],
    strategies: StrategyRegistry,
) -> list[Middleware]:
    stack = []
    cors = settings.cors
    if cors.origins:
        if cors.allow_credentials and "*" in cors.origins:
            raise ConfigError(
                "AUTHKIT_CORS_CREDENTIALS=true needs explicit origins in AUTHKIT_CORS_ORIGINS, "
                "not *: browsers refuse credentials for a wildcard origin"
            )
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors.origins),
                allow_credentials=cors.allow_credentials,
                # Origins are the boundary; methods and headers are whatever routes and
                # strategies use, plugins' too (an API key's header, a DELETE route).
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "X-Request-ID",
                    *strategies.credential_headers(),
                ],
                expose_headers=["X-Request-ID", "Retry-After"],
                max_age=600,
            )
        )
    stack.append(
        Middleware(
            RequestObserver,
            metrics=metrics,
            routes=routes,
            access_log=settings.observability.access_log,
        )
    )
    stack.append(Middleware(StrategyRegistryMiddleware, registry=strategies))
    # Starlette's route patterns would also match a path with a newline after it.
    stack.append(Middleware(NewlinePathsNotFound))
    return stack
