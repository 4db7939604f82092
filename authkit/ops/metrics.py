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

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

__all__ = ["CONTENT_TYPE", "HTTPRequestStats", "Metrics", "NoMetrics", "SigninResult"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
SigninResult = Literal["succeeded", "failed", "throttled", "shed"]

# Methods a route can answer; any other (h11 accepts any token as a method) is counted as
# "other", so a client cannot mint new label values and grow our memory without bound.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BCRYPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


# How prometheus-client writes a histogram's `le` label (it exports no types for it).
_go_float: Callable[[float], str] = floatToGoString


class HTTPRequestStats:
    """Request counts and latencies as plain numbers, turned into metric families at scrape
    time (prometheus-client's custom-collector interface).

    A Counter and a Histogram took a lock each and walked the buckets in Python: 15k of
    the 192k instructions of an `/auth/me` without the access line (callgrind). Here a
    request is two dictionary updates and a bisect. Only the event loop's thread records;
    a scrape reads between two requests. The series are those a Counter and a Histogram
    would export, without the histogram's `_created`.
    """

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self._bounds = buckets
        self._le = [_go_float(b) for b in buckets] + ["+Inf"]
        self._counts: dict[tuple[str, str, int], float] = {}
        self._created: dict[tuple[str, str, int], float] = {}
        # per (route, method): a count per bucket (not cumulative), then the sum
        self._latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        count = self._counts.get(key)
        if count is None:
            self._created[key] = time.time()
            count = 0.0
        self._counts[key] = count + 1
        latency = self._latency.get((route, method))
        if latency is None:
            latency = self._latency[route, method] = [0.0] * (len(self._bounds) + 2)
        latency[bisect_left(self._bounds, seconds)] += 1  # `le`: the first bound >= seconds
        latency[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "authkit_http_requests", "HTTP requests answered", labels=["route", "method", "status"]
        )
        for key, count in list(self._counts.items()):
            route, method, status = key
            requests.add_metric([route, method, str(status)], count, created=self._created[key])
        yield requests
        latency = HistogramMetricFamily(
            "authkit_http_request_duration_seconds",
            "Time to answer an HTTP request",
            labels=["route", "method"],
        )
        for (route, method), counts in list(self._latency.items()):
            cumulative, buckets = 0.0, []
            for le, count in zip(self._le, counts[:-1], strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            latency.add_metric([route, method], buckets, sum_value=counts[-1])
        yield latency


class NoMetrics:
    def request(self, route: str, method: str, status: int, seconds: float) -> None: ...

    def signin(self, result: SigninResult) -> None: ...

    def token_issued(self) -> None: ...

    def token_rejected(self, reason: str) -> None: ...

    def bcrypt(self, operation: str, seconds: float) -> None: ...

    def database_error(self) -> None: ...


class Metrics(NoMetrics):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = HTTPRequestStats(_LATENCY_BUCKETS)
        r.register(self._requests)
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
        for result in ("succeeded", "failed", "throttled", "shed"):
            self._signins.labels(result)  # export zeros, so rate() works from the first scrape

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        # A method outside the known set is "other": a client cannot grow the label set.
        label = method if method in _KNOWN_METHODS else "other"
        self._requests.observe(route, label, status, seconds)

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
