"""Sessions: refresh tokens with rotation and reuse detection, sign-out, the sessions
list, revocation of access tokens."""
