"""Giving freed memory back to the operating system after a large request.

CPython frees a large export's objects as soon as they are stored, but glibc keeps the freed pages
in its heaps (one per worker thread) for reuse, so without a trim the process stays at its peak
size long after the burst. malloc_trim returns them; elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None)
    except OSError:
        return None


def give_back_memory() -> None:
    """Return the heap's free pages to the operating system, where the C library can."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
