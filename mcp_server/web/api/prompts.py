"""The prompt registry routes: the prompts (ListPrompts), a prompt's versions (ListPromptVersions), one
version whole (GetPrompt), two versions' diff (DiffPromptVersions) and an alias moved from the page
(SetPromptAlias, which changes what agents loading 'prompts:/name@alias' get)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from mcp_server.prompts import service
from mcp_server.web.api.answers import json_body, known_fields, query_int, query_text, route, run_service
from store import Database
from store.errors import InvalidArgument


def _version(value: Any, name: str) -> int:
    # A whole number, as the tool's schema takes it: JSON true is no version, nor is "2".
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{name} must be a whole number, e.g. 2 (ListPromptVersions lists them); got {value!r:.50}.")
    return value


def _required_int(request: Request, name: str) -> int:
    value = query_int(request, name, None)
    if value is None:
        raise InvalidArgument(f"{name} is missing: pass a version number (e.g. {name}=1).")
    return value


async def list_prompts(request: Request, db: Database) -> dict[str, Any]:
    """ListPrompts (max_results, page_token)."""
    return await run_service(service.list_prompts, db, max_results=query_int(request, "max_results", 50),
                             page_token=query_text(request, "page_token"))  # fmt: skip


async def get_prompt(request: Request, db: Database) -> dict[str, Any]:
    """GetPrompt (version, alias); the path's name is its name_or_uri."""
    return await run_service(service.get_prompt, db, request.path_params["name"],
                             version=query_int(request, "version", None), alias=query_text(request, "alias"))  # fmt: skip


async def list_prompt_versions(request: Request, db: Database) -> dict[str, Any]:
    """ListPromptVersions (max_results, page_token)."""
    return await run_service(service.list_prompt_versions, db, request.path_params["name"],
                             max_results=query_int(request, "max_results", 50), page_token=query_text(request, "page_token"))  # fmt: skip


async def diff_prompt_versions(request: Request, db: Database) -> dict[str, Any]:
    """DiffPromptVersions (from_version, to_version, max_content_length)."""
    return await run_service(
        service.diff_prompt_versions_tool,
        db,
        request.path_params["name"],
        _required_int(request, "from_version"),
        _required_int(request, "to_version"),
        max_content_length=query_int(request, "max_content_length", service.DEFAULT_DIFF_LENGTH),
    )


async def set_prompt_alias(request: Request, db: Database) -> dict[str, Any]:
    """SetPromptAlias: {"alias": "production", "version": 2}; the prompt is the path's."""
    body = known_fields(await json_body(request), ("alias", "version"))
    if "alias" not in body or "version" not in body:
        raise InvalidArgument('alias and version are both needed, e.g. {"alias": "production", "version": 2}.')
    return await run_service(service.set_prompt_alias, db, request.path_params["name"], body["alias"],
                             _version(body["version"], "version"))  # fmt: skip


def routes(db: Database) -> list[Route]:
    return [
        route("/api/prompts", list_prompts, db),
        route("/api/prompts/{name}", get_prompt, db),
        route("/api/prompts/{name}/versions", list_prompt_versions, db),
        route("/api/prompts/{name}/diff", diff_prompt_versions, db),
        route("/api/prompts/{name}/aliases", set_prompt_alias, db, "POST"),
    ]
