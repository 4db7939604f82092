"""Where this service's settings come from: the process environment, then `./.env`
(the environment wins). What each setting means, its name and its default are the
toolkit's (`authkit.settings`, one section per capability); this is the one place in the
repository, with `authkit serve`'s entry, that reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from authkit import Settings, load_settings

__all__ = ["ENV_FILE", "load"]

ENV_FILE = Path(".env")


def load() -> Settings:
    return load_settings(os.environ, ENV_FILE)
