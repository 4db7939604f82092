"""authkit's built-in strategies, registered through the `authkit.strategies` entry points."""
