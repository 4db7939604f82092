"""The middleware stack around authkit's routes: CORS (when origins are set) outside, the
request observer (request id, access line, metrics, headers) inside it."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from authkit.core.errors import ConfigError
from authkit.core.registry import StrategyRegistry
from authkit.http.cors import CORS
from authkit.ops.metrics import Metrics, NoMetrics
from authkit.ops.observer import RequestObserver
from authkit.passwords.devices import DEVICE_HEADER
from authkit.settings.model import Settings
from authkit.storage.breaker import DatabaseBreaker

__all__ = ["middleware_stack"]


def middleware_stack(
    settings: Settings,
    metrics: NoMetrics,
    routes: list[BaseRoute],
    strategies: StrategyRegistry,
    breaker: DatabaseBreaker,
) -> list[Middleware]:
    # CORS outside the observer: its headers go on the observer's 500s and 404s too. The
    # preflight answers it gives itself get their nosniff from authkit.http.cors.
    stack: list[Middleware] = []
    cors = settings.cors
    if cors.origins:
        if cors.allow_credentials and "*" in cors.origins:
            raise ConfigError(
                "AUTHKIT_CORS_CREDENTIALS=true needs explicit origins in AUTHKIT_CORS_ORIGINS, "
                "not *: browsers refuse credentials for a wildcard origin"
            )
        stack.append(
            Middleware(
                CORS,
                allow_origins=list(cors.origins),
                allow_credentials=cors.allow_credentials,
                # Origins are the boundary; methods and headers are whatever routes and
                # strategies use, plugins' too (an API key's header, a DELETE route).
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=[
                    "Authorization",
                    "Content-Type",
                    "X-Request-ID",
                    DEVICE_HEADER,
                    *strategies.credential_headers(),
                ],
                # A single-page app on another origin reads its device token from here.
                expose_headers=["X-Request-ID", "Retry-After", DEVICE_HEADER],
                max_age=600,
            )
        )
    # Counting every request is work for nobody while no scraper can read /metrics.
    readable = isinstance(metrics, Metrics) and settings.observability.metrics_token is not None
    stack.append(
        Middleware(
            RequestObserver,
            metrics=metrics if readable else NoMetrics(),
            routes=routes,
            registry=strategies,
            breaker=breaker,
            access_log=settings.observability.access_log,
        )
    )
    return stack
