"""This process's open files, counted through /proc/self/fd (Linux)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path


def open_files(folder: Path) -> Counter[str]:
    """This process's open file descriptors on files in `folder`, counted by file name. Each
    SQLite connection holds the database file open once, so the .db count is the connections."""
    names: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # the descriptor listdir itself used, closed by now
        if os.path.dirname(target) == str(folder):
            names[os.path.basename(target)] += 1
    return names
