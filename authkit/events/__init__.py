"""Lifecycle events: what happened to a user (signed up, signed in, was disabled ...), handed
to the handlers plugins subscribe through the `authkit.events` entry points."""
