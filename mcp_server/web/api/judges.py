"""The judge routes: the judges (ListJudges), a judge (GetJudge), the diff of two versions'
instructions, and the judge builder's choices, its try on a few traces (nothing stored or logged) and
its save (CreateJudge); and RunJudge on one trace, from the trace page. Trying and running spend model
calls and saving writes: a read-only server refuses them.

The builder's routes are under /api/judge-builder, not /api/judges/..., where a judge may be named
anything, 'options' and 'try' too."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.routing import Route

from mcp_server.judges import builder, service
from mcp_server.settings import Settings
from mcp_server.web.api.answers import json_body, known_fields, query_int, query_text, route, run_service
from store import Database
from store.errors import InvalidArgument

if TYPE_CHECKING:
    from mcp_server.judges.runner import JudgeServer

DEFINITION_FIELDS = ("name", "instructions", "output_type", "model", "description")
"""What a save's body holds: CreateJudge's arguments."""
TRY_FIELDS = (*DEFINITION_FIELDS, "trace_ids", "max_tokens", "max_cost_usd")
RUN_MAX_COST_USD = 0.25
"""What one judgment started from the trace page may spend unless it says otherwise: a click should
never cost more than a glance at the bill would expect."""


async def _definition(request: Request, fields: tuple[str, ...]) -> dict[str, Any]:
    """The body's fields, refusing any other; InvalidArgument for what is missing."""
    body = known_fields(await json_body(request), fields)
    for name in ("name", "instructions"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            raise InvalidArgument(f"{name} is missing: give the judge a {name}.")
    for name in ("model", "description"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidArgument(f"{name} must be text (or null for {'the default model' if name == 'model' else 'none'}).")
    return body


async def list_judges(request: Request, db: Database) -> dict[str, Any]:
    """ListJudges (max_results, page_token)."""
    return await run_service(service.list_judges, db, max_results=query_int(request, "max_results", 50),
                             page_token=query_text(request, "page_token"))  # fmt: skip


async def get_judge(request: Request, db: Database) -> dict[str, Any]:
    """GetJudge (version)."""
    text = query_text(request, "version")
    version = query_int(request, "version", 0) if text is not None else None
    return await run_service(service.get_judge, db, request.path_params["name"], version=version)


async def diff_judge_versions(request: Request, db: Database) -> dict[str, Any]:
    """The line diff of a stored judge's instructions from from_version to to_version."""
    versions = []
    for name in ("from_version", "to_version"):
        if query_text(request, name) is None:
            raise InvalidArgument(f"{name} is missing: pass the two versions to compare, e.g. from_version=1&to_version=2.")
        versions.append(query_int(request, name, 0))
    return await run_service(builder.diff_judge_versions, db, request.path_params["name"], *versions)


async def builder_options(request: Request, db: Database, *, settings: Settings) -> dict[str, Any]:
    """The builder's choices: template variables, output kinds, models, a try's bounds, read-only."""
    return builder.builder_options(settings).model_dump(mode="json")


async def try_judge(request: Request, db: Database, *, settings: Settings, judge_server: JudgeServer) -> dict[str, Any]:
    """A definition, as CreateJudge takes it, tried on trace_ids (at most builder.MAX_TRY_TRACES) within
    max_tokens / max_cost_usd: each trace's verdict and rationale; nothing is stored or logged."""
    body = await _definition(request, TRY_FIELDS)
    trace_ids = body.get("trace_ids")
    if not isinstance(trace_ids, list) or not all(isinstance(t, str) for t in trace_ids):
        raise InvalidArgument("trace_ids must be a list of trace ids: pick the traces to try the judge on.")
    trial = await builder.try_judge(
        db, body["name"], body["instructions"], trace_ids, settings=settings, server=judge_server,
        output=body.get("output_type"),
        model=body.get("model"), description=body.get("description") or "", max_tokens=body.get("max_tokens"),
        max_cost_usd=body.get("max_cost_usd"),
    )
    return trial.model_dump(mode="json")


async def create_judge(request: Request, db: Database, *, settings: Settings) -> dict[str, Any]:
    """CreateJudge (name, instructions, output_type, model, description): the next version of the judge."""
    body = await _definition(request, DEFINITION_FIELDS)
    return await run_service(
        service.create_judge, db, body["name"], body["instructions"], models=settings.models,
        output=body.get("output_type"), model=body.get("model"), description=body.get("description") or "",
    )


async def run_judge(request: Request, db: Database, *, settings: Settings, judge_server: JudgeServer) -> dict[str, Any]:
    """RunJudge on the trace ({"judge", "version"?}): its verdict, logged as the judge's feedback, as the
    tool logs it; within RUN_MAX_COST_USD unless the body gives max_tokens or max_cost_usd."""
    body = known_fields(await json_body(request), ("judge", "version", "max_tokens", "max_cost_usd"))
    if not isinstance(body.get("judge"), str) or not body["judge"].strip():
        raise InvalidArgument("judge is missing: name a stored or built-in judge (ListJudges lists them).")
    ran = await service.run_judge_tool(
        db, body["judge"], request.path_params["trace_id"], settings=settings, server=judge_server,
        version=body.get("version"), max_tokens=body.get("max_tokens"),
        max_cost_usd=body.get("max_cost_usd", RUN_MAX_COST_USD),
    )
    return ran.model_dump(mode="json")


def routes(db: Database, settings: Settings, judge_server: JudgeServer) -> list[Route]:
    return [
        route("/api/judges", list_judges, db),
        route("/api/judges", functools.partial(create_judge, settings=settings), db, "POST"),
        route("/api/judges/{name}", get_judge, db),
        route("/api/judges/{name}/diff", diff_judge_versions, db),
        route("/api/judge-builder", functools.partial(builder_options, settings=settings), db),
        route("/api/judge-builder/try", functools.partial(try_judge, settings=settings, judge_server=judge_server),
              db, "POST"),  # fmt: skip
        route("/api/traces/{trace_id}/judge", functools.partial(run_judge, settings=settings, judge_server=judge_server),
              db, "POST"),  # fmt: skip
    ]
