"""litellm, imported on first use: it takes seconds and ~170 MB to import, so nothing the server
imports at startup may import it at module level."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import warnings
from types import ModuleType
from typing import Any

# pydantic's message, as a warnings-filter regex (also the pytest filterwarnings entry).
# One item ("Item 'x' ... is using") or several ("Items 'x', 'y' ... are using").
READONLY_TYPEDDICT_WARNING = r"Items? '.*' on TypedDict class '.*' (is|are) using the `ReadOnly` qualifier"

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
            _log_successes_only_when_someone_listens(litellm)
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


def _log_successes_only_when_someone_listens(litellm: ModuleType) -> None:
    """Skip litellm's success logging of an async call when nothing would receive it.

    After every `acompletion` litellm schedules a task that builds its standard logging payload
    (messages, usage, cost, timings) for its success callbacks, even when none is registered:
    0.5-0.7 ms of event-loop CPU a call, about a sixth of litellm's own, measured in
    bench/judge_throughput.py's setting. The task still runs, unchanged, as soon as a callback
    (global or per call) or litellm.max_budget is set. `_client_async_logging_helper` is
    private: on a litellm without it this does nothing and litellm logs as it always did.
    """
    from litellm import utils

    helper = getattr(utils, "_client_async_logging_helper", None)
    if not inspect.iscoroutinefunction(helper):
        return

    @functools.wraps(helper)
    async def log_when_someone_listens(*args: Any, **kwargs: Any) -> None:
        logging_obj = kwargs.get("logging_obj", args[0] if args else None)
        if _success_listeners(litellm, logging_obj):
            await helper(*args, **kwargs)

    utils._client_async_logging_helper = log_when_someone_listens


def _success_listeners(litellm: ModuleType, logging_obj: Any) -> bool:
    """Whether anything would receive or act on litellm's success log of this call."""
    return bool(
        litellm.callbacks or litellm.success_callback or litellm._async_success_callback
        or litellm.max_budget
        or getattr(logging_obj, "dynamic_success_callbacks", None)
        or getattr(logging_obj, "dynamic_async_success_callbacks", None)
    )
