"""`python -m authkit.settings`: print the settings table the README carries."""

from authkit.settings.catalog import markdown_table

print(markdown_table(), end="")
