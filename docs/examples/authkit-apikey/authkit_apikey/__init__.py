"""authkit-apikey: API keys for authkit, as an installable strategy plugin.

- the `apikey` strategy: `X-API-Key: ak_...` -> the key's owner, with the key's scopes;
- routes to create, list and revoke your own keys with a JWT (`/auth/api-keys`);
- `authkit apikey create|list|revoke` for operators.

Installing the package is all it takes: authkit finds the strategy through the
`authkit.strategies` entry point and the commands through `authkit.commands`.

Example:

    @guard("jwt", "apikey", scopes=["reports:read"])
    async def reports(request: Request) -> Response: ...
"""

from authkit_apikey.keys import display_prefix, generate_key, hash_key, looks_like_key
from authkit_apikey.store import APIKey, APIKeyStore, Revocation
from authkit_apikey.strategy import CHALLENGE, HEADER, APIKeyStrategy

__all__ = [
    "CHALLENGE",
    "HEADER",
    "APIKey",
    "APIKeyStore",
    "APIKeyStrategy",
    "Revocation",
    "display_prefix",
    "generate_key",
    "hash_key",
    "looks_like_key",
]
