"""The passkeys settings section: who the relying party is, and which pages may ask."""

from __future__ import annotations

from typing import Annotated

import attrs

from authkit.core.values import Env, Range

__all__ = ["PasskeySettings"]


@attrs.frozen
class PasskeySettings:
    """WebAuthn's relying party (docs/mfa.md).

    `rp_id` is the domain a passkey is bound to: the browser offers a passkey only to
    pages on that domain or its subdomains, and it cannot change later without every
    passkey registered under it stopping working. `origins` are the exact pages
    (scheme, host, port) whose ceremonies are accepted; none means `https://<rp_id>`, and
    for `localhost` also `http://localhost:<PORT>`, what a local run serves.
    `starts_per_address` bounds the challenges anyone can make authkit store: sign-in
    options need no account, and each call keeps a challenge for five minutes.
    """

    rp_id: Annotated[
        str,
        Env(
            "AUTHKIT_WEBAUTHN_RP_ID",
            "the domain passkeys are bound to (the site's host name, no scheme or port)",
        ),
    ] = "localhost"
    rp_name: Annotated[
        str, Env("AUTHKIT_WEBAUTHN_RP_NAME", "the name an authenticator shows beside a passkey")
    ] = "authkit"
    origins: Annotated[
        tuple[str, ...],
        Env(
            "AUTHKIT_WEBAUTHN_ORIGINS",
            "comma-separated origins whose passkey ceremonies are accepted",
            "(none: `https://<rp id>`; for `localhost` also `http://localhost:<PORT>`)",
        ),
    ] = ()
    starts_per_address: Annotated[
        int,
        Range(0, 1_000_000),
        Env(
            "AUTHKIT_PASSKEY_STARTS_PER_ADDRESS",
            "passkey sign-in challenges (`POST /auth/passkeys/signin/options`) one client "
            "address may have stored at once, used or not, each for five minutes; past it, "
            "429 (`0`: no limit)",
        ),
    ] = 200

    def expected_origins(self, port: int) -> list[str]:
        if self.origins:
            return list(self.origins)
        found = [f"https://{self.rp_id}"]
        if self.rp_id == "localhost":
            found.append(f"http://localhost:{port}")
        return found
