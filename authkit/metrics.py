"""Prometheus metrics (prometheus-client), one registry per application.

`Metrics` is what the rest of authkit calls; `NoMetrics` is the same surface
doing nothing, for when metrics are switched off and for code built outside
an application (tests, plugins).

With several workers each process keeps its own counts and a scrape sees the
worker that answered it; see docs/deployment.md for what to do about that.

Example:

    metrics = Metrics()
    metrics.signin("failed")
    body = metrics.exposition()        # text format 0.0.4
"""

from __future__ import annotations

from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "Metrics", "NoMetrics", "SigninResult"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
SigninResult = Literal["succeeded", "failed", "throttled"]

# Methods a route can answer; any other (h11 accepts any token as a method) is counted as
# "other", so a client cannot mint new label values and grow our memory without bound.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BCRYPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


class NoMetrics:
    enabled = False

    def request(self, route: str, method: str, status: int, seconds: float) -> None: ...

    def signin(self, result: SigninResult) -> None: ...

    def token_issued(self) -> None: ...

    def token_rejected(self, reason: str) -> None: ...

    def bcrypt(self, operation: str, seconds: float) -> None: ...

    def database_error(self) -> None: ...


class Metrics(NoMetrics):
    enabled = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "authkit_http_requests",
            "HTTP requests answered",
            ["route", "method", "status"],
            registry=r,
        )
        self._latency = Histogram(
            "authkit_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self._signins = Counter(
            "authkit_signins", "Sign-in attempts by result", ["result"], registry=r
        )
        self._issued = Counter("authkit_tokens_issued", "Access tokens issued", registry=r)
        self._rejected = Counter(
            "authkit_tokens_rejected", "Bearer tokens refused, by reason", ["reason"], registry=r
        )
        self._bcrypt = Histogram(
            "authkit_bcrypt_duration_seconds",
            "Time spent in bcrypt",
            ["operation"],
            buckets=_BCRYPT_BUCKETS,
            registry=r,
        )
        self._db_errors = Counter(
            "authkit_database_errors",
            "Database calls that failed for want of a database",
            registry=r,
        )
        for result in ("succeeded", "failed", "throttled"):
            self._signins.labels(result)  # export zeros, so rate() works from the first scrape
        # labels() builds and locks on every call: a quarter of a small request's time.
        # The children per label set are few (routes x methods x statuses), so keep them.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            label = method if method in _KNOWN_METHODS else "other"
            children = (
                self._requests.labels(route, label, str(status)),
                self._latency.labels(route, label),
            )
            # Only bounded keys are kept: a method outside the known set is not.
            if label == method:
                self._request_children[key] = children
        counter, histogram = children
        counter.inc()
        histogram.observe(seconds)

    def signin(self, result: SigninResult) -> None:
        self._signins.labels(result).inc()

    def token_issued(self) -> None:
        self._issued.inc()

    def token_rejected(self, reason: str) -> None:
        self._rejected.labels(reason).inc()

    def bcrypt(self, operation: str, seconds: float) -> None:
        self._bcrypt.labels(operation).observe(seconds)

    def database_error(self) -> None:
        self._db_errors.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
