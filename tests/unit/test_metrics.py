"""authkit's request metrics export what prometheus-client's Counter and Histogram would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from authkit.ops.metrics import _LATENCY_BUCKETS, HTTPRequestStats


def samples(registry: CollectorRegistry) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    text = generate_latest(registry).decode()
    return sorted(
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")  # creation times differ by construction
    )


observations = st.lists(
    st.tuples(
        st.sampled_from(["/auth/me", "/auth/signin", "unmatched"]),
        st.sampled_from(["GET", "POST", "other"]),
        st.sampled_from([200, 401, 404]),
        # bucket bounds themselves included: `le` means less than or equal
        st.sampled_from(_LATENCY_BUCKETS) | st.floats(0, 20, allow_nan=False),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(observations)
def test_the_exposition_is_a_counters_and_a_histograms(
    seen: list[tuple[str, str, int, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    stats = HTTPRequestStats(_LATENCY_BUCKETS)
    ours.register(stats)
    counter = Counter(
        "authkit_http_requests",
        "HTTP requests answered",
        ["route", "method", "status"],
        registry=theirs,
    )
    histogram = Histogram(
        "authkit_http_request_duration_seconds",
        "Time to answer an HTTP request",
        ["route", "method"],
        buckets=_LATENCY_BUCKETS,
        registry=theirs,
    )
    for route, method, status, seconds in seen:
        stats.observe(route, method, status, seconds)
        counter.labels(route, method, str(status)).inc()
        histogram.labels(route, method).observe(seconds)
    assert samples(ours) == samples(theirs)


def test_counters_say_when_they_started() -> None:
    registry = CollectorRegistry()
    stats = HTTPRequestStats(_LATENCY_BUCKETS)
    registry.register(stats)
    stats.observe("/auth/me", "GET", 200, 0.002)
    text = generate_latest(registry).decode()
    assert 'authkit_http_requests_created{method="GET",route="/auth/me",status="200"}' in text
