"""The one `Settings` builder for apps under test."""

from __future__ import annotations

from typing import Any

from authkit.settings.model import JWTSettings, PasswordSettings, Secret, Settings

# 43 bytes: long enough that authkit logs no short-secret warning.
SECRET = "unit-test-secret-0123456789abcdef0123456789"


def make_settings(secret: str = SECRET, *, bcrypt_rounds: int = 4, **sections: Any) -> Settings:
    """Settings signing HS256 with `secret`, bcrypt at `bcrypt_rounds` (4: fast); every other
    keyword replaces a whole section: `server=ServerSettings(max_body_bytes=1024)`,
    `jwt=JWTSettings(keys_file=path)`, `mongo=MongoSettings(uri=...)` ..."""
    values: dict[str, Any] = {
        "jwt": JWTSettings(secret=Secret(secret)),
        "passwords": PasswordSettings(bcrypt_rounds=bcrypt_rounds),
    }
    values.update(sections)
    return Settings(**values)
