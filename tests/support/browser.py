"""Headless Chromium for the browser tests (tests/browser): Debian's chromium, never a
browser build Playwright downloads (tox -e browser installs the package).

- `CHROMIUM`: its path; `FLAGS`: headless, no sandbox (root in CI), and nothing that
  reaches the network on its own, so the only requests are the test's;
- `playwright_or_skip()`: Playwright's sync API, the test skipped without Chromium or it;
- `artifacts_dir()`: where screenshots go, $AUTHKIT_ARTIFACTS or .artifacts/ in the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CHROMIUM", "FLAGS", "artifacts_dir", "playwright_or_skip"]

_ROOT = Path(__file__).resolve().parents[2]

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


def playwright_or_skip() -> Any:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (tox -e browser installs it)")
    return pytest.importorskip("playwright.sync_api")


def artifacts_dir() -> Path:
    artifacts = Path(os.environ.get("AUTHKIT_ARTIFACTS", _ROOT / ".artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    return artifacts
