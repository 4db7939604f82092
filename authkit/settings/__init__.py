"""Settings: what they are (model.py), how text becomes them (converter.py), and where the
text comes from (loader.py: a mapping such as the environment, and a `.env` file)."""

from authkit.settings.loader import ENV_VARS, ensure_local_secret, load_settings
from authkit.settings.model import Secret, Settings

__all__ = ["ENV_VARS", "Secret", "Settings", "ensure_local_secret", "load_settings"]
