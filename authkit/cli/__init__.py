"""The `authkit` command: serve, check, create-user, delete-user, gen-secret, keys, and
plugins' commands (the `authkit.commands` entry points)."""
