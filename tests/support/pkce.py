"""What a front end does to bind its exchange code (RFC 7636 S256, docs/social-login.md):
`Pkce.new()` makes a verifier and its challenge; `start_params` are the query parameters
`GET /auth/oauth/{provider}` takes with them, `exchange_body(code)` the exchange's body.

Computed here independently of authkit.social.pkce, so a test would catch that module
getting the transform wrong."""

from __future__ import annotations

import hashlib
import secrets
from base64 import urlsafe_b64encode

import attrs

__all__ = ["Pkce", "challenge_of"]


def challenge_of(verifier: str) -> str:
    return urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


@attrs.frozen
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)  # 64 characters of base64url
        return cls(verifier, challenge_of(verifier))

    @property
    def start_params(self) -> dict[str, str]:
        return {"code_challenge": self.challenge, "code_challenge_method": "S256"}

    def exchange_body(self, code: str) -> dict[str, str]:
        return {"code": code, "code_verifier": self.verifier}
