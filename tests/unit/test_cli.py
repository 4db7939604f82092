"""The `authkit` command's top-level options."""

from __future__ import annotations

import importlib.metadata

import pytest

import authkit
from authkit.cli.main import main


def test_version_prints_the_installed_distributions_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    out, err = capsys.readouterr()
    assert exited.value.code == 0
    assert out == f"authkit {importlib.metadata.version('authkit-asgi')}\n"
    assert out == f"authkit {authkit.__version__}\n"
    assert err == ""
