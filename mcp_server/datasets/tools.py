"""The dataset tools: CreateDataset, ListDatasets, GetDataset, AddTracesToDataset,
UpsertDatasetRecords, ListDatasetRecords and DeleteDatasetRecords, registered on a server by
`add_dataset_tools(server, db, settings)`.

Thin wrappers in the style of mcp_server.judges.tools: each signature is the tool's input schema
and each body calls a typed function in mcp_server.datasets.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from mcp_server.datasets import service
from mcp_server.datasets.from_traces import AddTracesReport, add_traces_to_dataset
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, FilterString, PageToken, answer
from store import Database

ADDS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
"""Adding the same records again changes nothing (no new version)."""
CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
REMOVES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)
"""Deleting takes records out of the latest version; earlier versions keep them."""

DatasetName = Annotated[str, Field(description="e.g. 'misrouted'.")]
DatasetVersion = Annotated[
    int | None, Field(description="GetDataset lists them.")
]


class RecordInput(BaseModel):
    """One dataset record to add or merge."""

    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(description="What the agent receives (the record's key).")
    expectations: dict[str, Any] | None = Field(
        None, description="Ground truth by name."
    )
    tags: dict[str, str] | None = Field(None, description="String labels.")
    source_trace_id: str | None = Field(None, description="Where it came from.")


CREATE_DATASET_DESCRIPTION = """\
Create an empty evaluation dataset (versioned records of inputs, expectations, tags); fill it
with AddTracesToDataset or UpsertDatasetRecords.
Example: CreateDataset(name="misrouted", description="Requests routed wrong")"""

LIST_DATASETS_DESCRIPTION = """\
The datasets with description, latest version and record count.
Example: ListDatasets()"""

GET_DATASET_DESCRIPTION = """\
One dataset and its versions, newest first.
Example: GetDataset(name="misrouted")"""

ADD_TRACES_DESCRIPTION = """\
Add traces as records (root span inputs, trace expectations); same inputs merge; one new
version.
Example: AddTracesToDataset(dataset="misrouted", filter_string="feedback.routing = 'no'")"""

UPSERT_RECORDS_DESCRIPTION = """\
Add records, or merge into those with the same inputs; one new version.
Example: UpsertDatasetRecords(dataset="misrouted", records=[{"inputs": {"question": "..."}}])"""

LIST_RECORDS_DESCRIPTION = """\
A dataset's records (inputs, expectations, tags, source trace), latest or given version.
Example: ListDatasetRecords(dataset="misrouted", version=2)"""

DELETE_RECORDS_DESCRIPTION = """\
Remove records; one new version (earlier versions keep them).
Example: DeleteDatasetRecords(dataset="misrouted", record_ids=["r-3f2b8c1d9e0a4b5c"])"""


def add_dataset_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register the seven dataset tools on `server`, over `db` (`settings`: for the shared signature)."""

    async def create_dataset(
        name: DatasetName,
        description: Annotated[str, Field(description="One sentence.")] = "",
    ) -> Annotated[CallToolResult, service.DatasetSummary]:
        return await answer(service.create_dataset, db, name, description)

    async def list_datasets(
        max_results: Annotated[int, Field(description=f"1 to {service.MAX_DATASETS:,}.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.DatasetList]:
        return await answer(service.list_datasets, db, max_results=max_results, page_token=page_token)

    async def get_dataset(name: DatasetName) -> Annotated[CallToolResult, service.DatasetDetail]:
        return await answer(service.get_dataset, db, name)

    async def add_traces(
        dataset: DatasetName,
        filter_string: FilterString = None,
        trace_ids: Annotated[list[str] | None, Field(description="Instead of filter_string.")] = None,
    ) -> Annotated[CallToolResult, AddTracesReport]:
        return await answer(add_traces_to_dataset, db, dataset, filter_string=filter_string, trace_ids=trace_ids)

    async def upsert_records(
        dataset: DatasetName,
        records: Annotated[list[RecordInput], Field(description="To add or merge.")],
    ) -> Annotated[CallToolResult, service.UpsertAnswer]:
        raw = [record.model_dump(exclude_none=True) for record in records]
        return await answer(service.upsert_dataset_records, db, dataset, raw)

    async def list_records(
        dataset: DatasetName,
        version: DatasetVersion = None,
        max_results: Annotated[int, Field(description=f"1 to {service.MAX_RECORDS:,}.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.RecordPage]:
        return await answer(
            service.list_dataset_records, db, dataset, version=version, max_results=max_results, page_token=page_token
        )

    async def delete_records(
        dataset: DatasetName,
        record_ids: Annotated[list[str], Field(description="From ListDatasetRecords.")],
    ) -> Annotated[CallToolResult, service.DeleteAnswer]:
        return await answer(service.delete_dataset_records, db, dataset, record_ids)

    for name, fn, description, annotations in (
        ("CreateDataset", create_dataset, CREATE_DATASET_DESCRIPTION, CREATES),
        ("ListDatasets", list_datasets, LIST_DATASETS_DESCRIPTION, READ_ONLY),
        ("GetDataset", get_dataset, GET_DATASET_DESCRIPTION, READ_ONLY),
        ("AddTracesToDataset", add_traces, ADD_TRACES_DESCRIPTION, ADDS),
        ("UpsertDatasetRecords", upsert_records, UPSERT_RECORDS_DESCRIPTION, ADDS),
        ("ListDatasetRecords", list_records, LIST_RECORDS_DESCRIPTION, READ_ONLY),
        ("DeleteDatasetRecords", delete_records, DELETE_RECORDS_DESCRIPTION, REMOVES),
    ):
        server.add_tool(fn, name=name, description=description, annotations=annotations, structured_output=True)
