"""What the passkey routes read from a body and write back, and their OpenAPI schemas."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Any

from authkit.core.errors import ValidationFailed
from authkit.passkeys.store import Passkey

__all__ = [
    "ACCESS_SCHEMA",
    "CHALLENGE_SCHEMA",
    "CREDENTIAL",
    "MAX_NAME",
    "NAME",
    "OBJECT",
    "PASSKEY_SCHEMA",
    "PATH_ID",
    "credential_field",
    "iso",
    "json_body",
    "optional_text",
    "passkey_json",
    "passkey_name",
]

MAX_NAME = 64

OBJECT: dict[str, Any] = {"type": "object"}
PASSKEY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "createdAt", "lastUsedAt", "backedUp"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"},
        "lastUsedAt": {"type": "string", "format": "date-time", "nullable": True},
        "backedUp": {"type": "boolean", "description": "synced to the user's other devices"},
    },
}
CREDENTIAL = {
    "type": "object",
    "description": "what navigator.credentials.create() / .get() gave, as JSON "
    "(PublicKeyCredential.toJSON())",
}
CHALLENGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["challenge_id", "options"],
    "properties": {"challenge_id": {"type": "string"}, "options": OBJECT},
}
ACCESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accessToken"],
    "properties": {"accessToken": {"type": "string"}},
}
NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME}
PATH_ID = {
    "name": "passkey_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def passkey_json(key: Passkey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "createdAt": iso(key.created_at),
        "lastUsedAt": None if key.last_used_at is None else iso(key.last_used_at),
        "backedUp": key.backed_up,
    }


def passkey_name(fields: dict[str, Any], default: str | None = None) -> str:
    value = fields.get("name", default)
    if not isinstance(value, str):
        raise ValidationFailed(["name must be a string"])
    value = value.strip()
    printable = all(unicodedata.category(c)[0] != "C" for c in value)
    if not 1 <= len(value) <= MAX_NAME or not printable:
        raise ValidationFailed([f"name must be 1 to {MAX_NAME} printable characters"])
    return value


def credential_field(fields: dict[str, Any]) -> dict[str, Any]:
    value = fields.get("credential")
    if not isinstance(value, dict):
        raise ValidationFailed(["credential must be an object (PublicKeyCredential JSON)"])
    return value


def optional_text(fields: dict[str, Any], key: str) -> str | None:
    """`fields[key]` when it is a sensible string, None when absent; 400 for anything else
    (null included: a client that sends `"mfa_token": null` meant something by it)."""
    if key not in fields:
        return None
    value = fields[key]
    if not isinstance(value, str) or not 1 <= len(value) <= 256:
        raise ValidationFailed([f"{key} must be a string"])
    return value
