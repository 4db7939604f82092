"""Access tokens: the JWT issuer and verifier (joserfc), signing keys and their rotation,
JWKS, and the `authkit keys` commands."""
