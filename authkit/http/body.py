"""Reading a request body into a mapping, the way the NestJS app's body parsers do.

JSON (`application/json`) and HTML forms (`application/x-www-form-urlencoded`)
are parsed; any other content type, or no body, reads as `{}` and so fails
validation like an empty object, as Express does. A JSON body that is not an
object (`[]`, `"x"`) also reads as `{}`.

Where we are stricter than Express: the body is capped (413 before it is read
in full), malformed JSON, invalid UTF-8 and pathological nesting are a 400
with a clear message, and form keys are literal (`username[$ne]` is a key
with brackets in its name, never an object). A form key given twice reads as
a list, so it fails "must be a string" instead of one value silently winning.

Example:

    fields = await read_fields(request, max_bytes=16384)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

from authkit.core.errors import BadRequest, ClientGone, PayloadTooLarge

__all__ = ["read_fields"]

_MAX_FORM_FIELDS = 64
_STATE_KEY = "authkit.fields"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"Request body is larger than {max_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # The client hung up before its body was in: nothing to answer, nothing to log.
        raise ClientGone() from None
    return b"".join(chunks)


def _parse_json(raw: bytes, require_object: bool = False) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadRequest("Request body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise BadRequest("Request body is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal beyond Python's digit limit
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None
    if isinstance(value, dict):
        return value
    if require_object:
        raise BadRequest(f"Request body must be a JSON object, not {type(value).__name__}")
    return {}


def _parse_form(raw: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except UnicodeError:
        raise BadRequest("Form body is not valid UTF-8") from None
    except ValueError:
        raise BadRequest(f"Form body has more than {_MAX_FORM_FIELDS} fields") from None
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            previous = fields[key]
            fields[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[key] = value
    return fields


async def read_fields(
    request: Request, max_bytes: int, *, require_object: bool = False
) -> dict[str, Any]:
    """The body's fields; parsed once per request, so a guard and its endpoint share them.

    `require_object`: a JSON body that is not an object (`[]`, `"x"`) is a 400 instead of
    `{}`; for routes outside the NestJS contract, where Express's leniency buys nothing.
    """
    cached: dict[str, Any] | None = request.scope.get(_STATE_KEY)
    if cached is not None:
        return cached
    media_type = _media_type(request)
    raw = await _read_capped(request, max_bytes)
    if media_type == "application/json":
        fields = _parse_json(raw, require_object)
    elif media_type == "application/x-www-form-urlencoded":
        fields = _parse_form(raw)
    else:
        fields = {}
    request.scope[_STATE_KEY] = fields
    return fields
