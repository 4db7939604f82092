"""The exchange code bound to the front end that started the flow (RFC 7636 PKCE, S256).

authkit is the authorization server of its own last step: the callback hands the front end
a one-time code in a URL, and `POST /auth/oauth/exchange` trades it for tokens. A URL leaks
(history, logs, Referer, extensions), so the single-page app proves it is the one that
started the flow: it sends `code_challenge` = base64url(SHA-256(verifier)) to
`GET /auth/oauth/{provider}` and the verifier itself with the exchange. The flow, then the
code, keep the challenge; the exchange checks the verifier against it in constant time.

Nothing here does I/O: `read_challenge` checks what the start was given, `binding_problem`
says why a taken code must not sign in (or None when it may); `challenge_parameters` and
`verifier_schema` describe both in the OpenAPI document.

Example:

    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"       # RFC 7636, appendix B
    challenge = read_challenge(s256(verifier), "S256", required=True)
    assert challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert binding_problem(challenge, verifier, required=True) is None
    assert binding_problem(challenge, "x" * 43, required=True) is not None
"""

from __future__ import annotations

import hashlib
import hmac
import re
from base64 import urlsafe_b64encode
from typing import Any

from authkit.core.errors import BadRequest

__all__ = [
    "CHALLENGE_PATTERN",
    "VERIFIER_PATTERN",
    "binding_problem",
    "challenge_parameters",
    "read_challenge",
    "s256",
    "verifier_schema",
]

# RFC 7636 section 4.1: 43-128 unreserved characters.
VERIFIER_PATTERN = r"^[A-Za-z0-9._~-]{43,128}$"
# The unpadded base64url of 32 bytes: 43 characters, the last carrying 2 bits of padding, so
# only 16 of the 64 letters can end it. Any other string is the S256 of no verifier at all,
# and a front end that sends one would only find out at the exchange.
CHALLENGE_PATTERN = r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"
_VERIFIER = re.compile(VERIFIER_PATTERN)
_CHALLENGE = re.compile(CHALLENGE_PATTERN)
# The query arrives percent-decoded; nothing this long is a challenge or a method.
_MAX_PARAMETER = 256


def s256(verifier: str) -> str:
    """base64url(SHA-256(verifier)) without padding: the challenge of `verifier`."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def read_challenge(challenge: str | None, method: str | None, *, required: bool) -> str | None:
    """The start's `code_challenge`, checked (None when none was given and that is allowed);
    BadRequest for anything RFC 7636's S256 does not allow."""
    if challenge is None and method is None:
        if required:
            raise BadRequest(
                "code_challenge is required (AUTHKIT_OAUTH_EXCHANGE_PKCE=required): send "
                "code_challenge=<base64url(SHA-256(code_verifier))>&code_challenge_method=S256 "
                "and the code_verifier with POST /auth/oauth/exchange"
            )
        return None
    if challenge is None:
        raise BadRequest("code_challenge_method was given without a code_challenge")
    if method != "S256":
        # RFC 7636 makes `plain` the default when the method is left out: say it outright.
        raise BadRequest(
            "code_challenge_method must be S256, given outright (plain, RFC 7636's default "
            "when it is left out, is not accepted)"
        )
    if len(challenge) > _MAX_PARAMETER or not _CHALLENGE.fullmatch(challenge):
        raise BadRequest(
            "code_challenge must be the 43-character base64url (no padding) of a SHA-256 "
            "digest: base64url(SHA-256(code_verifier))"
        )
    return challenge


def binding_problem(challenge: str | None, verifier: object, *, required: bool) -> str | None:
    """Why a code whose flow kept `challenge` must not sign in with `verifier`, or None.

    Called after the code is taken: whatever the answer, the code is used, so one code
    allows one guess of its verifier.
    """
    if challenge is None:
        if verifier is not None:
            # RFC 9700 4.8.2: a verifier for a code bound to nothing is a downgrade (the
            # challenge stripped on the way), not a pass.
            return (
                "code_verifier was sent, but this sign-in was started without a "
                "code_challenge; the code is now used: start the sign-in again"
            )
        if required:
            return (
                "this sign-in was started without a code_challenge, which "
                "AUTHKIT_OAUTH_EXCHANGE_PKCE=required refuses; the code is now used"
            )
        return None
    if verifier is None:
        return (
            "code_verifier is required: this sign-in was started with a code_challenge; "
            "the code is now used: start the sign-in again"
        )
    if not isinstance(verifier, str) or not _VERIFIER.fullmatch(verifier):
        return (
            "code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636); "
            "the code is now used: start the sign-in again"
        )
    if not hmac.compare_digest(s256(verifier).encode(), challenge.encode()):
        return (
            "code_verifier does not match the code_challenge this sign-in was started with; "
            "the code is now used: start the sign-in again"
        )
    return None


def challenge_parameters(*, required: bool) -> list[dict[str, Any]]:
    """The start's two query parameters, as OpenAPI Parameter Objects."""
    when = "" if required else " (optional: AUTHKIT_OAUTH_EXCHANGE_PKCE=optional)"
    return [
        {
            "name": "code_challenge",
            "in": "query",
            "required": required,
            "schema": {"type": "string", "pattern": CHALLENGE_PATTERN},
            "description": "RFC 7636: base64url(SHA-256(code_verifier)) without padding, 43 "
            "characters; the exchange of this flow's code must carry the verifier" + when,
        },
        {
            "name": "code_challenge_method",
            "in": "query",
            "required": required,
            "schema": {"type": "string", "enum": ["S256"]},
            "description": "S256, given with code_challenge (the only method accepted)",
        },
    ]


def verifier_schema(*, required: bool) -> dict[str, Any]:
    """The exchange body's `code_verifier` property."""
    when = "" if required else "; only for a flow started with a code_challenge"
    return {
        "type": "string",
        "minLength": 43,
        "maxLength": 128,
        "pattern": VERIFIER_PATTERN,
        "description": "RFC 7636: the secret whose S256 the flow's code_challenge is" + when,
    }
