"""The OpenAPI descriptions of the /auth/admin routes: the user, a page, the parameters and
the bodies (authkit.admin.routes)."""

from __future__ import annotations

from typing import Any

from authkit.admin.roles import MAX_ROLES
from authkit.admin.store import MAX_PAGE
from authkit.http.openapi import fields_body
from authkit.passwords.policy import PasswordPolicy

__all__ = [
    "DEFAULT_PAGE",
    "LIST_PARAMETERS",
    "MAX_SEARCH",
    "PAGE_SCHEMA",
    "ROLES_BODY",
    "USER_ID",
    "USER_SCHEMA",
    "create_body",
    "password_body",
]

DEFAULT_PAGE = 20
MAX_SEARCH = 64

USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_id", "username", "roles", "disabled", "createdAt"],
    "properties": {
        "_id": {"type": "string"},
        "username": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
        "disabled": {"type": "boolean"},
        "createdAt": {"type": "string", "format": "date-time"},
    },
}
PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["users", "next"],
    "properties": {
        "users": {"type": "array", "items": USER_SCHEMA},
        "next": {
            "type": "string",
            "nullable": True,
            "description": "pass as `after` for the next page; null on the last",
        },
    },
}
USER_ID = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}
LIST_PARAMETERS = [
    {
        "name": "q",
        "in": "query",
        "required": False,
        "description": "a prefix of the username (compared in canonical form)",
        "schema": {"type": "string", "maxLength": MAX_SEARCH},
    },
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "the `next` of the page before",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
    },
]
ROLES_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"},
    "maxItems": MAX_ROLES,
}
# A form field is one string: the roles separated by spaces or commas (empty: none).
_FORM_ROLES = {
    "type": "string",
    "pattern": r"^[\s,]*([A-Za-z0-9][A-Za-z0-9_.:-]{0,63}([\s,]+|$))*$",
    "description": "roles separated by spaces or commas",
}


def _json_or_form(schema: dict[str, Any]) -> dict[str, Any]:
    """A body read by read_fields whose `roles` is a list in JSON and a string in a form."""
    form = dict(schema)
    if "roles" in schema["properties"]:
        form["properties"] = {**schema["properties"], "roles": _FORM_ROLES}
    return {
        "required": True,
        "content": {
            "application/json": {"schema": schema},
            "application/x-www-form-urlencoded": {"schema": form},
        },
    }


def _password(policy: PasswordPolicy) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": policy.min_length,
        "maxLength": policy.max_length,
        "description": "sign-up's password policy applies",
    }


def create_body(policy: PasswordPolicy) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": {"type": "string", "minLength": 4, "maxLength": 20},
            "password": _password(policy),
            "roles": ROLES_SCHEMA,
        },
    }
    return _json_or_form(schema)


def password_body(policy: PasswordPolicy) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["password"],
        "properties": {"password": _password(policy)},
    }
    return fields_body(schema, required=True)


ROLES_BODY = _json_or_form(
    {"type": "object", "required": ["roles"], "properties": {"roles": ROLES_SCHEMA}}
)
