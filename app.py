"""This repository's service, for `uvicorn app:app`: its settings from config/, its
application from authkit. An app.py of your own looks the same, with your routes passed
to `serving(..., routes=[...])` (README, "Protecting your own routes").
"""

from __future__ import annotations

import config
from authkit.asgi import serving

app = serving(config.load)
