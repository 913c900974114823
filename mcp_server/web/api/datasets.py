"""The dataset routes: the datasets (ListDatasets), one dataset with its versions (GetDataset), a
version's records (ListDatasetRecords) and records added or merged from the page (UpsertDatasetRecords:
the dataset page's expectation editor, which makes a new version)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from mcp_server.datasets import from_traces, service
from mcp_server.web.api.answers import json_body, known_fields, query_int, query_text, route, run_service
from store import Database
from store.dataset_inputs import MAX_RECORD_CHARS
from store.errors import InvalidArgument

UPSERT_BODY_BYTES = 4 * MAX_RECORD_CHARS
"""The most an UpsertDatasetRecords body may hold: one record of the largest size the store takes,
as UTF-8 (up to 4 bytes a character); more records go in more requests."""


async def list_datasets(request: Request, db: Database) -> dict[str, Any]:
    """ListDatasets (max_results, page_token)."""
    return await run_service(service.list_datasets, db, max_results=query_int(request, "max_results", 50),
                             page_token=query_text(request, "page_token"))  # fmt: skip


async def get_dataset(request: Request, db: Database) -> dict[str, Any]:
    """GetDataset (name)."""
    return await run_service(service.get_dataset, db, request.path_params["name"])


async def list_dataset_records(request: Request, db: Database) -> dict[str, Any]:
    """ListDatasetRecords (version, max_results, page_token); the dataset is the path's."""
    return await run_service(
        service.list_dataset_records,
        db,
        request.path_params["name"],
        version=query_int(request, "version", None),
        max_results=query_int(request, "max_results", 50),
        page_token=query_text(request, "page_token"),
    )


async def upsert_dataset_records(request: Request, db: Database) -> dict[str, Any]:
    """UpsertDatasetRecords: {"records": [{inputs, expectations?, tags?, source_trace_id?}, ...]}; the
    dataset is the path's. The store checks each record (naming records[i] and its field)."""
    body = known_fields(await json_body(request, max_bytes=UPSERT_BODY_BYTES), ("records",))
    if "records" not in body:
        raise InvalidArgument('records is missing: send {"records": [{"inputs": {...}, "expectations": {...}}]}.')
    return await run_service(service.upsert_dataset_records, db, request.path_params["name"], body["records"])


async def add_traces_to_dataset(request: Request, db: Database) -> dict[str, Any]:
    """AddTracesToDataset ({"trace_ids": [...]} or {"filter_string": ...}): a record per trace, as a new version."""
    body = known_fields(await json_body(request), ("trace_ids", "filter_string"))
    return await run_service(from_traces.add_traces_to_dataset, db, request.path_params["name"],
                             filter_string=body.get("filter_string"), trace_ids=body.get("trace_ids"))  # fmt: skip


def routes(db: Database) -> list[Route]:
    return [
        route("/api/datasets", list_datasets, db),
        route("/api/datasets/{name}", get_dataset, db),
        route("/api/datasets/{name}/records", list_dataset_records, db),
        route("/api/datasets/{name}/records", upsert_dataset_records, db, "POST"),
        route("/api/datasets/{name}/traces", add_traces_to_dataset, db, "POST"),
    ]
