"""authkit.errors and authkit.responses: the body, status and headers a client gets for
each HTTPError subclass (the NestJS shape, byte for byte), Starlette's own HTTP
exceptions, and any unexpected exception (500, nothing leaked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from authkit.core.errors import (
    AuthenticationFailed,
    AuthkitError,
    BackendUnavailable,
    BadRequest,
    Conflict,
    HTTPError,
    InvalidToken,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    UserAlreadyExists,
    ValidationFailed,
)
from authkit.http.responses import JSON, exception_handlers, http_error_response

JSON_UTF8 = "application/json; charset=utf-8"


@pytest.mark.parametrize(
    ("error", "status", "body", "headers"),
    [
        (
            HTTPError(),
            500,
            b'{"message":"Internal server error","error":"Internal Server Error","statusCode":500}',
            {},
        ),
        (BadRequest(), 400, b'{"message":"Bad Request","statusCode":400}', {}),
        (
            BadRequest("Request body is not valid UTF-8"),
            400,
            b'{"message":"Request body is not valid UTF-8","error":"Bad Request","statusCode":400}',
            {},
        ),
        (
            ValidationFailed(
                ["username must be a string", "Password is too short (8 characters min)"]
            ),
            400,
            b'{"message":["username must be a string","Password is too short (8 characters min)"],'
            b'"error":"Bad Request","statusCode":400}',
            {},
        ),
        (AuthenticationFailed(), 401, b'{"message":"Unauthorized","statusCode":401}', {}),
        (
            AuthenticationFailed(None, ['Bearer realm="authkit"', 'Form realm="authkit"']),
            401,
            b'{"message":"Unauthorized","statusCode":401}',
            {"www-authenticate": 'Bearer realm="authkit", Form realm="authkit"'},
        ),
        (
            AuthenticationFailed("Invalid credentials"),
            401,
            b'{"message":"Invalid credentials","error":"Unauthorized","statusCode":401}',
            {},
        ),
        (
            InvalidToken("ExpiredTokenError: expired at 1795713784"),
            401,
            b'{"message":"Unauthorized","statusCode":401}',
            {},
        ),
        (NotFound(), 404, b'{"message":"Not Found","statusCode":404}', {}),
        (
            NotFound("Cannot GET /nope"),
            404,
            b'{"message":"Cannot GET /nope","error":"Not Found","statusCode":404}',
            {},
        ),
        (Conflict(), 409, b'{"message":"Conflict","statusCode":409}', {}),
        (
            UserAlreadyExists(),
            409,
            b'{"message":"User already exists","error":"Conflict","statusCode":409}',
            {},
        ),
        (PayloadTooLarge(), 413, b'{"message":"Payload Too Large","statusCode":413}', {}),
        (
            TooManyRequests(30, "Too many failed sign-in attempts; try again in 30 seconds"),
            429,
            b'{"message":"Too many failed sign-in attempts; try again in 30 seconds",'
            b'"error":"Too Many Requests","statusCode":429}',
            {"retry-after": "30"},
        ),
        (
            BackendUnavailable(),
            503,
            b'{"message":"The user database is unavailable; try again shortly",'
            b'"error":"Service Unavailable","statusCode":503}',
            {"retry-after": "5"},
        ),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, HTTPError) else None,
)
def test_http_error_response(
    error: HTTPError, status: int, body: bytes, headers: dict[str, str]
) -> None:
    response = http_error_response(error)
    assert response.status_code == status
    assert response.body == body
    assert response.headers["content-type"] == JSON_UTF8
    extra = {
        k: v for k, v in response.headers.items() if k not in ("content-type", "content-length")
    }
    assert extra == headers


def test_invalid_token_reason_is_never_sent() -> None:
    response = http_error_response(InvalidToken("joserfc says: signature mismatch"))
    assert b"signature" not in response.body
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    ("reason", "description"),
    [
        ("expired", "The access token expired"),
        ("bad_signature", "The access token is invalid"),
        ("bad_algorithm", "The access token is invalid"),
        ("malformed", "The access token is invalid"),
        ("unknown_key", "The access token is invalid"),
        ("revoked", "The access token is invalid"),
    ],
)
def test_invalid_token_challenge_says_expired_and_nothing_more(
    reason: str, description: str
) -> None:
    refused = InvalidToken(reason)
    assert refused.expired is (reason == "expired")
    assert refused.bearer_challenge() == (
        f'Bearer realm="authkit", error="invalid_token", error_description="{description}"'
    )
    assert reason not in refused.bearer_challenge() or reason == "expired"


def test_non_ascii_messages_are_sent_as_utf8() -> None:
    response = http_error_response(BadRequest("élodie 😀"))
    assert (
        response.body == '{"message":"élodie 😀","error":"Bad Request","statusCode":400}'.encode()
    )


def test_every_http_error_is_an_authkit_error() -> None:
    assert issubclass(HTTPError, AuthkitError)
    assert issubclass(ValidationFailed, BadRequest)
    assert issubclass(InvalidToken, AuthenticationFailed)
    assert issubclass(UserAlreadyExists, Conflict)


# ---------------------------------------------------------------- through an application


def app_raising(exc: BaseException) -> Starlette:
    async def boom(request: Request) -> Response:
        raise exc

    async def fine(request: Request) -> Response:
        return Response("ok")

    return Starlette(
        routes=[Route("/boom", boom), Route("/only-post", fine, methods=["POST"])],
        exception_handlers=dict(exception_handlers),
    )


def test_http_error_raised_in_an_endpoint(client_for: Callable[..., Any]) -> None:
    client = client_for(app_raising(UserAlreadyExists()))
    response = client.get("/boom")
    assert response.status_code == 409
    assert response.headers["content-type"] == JSON_UTF8
    assert (
        response.content == b'{"message":"User already exists","error":"Conflict","statusCode":409}'
    )


def test_unknown_path_and_wrong_method_are_express_404s(client_for: Callable[..., Any]) -> None:
    client = client_for(app_raising(RuntimeError()))
    for method, path in (("GET", "/nope"), ("GET", "/only-post"), ("DELETE", "/boom")):
        response = client.request(method, path)
        assert response.status_code == 404
        assert response.json() == {
            "message": f"Cannot {method} {path}",
            "error": "Not Found",
            "statusCode": 404,
        }


def test_other_starlette_http_exception_keeps_its_status(client_for: Callable[..., Any]) -> None:
    client = client_for(app_raising(HTTPException(status_code=403)))
    response = client.get("/boom")
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden", "statusCode": 403}


def test_unexpected_exception_is_a_plain_500(client_for: Callable[..., Any]) -> None:
    client = client_for(app_raising(RuntimeError("boom")), raise_server_exceptions=False)
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == JSON_UTF8
    assert response.content == b'{"statusCode":500,"message":"Internal server error"}'


def test_unexpected_exception_is_logged_with_type_and_route(
    client_for: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(app_raising(KeyError("x")), raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="authkit"):
        client.get("/boom")
    assert "unhandled KeyError on GET /boom" in caplog.text


def test_unexpected_exception_message_is_not_logged(
    client_for: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    # responses.py: "Only the exception type and route are logged: the message may quote
    # client input." A password echoed in an exception must not reach the logs.
    client = client_for(
        app_raising(ValueError("bad password 'hunter2-client-secret'")),
        raise_server_exceptions=False,
    )
    with caplog.at_level(logging.DEBUG, logger="authkit"):
        client.get("/boom")
    formatter = logging.Formatter()
    logged = "\n".join(
        formatter.format(record) for record in caplog.records if record.name.startswith("authkit")
    )
    assert "unhandled ValueError on GET /boom" in logged
    assert "hunter2-client-secret" not in logged


@given(
    status=st.sampled_from([100, 199, 200, 201, 204, 304, 404]) | st.integers(100, 599),
    headers=st.none() | st.dictionaries(st.sampled_from(["X-A", "Content-Type"]), st.just("v")),
    media_type=st.none() | st.just("application/problem+json"),
    content=st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=3),
)
def test_json_headers_are_the_ones_starlette_would_write(
    status: int, headers: dict[str, str] | None, media_type: str | None, content: dict[str, str]
) -> None:
    response = JSON(content, status_code=status, headers=headers, media_type=media_type)
    Response.init_headers(response, headers)  # Starlette's own, on the same response
    expected = response.raw_headers
    assert JSON(content, status, headers, media_type).raw_headers == expected
