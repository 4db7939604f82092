"""Passkeys (WebAuthn): register them while signed in, sign in with one alone, or use one as
a second factor after a password (docs/mfa.md)."""
