"""Social sign-in: OpenID Connect and OAuth 2 providers through Authlib (docs/social-login.md)."""
