"""Passwords: signup, signin and /auth/me, bcrypt off the event loop, the sign-in throttle."""
