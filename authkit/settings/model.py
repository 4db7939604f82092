"""The settings: one section per capability, each defined in that capability's settings.py.

Environment names are in loader.ENV_VARS.

Example:

    Settings(jwt=JWTSettings(secret=Secret("…")), server=ServerSettings(port=8080))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

from authkit.accounts.settings import AccountSettings
from authkit.admin.settings import AdminSettings
from authkit.core.settings import PluginSettings
from authkit.core.values import Choice, Range, Secret
from authkit.events.settings import EventSettings
from authkit.http.settings import CORSSettings, ServerSettings
from authkit.mail.settings import MailSettings
from authkit.mfa.settings import MFASettings
from authkit.ops.settings import ObservabilitySettings
from authkit.passkeys.settings import PasskeySettings
from authkit.passwords.settings import PasswordLoad, PasswordSettings, SigninLimits
from authkit.sessions.settings import SessionSettings
from authkit.social.settings import OAuthSettings, ProviderConfig
from authkit.storage.settings import DEFAULT_MONGO_URI, MongoSettings
from authkit.tokens.settings import JWTSettings

__all__ = [
    "DEFAULT_MONGO_URI",
    "AccountSettings",
    "AdminSettings",
    "CORSSettings",
    "Choice",
    "EventSettings",
    "JWTSettings",
    "MFASettings",
    "MailSettings",
    "MongoSettings",
    "OAuthSettings",
    "ObservabilitySettings",
    "PasskeySettings",
    "PasswordLoad",
    "PasswordSettings",
    "PluginSettings",
    "ProviderConfig",
    "Range",
    "Secret",
    "ServerSettings",
    "SessionSettings",
    "Settings",
    "SigninLimits",
]

T = TypeVar("T")


@attrs.frozen
class Settings:
    jwt: JWTSettings
    mongo: MongoSettings = attrs.Factory(MongoSettings)
    sessions: SessionSettings = attrs.Factory(SessionSettings)
    passwords: PasswordSettings = attrs.Factory(PasswordSettings)
    signin_limits: SigninLimits = attrs.Factory(SigninLimits)
    password_load: PasswordLoad = attrs.Factory(PasswordLoad)
    mfa: MFASettings = attrs.Factory(MFASettings)
    server: ServerSettings = attrs.Factory(ServerSettings)
    observability: ObservabilitySettings = attrs.Factory(ObservabilitySettings)
    cors: CORSSettings = attrs.Factory(CORSSettings)
    accounts: AccountSettings = attrs.Factory(AccountSettings)
    mail: MailSettings = attrs.Factory(MailSettings)
    passkeys: PasskeySettings = attrs.Factory(PasskeySettings)
    admin: AdminSettings = attrs.Factory(AdminSettings)
    events: EventSettings = attrs.Factory(EventSettings)
    plugins: PluginSettings = attrs.Factory(PluginSettings)
    oauth: OAuthSettings = attrs.Factory(OAuthSettings)
    # One per name in AUTHKIT_OAUTH_PROVIDERS, from its AUTHKIT_OAUTH_<NAME>_* variables
    # (their names depend on the provider's, so they are no section's fields).
    oauth_clients: tuple[ProviderConfig, ...] = ()
    # Sections plugins declare (the `authkit.settings` entry points), by their class.
    extensions: Mapping[Any, Any] = attrs.field(factory=dict)

    def section(self, kind: type[T]) -> T:
        """A plugin's settings section: what the environment gave it, or its defaults."""
        found = self.extensions.get(kind)
        return found if isinstance(found, kind) else kind()
