"""Third-party Node.js programs the tests drive (the MCP Inspector, the coding assistants' CLIs),
installed from npm at pinned versions, once, into a cache folder outside the checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def npm_program(package: str, version: str, program: str) -> Path:
    """The path of `program` from `package`@`version`, installing it on first use; skips the test,
    saying why, where npm is missing."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed: {package} (a Node.js program) cannot run here")
    prefix = Path.home() / ".cache" / "tracejudge-tests" / f"{package.replace('/', '+')}-{version}"
    binary = prefix / "node_modules" / ".bin" / program
    if not binary.exists():
        subprocess.run(
            [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--silent", f"{package}@{version}"],
            check=True,
            timeout=600,
        )
    return binary
