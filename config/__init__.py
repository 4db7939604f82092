"""authkit's settings: what they are (settings.py), how text becomes them (converter.py),
and where the text comes from (loader.py)."""

from config.loader import ENV_VARS, ensure_local_secret, load_settings
from config.settings import (
    JWTSettings,
    MongoSettings,
    PasswordSettings,
    Secret,
    ServerSettings,
    SessionSettings,
    Settings,
)

__all__ = [
    "ENV_VARS",
    "JWTSettings",
    "MongoSettings",
    "PasswordSettings",
    "Secret",
    "ServerSettings",
    "SessionSettings",
    "Settings",
    "ensure_local_secret",
    "load_settings",
]
