"""litellm, imported on first use: it takes seconds and ~170 MB to import, so nothing the server
imports at startup may import it at module level."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from types import ModuleType

# pydantic's message, as a warnings-filter regex (also the pytest filterwarnings entry).
READONLY_TYPEDDICT_WARNING = r"Item '.*' on TypedDict class '.*' is using the `ReadOnly` qualifier"

# litellm's loggers. Left unset they inherit the root logger's level, and the MCP SDK's server sets
# the root to INFO with a rich handler: litellm then logs a line per model call ("LiteLLM
# completion() model= ..."), twice (its own handler, and the root's), and pays to format it.
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")

_lock = threading.Lock()
_litellm: ModuleType | None = None


def load_litellm() -> ModuleType:
    """Import and configure litellm once; later calls return the module at once."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _lock:
        if _litellm is None:
            # The one environment write in this package: without it litellm fetches its price
            # map from the network at import time. It must precede the import; a value the user
            # set is kept.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            # litellm defers building ~750 pydantic models to first use, and pydantic warns once
            # for each TypedDict item marked ReadOnly: noise a user cannot act on, printed in
            # the middle of a judge run. Only that message is silenced.
            warnings.filterwarnings("ignore", message=READONLY_TYPEDDICT_WARNING, category=UserWarning)
            # litellm prints "Give Feedback / Get Help" banners to stdout on every error; stdout
            # is the MCP stdio channel, and our errors carry their own advice.
            litellm.suppress_debug_info = True
            _quiet_litellm_loggers()
            _litellm = litellm
    return _litellm


def _quiet_litellm_loggers() -> None:
    """litellm logs warnings and errors only, unless the user asked for more: LITELLM_LOG
    (litellm's own switch, read here rather than in Settings because litellm reads it too) or a
    level they set on one of its loggers before the first model call."""
    if os.environ.get("LITELLM_LOG"):
        return
    for name in LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
