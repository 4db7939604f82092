"""Request ids, access logs, metrics, CORS and the last-resort 500, through the whole app
(TestClient, mongomock). The same through a real process: tests/e2e/test_operations.py."""

from __future__ import annotations

import json
import logging
from typing import Any

import mongomock
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from support.jwt import bearer, make_jwt
from support.settings import make_settings

from authkit import create_app
from authkit.core.errors import ConfigError
from authkit.ops.logs import JSONFormatter, TextFormatter
from authkit.passwords.throttle import Limit
from authkit.settings.loader import load_settings
from authkit.settings.model import (
    CORSSettings,
    ObservabilitySettings,
    Secret,
    SigninLimits,
)

PASSWORD = "password-123"
SECRET = "o" * 40
METRICS_TOKEN = "metrics-scraper-token-0123456789abcdef"
SCRAPER = bearer(METRICS_TOKEN)


def with_metrics_token(**sections: Any) -> Any:
    """Test settings whose /metrics answers a scraper presenting METRICS_TOKEN."""
    return make_settings(
        SECRET, observability=ObservabilitySettings(metrics_token=Secret(METRICS_TOKEN)), **sections
    )


@pytest.fixture
def client() -> Any:
    with TestClient(
        create_app(make_settings(SECRET), database=mongomock.MongoClient().db)
    ) as client:
        yield client


def access_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.fields for r in caplog.records if r.name == "authkit.access"]  # type: ignore[attr-defined]


def test_a_sane_request_id_is_echoed_and_others_are_replaced(client: Any) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123.x:y"})
    hostile = client.get("/healthz", headers={"X-Request-ID": "a" * 200})
    missing = client.get("/healthz")
    assert given.headers["x-request-id"] == "abc-123.x:y"
    assert (
        len(hostile.headers["x-request-id"]) == 32 and hostile.headers["x-request-id"] != "a" * 200
    )
    assert len(missing.headers["x-request-id"]) == 32
    assert missing.headers["x-request-id"] != hostile.headers["x-request-id"]


def test_one_access_line_per_request_with_user_but_no_query(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
    token = client.post("/auth/signin", json={"username": "alice", "password": PASSWORD}).json()[
        "accessToken"
    ]
    caplog.clear()
    caplog.set_level(logging.INFO, logger="authkit.access")
    response = client.get(
        f"/auth/me?access_token={token}",
        headers={**bearer(token), "X-Request-ID": "req-1"},
    )
    client.get("/nope")

    me, missing = access_records(caplog)
    assert me["method"] == "GET" and me["path"] == "/auth/me" and me["route"] == "/auth/me"
    assert me["status"] == 200 and me["request_id"] == "req-1"
    assert me["user_id"] == response.json()["_id"]
    assert isinstance(me["duration_ms"], float)
    assert (missing["status"], missing["route"], missing["user_id"]) == (404, "unmatched", None)
    for record in caplog.records:
        assert token not in JSONFormatter().format(record)


def test_the_access_log_can_be_switched_off_and_security_events_stay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(SECRET, observability=ObservabilitySettings(access_log=False))
    caplog.set_level(logging.INFO, logger="authkit")
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        client.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
        client.post("/auth/signin", json={"username": "alice", "password": "wrong-pass"})
        response = client.get("/healthz")
    assert response.headers["x-request-id"]  # request ids do not depend on the log
    assert access_records(caplog) == []
    events = [r.fields["event"] for r in caplog.records if r.name == "authkit.security"]  # type: ignore[attr-defined]
    assert events == ["signup", "signin_failed"]


def test_log_formats_are_one_json_object_or_quoted_text() -> None:
    record = logging.LogRecord(
        "authkit.security", logging.WARNING, __file__, 1, "signin failed", None, None
    )
    record.fields = {"event": "signin_failed", "user": "eve\nFAKE LINE", "attempts": 3}
    line = JSONFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "signin failed" and parsed["user"] == "eve\nFAKE LINE"
    assert parsed["level"] == "warning" and parsed["logger"] == "authkit.security"
    text = TextFormatter().format(record)
    assert "\n" not in text
    assert text.endswith("signin failed event='signin_failed' user='eve\\nFAKE LINE' attempts=3")


def metric(text: str, name: str) -> float:
    """The value of one sample line of the exposition text, e.g. 'x_total{a="b"}'."""
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample == name:
            return float(value)
    raise AssertionError(f"{name} not in /metrics:\n{text}")


def test_metrics_count_what_happened() -> None:
    settings = with_metrics_token(
        signin_limits=SigninLimits(per_account=Limit(2, 60), per_address=None)
    )
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        client.post("/auth/signup", json={"username": "alice", "password": PASSWORD})
        token = client.post(
            "/auth/signin", json={"username": "alice", "password": PASSWORD}
        ).json()["accessToken"]
        for _ in range(3):  # two failures, then throttled
            client.post("/auth/signin", json={"username": "alice", "password": "wrong-pass"})
        client.get("/auth/me", headers=bearer(token))
        client.get("/auth/me", headers=bearer(token[:-2] + "xx"))
        client.get("/nope")
        response = client.get("/metrics", headers=SCRAPER)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric(text, 'authkit_signins_total{result="succeeded"}') == 1
    assert metric(text, 'authkit_signins_total{result="failed"}') == 2
    assert metric(text, 'authkit_signins_total{result="throttled"}') == 1
    assert metric(text, "authkit_tokens_issued_total") == 1
    assert metric(text, 'authkit_tokens_rejected_total{reason="bad_signature"}') == 1
    assert metric(text, 'authkit_bcrypt_duration_seconds_count{operation="hash"}') == 1
    assert metric(text, 'authkit_bcrypt_duration_seconds_count{operation="verify"}') == 3
    requests = 'authkit_http_requests_total{method="POST",route="/auth/signin",status="401"}'
    assert metric(text, requests) == 2
    assert (
        metric(text, 'authkit_http_requests_total{method="GET",route="unmatched",status="404"}')
        == 1
    )


def test_made_up_methods_are_counted_as_other_so_labels_stay_bounded() -> None:
    with TestClient(
        create_app(with_metrics_token(), database=mongomock.MongoClient().db)
    ) as client:
        for n in range(20):
            client.request(f"BREW{n}", "/nope")
        client.get("/nope")
        client.get("/nope")
        text = client.get("/metrics", headers=SCRAPER).text
    other = 'authkit_http_requests_total{method="other",route="unmatched",status="404"}'
    assert metric(text, other) == 20
    assert (
        metric(text, 'authkit_http_requests_total{method="GET",route="unmatched",status="404"}')
        == 2
    )
    assert "BREW" not in text


def test_database_errors_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from pymongo.errors import ServerSelectionTimeoutError

    database = mongomock.MongoClient().db
    with TestClient(create_app(with_metrics_token(), database=database)) as client:

        def down(*args: Any, **kwargs: Any) -> Any:
            raise ServerSelectionTimeoutError("down")

        monkeypatch.setattr(type(database.users), "insert_one", down)
        assert (
            client.post("/auth/signup", json={"username": "bob1", "password": PASSWORD}).status_code
            == 503
        )
        text = client.get("/metrics", headers=SCRAPER).text
        assert metric(text, "authkit_database_errors_total") == 1


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-token-wrong-token-wrong-token-0",
        f"Basic {METRICS_TOKEN}",
        f"Bearer {METRICS_TOKEN}x",
        f"Bearer {METRICS_TOKEN[:-1]}",
    ],
)
def test_metrics_say_nothing_to_a_caller_without_the_token(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    forged = bearer(make_jwt({"sub": "x", "username": "x", "exp": 9e9}, "not-the-secret"))
    with TestClient(create_app(with_metrics_token(), database=mongomock.MongoClient().db)) as c:
        assert c.get("/auth/me", headers=forged).status_code == 401
        refused = c.get("/metrics", headers=headers)
        scraped = c.get("/metrics", headers=SCRAPER)
    assert refused.status_code == 401
    assert refused.json() == {"message": "Unauthorized", "statusCode": 401}
    assert refused.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "authkit_" not in refused.text
    # The reason the forged token was refused is there, for the operator's scraper only.
    assert metric(scraped.text, 'authkit_tokens_rejected_total{reason="bad_signature"}') == 1


def test_without_a_token_configured_metrics_answer_nobody() -> None:
    with TestClient(
        create_app(make_settings(SECRET), database=mongomock.MongoClient().db)
    ) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


def test_a_guessable_metrics_token_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="AUTHKIT_METRICS_TOKEN must be at least 32 characters"):
        load_settings({"JWT_SECRET": SECRET, "AUTHKIT_METRICS_TOKEN": "s3cret"})


def test_metrics_can_be_switched_off() -> None:
    settings = make_settings(SECRET, observability=ObservabilitySettings(metrics=False))
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        assert client.get("/metrics").status_code == 404


def test_cors_is_off_by_default(client: Any) -> None:
    response = client.options(
        "/auth/signin",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in response.headers


def test_cors_answers_allowed_origins_only() -> None:
    settings = make_settings(
        SECRET, cors=CORSSettings(origins=("https://app.example",), allow_credentials=True)
    )
    with TestClient(create_app(settings, database=mongomock.MongoClient().db)) as client:
        preflight = client.options(
            "/auth/signin",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in other.headers


def test_credentials_with_a_wildcard_origin_is_refused_at_start_up() -> None:
    settings = make_settings(SECRET, cors=CORSSettings(origins=("*",), allow_credentials=True))
    with pytest.raises(ConfigError, match="AUTHKIT_CORS_CREDENTIALS"):
        create_app(settings, database=mongomock.MongoClient().db)


def test_an_unexpected_error_is_a_nest_500_and_its_message_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(make_settings(SECRET), database=mongomock.MongoClient().db)

    async def broken(request: Request) -> Response:
        raise RuntimeError("password=" + request.query_params["p"])  # client input in a message

    app.router.routes.append(Route("/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken?p=hunter2")
    assert response.status_code == 500
    assert response.json() == {"statusCode": 500, "message": "Internal server error"}
    assert response.headers["x-request-id"]
    logged = "\n".join(JSONFormatter().format(r) for r in caplog.records)
    assert "RuntimeError" in logged
    assert "hunter2" not in logged
