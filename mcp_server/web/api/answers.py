"""What every route of the JSON API shares: answering JSON, running a service off the event loop,
mapping the services' expected errors to statuses, reading query parameters and a bounded body."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_server.settings import Settings
from mcp_server.tooling.paging import dumps
from store import Database
from store.errors import InvalidArgument, LinkRefused, ServerReadOnly, TraceJudgeError

MAX_BODY_BYTES = 64_000
"""The most a write's JSON body may hold: feedback is a value, a comment and a name."""

D = TypeVar("D", int, None)
Handler = Callable[[Request, Database], Awaitable[Any]]


def json_response(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json")


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


async def run_service(service: Callable[..., BaseModel | dict], /, *args: Any, **kwargs: Any) -> Any:
    """The service's answer as JSON data, run off the event loop (a trace may be large)."""
    answer = await anyio.to_thread.run_sync(functools.partial(service, *args, **kwargs))
    return answer.model_dump(mode="json") if isinstance(answer, BaseModel) else answer


def endpoint(handler: Handler, db: Database) -> Callable[..., Any]:
    """A route whose handler returns JSON data; the service's expected errors become answers that say
    what was wrong (404 for what does not exist, 403 for a refused labeling link or a read-only server,
    400 for the rest), a busy store 503."""

    async def endpoint(request: Request) -> Response:
        try:
            return json_response(await handler(request, db))
        except LookupError as exc:
            if not isinstance(exc, TraceJudgeError):
                raise
            return error_response(404, str(exc))
        except (LinkRefused, ServerReadOnly) as exc:
            return error_response(403, str(exc))
        except TraceJudgeError as exc:
            return error_response(400, str(exc))
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            return Response(dumps({"error": "the store is busy; try again in a moment."}), 503,
                            media_type="application/json", headers={"Retry-After": "1"})  # fmt: skip

    return endpoint


def query_int(request: Request, name: str, default: D) -> int | D:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a whole number; got {text[:50]!r}.") from None


def query_number(request: Request, name: str, default: float) -> float:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return float(text)
    except ValueError:
        raise InvalidArgument(f"{name} must be a number; got {text[:50]!r}.") from None


def query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None


async def json_body(request: Request, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object, read no further than `max_bytes`; else an InvalidArgument saying why."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise InvalidArgument(f"the request body is over {max_bytes:,} bytes.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the request body is not JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise InvalidArgument("the request body must be a JSON object.")
    return data


def known_fields(body: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """`body`, unless it holds a field not in `known`: then an InvalidArgument naming both, as a tool
    refuses an argument it does not take."""
    if unknown := sorted(set(body) - set(known)):
        raise InvalidArgument(f"unknown fields {', '.join(unknown)}; send {', '.join(known)}.")
    return body


def refuse_if_read_only(settings: Settings, what: str) -> None:
    """ServerReadOnly, saying the server does not do `what` ("run judges"), when it was started read-only."""
    if settings.read_only:
        raise ServerReadOnly(
            f"this server was started read-only (--read-only or TRACEJUDGE_READ_ONLY), so it does not {what}; "
            "ask its operator to start it without that option, or use a server that is not read-only."
        )


def route(path: str, handler: Handler, db: Database, method: str = "GET") -> Route:
    """The route at `path` whose handler answers JSON data (endpoint)."""
    return Route(path, endpoint(handler, db), methods=[method])
