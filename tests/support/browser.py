"""Headless Chromium for the browser tests (tests/browser): Debian's chromium, never a
browser build Playwright downloads (tox -e browser installs the package).

- `CHROMIUM`: its path; `FLAGS`: headless, no sandbox (root in CI), and nothing that
  reaches the network on its own, so the only requests are the test's.
"""

from __future__ import annotations

__all__ = ["CHROMIUM", "FLAGS"]

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
