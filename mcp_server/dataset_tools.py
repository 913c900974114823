"""The dataset tools: CreateDataset, ListDatasets, GetDataset, AddTracesToDataset,
UpsertDatasetRecords, ListDatasetRecords and DeleteDatasetRecords, registered on a server by
`add_dataset_tools(server, db, settings)`.

Thin wrappers in the style of mcp_server.judge_tools: each signature is the tool's input schema
and each body calls a typed function in mcp_server.datasets.
"""

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from mcp_server.datasets import tool_service as service
from mcp_server.datasets.from_traces import MAX_TRACES, AddTracesReport, add_traces_to_dataset
from mcp_server.settings import Settings
from mcp_server.tool_boundary import READ_ONLY, FilterString, PageToken, answer
from store import Database

ADDS = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False)
"""Adding the same records again changes nothing (no new version)."""
CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
REMOVES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)
"""Deleting takes records out of the latest version; earlier versions keep them."""

DatasetName = Annotated[str, Field(description="The dataset's name, e.g. 'misrouted_requests'.")]
DatasetVersion = Annotated[
    int | None, Field(description="A version of the dataset (GetDataset lists them); none for the latest.")
]


class RecordInput(BaseModel):
    """One dataset record to add or merge."""

    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(description="What the agent receives; a non-empty object. Records are keyed by it.")
    expectations: dict[str, Any] | None = Field(
        None, description="Ground truth by name, e.g. {\"expected_route\": \"billing\"}."
    )
    tags: dict[str, str] | None = Field(None, description="String labels, e.g. {\"difficulty\": \"hard\"}.")
    source_trace_id: str | None = Field(None, description="The trace the record came from, if any.")


CREATE_DATASET_DESCRIPTION = """\
Create an empty evaluation dataset (version 0). A dataset is a named, versioned set of records:
inputs (what the agent receives), expectations (ground truth, name -> value), tags, and the trace a
record came from. Fill it with AddTracesToDataset (from traces) or UpsertDatasetRecords; every
change makes a new version, and earlier versions stay readable, so an evaluation can name the exact
version it ran on. name: a letter, then letters, digits, '_', '.' or '-'.

Example: CreateDataset(name="misrouted_requests", description="Support requests the router sent to the wrong specialist")"""

LIST_DATASETS_DESCRIPTION = """\
List the datasets by name, each with its description, latest version and record count.
max_results: 1 to 100 (default 50); page_token: next_page_token of the previous page.

Example: ListDatasets()"""

GET_DATASET_DESCRIPTION = """\
One dataset: its description, latest version, record count, and its versions newest first (at
most 50), each with what changed and how many records it holds. Read the records with
ListDatasetRecords.

Example: GetDataset(name="misrouted_requests")"""

ADD_TRACES_DESCRIPTION = f"""\
Add traces to a dataset: for each trace, a record whose inputs are the trace's root span inputs
(an object as it is; anything else, such as a list of messages, as {{"request": ...}}), whose
expectations are the trace's expectations (LogExpectation), and whose source_trace_id is the
trace. Pass either filter_string (SearchTraces syntax) or trace_ids, at most {MAX_TRACES:,} traces.
A trace whose inputs are already a record merges into it (expectations combined, new values
winning); traces without root inputs are skipped and listed with the reason. All changes make one
new version; when nothing changes, no version is made.

Example: AddTracesToDataset(dataset="misrouted_requests", filter_string="feedback.routing_accuracy = 'no'")"""

UPSERT_RECORDS_DESCRIPTION = f"""\
Add records to a dataset, or merge them into records with the same inputs (expectations and tags
are combined, the new values winning per key). All records are checked first: a bad one is named
by its index and field and nothing is stored. One call (at most {service.MAX_UPSERT:,} records)
makes one new version, or none when nothing changes. Returns each record's record_id (stable for
the same inputs).

Example: UpsertDatasetRecords(dataset="misrouted_requests", records=[{{"inputs": {{"question": "Why
was I charged twice?"}}, "expectations": {{"expected_route": "billing"}}, "tags": {{"source": "manual"}}}}])"""

LIST_RECORDS_DESCRIPTION = f"""\
List a dataset's records by record_id: inputs, expectations, tags, source_trace_id, and the
version each record's current form arrived in. version: an earlier version to read it as it was
(default: the latest); the pages of one listing stay on the version the first page read.
max_results: 1 to {service.MAX_RECORDS} (default 50); page_token: next_page_token of the previous
page (same other arguments). Parts longer than {service.FIELD_CHARS:,} characters are shown as
cut JSON text.

Example: ListDatasetRecords(dataset="misrouted_requests", version=2, max_results=20)"""

DELETE_RECORDS_DESCRIPTION = """\
Remove records from a dataset by record_id (ListDatasetRecords shows them). Makes one new version
without them; earlier versions still hold them. Ids not in the latest version are listed in
not_found; when none is found, no version is made.

Example: DeleteDatasetRecords(dataset="misrouted_requests", record_ids=["r-3f2b8c1d9e0a4b5c"])"""


def add_dataset_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register the seven dataset tools on `server`, over `db` (`settings`: for the shared signature)."""

    async def create_dataset(
        name: DatasetName,
        description: Annotated[str, Field(description="What the dataset holds, in a sentence.")] = "",
    ) -> Annotated[CallToolResult, service.DatasetSummary]:
        return await answer(service.create_dataset, db, name, description)

    async def list_datasets(
        max_results: Annotated[int, Field(description="Datasets per page, 1 to 100.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.DatasetList]:
        return await answer(service.list_datasets, db, max_results=max_results, page_token=page_token)

    async def get_dataset(name: DatasetName) -> Annotated[CallToolResult, service.DatasetDetail]:
        return await answer(service.get_dataset, db, name)

    async def add_traces(
        dataset: DatasetName,
        filter_string: FilterString = None,
        trace_ids: Annotated[list[str] | None, Field(description="Trace ids, instead of filter_string.")] = None,
    ) -> Annotated[CallToolResult, AddTracesReport]:
        return await answer(add_traces_to_dataset, db, dataset, filter_string=filter_string, trace_ids=trace_ids)

    async def upsert_records(
        dataset: DatasetName,
        records: Annotated[list[RecordInput], Field(description="The records to add or merge.")],
    ) -> Annotated[CallToolResult, service.UpsertAnswer]:
        raw = [record.model_dump(exclude_none=True) for record in records]
        return await answer(service.upsert_dataset_records, db, dataset, raw)

    async def list_records(
        dataset: DatasetName,
        version: DatasetVersion = None,
        max_results: Annotated[int, Field(description=f"Records per page, 1 to {service.MAX_RECORDS}.")] = 50,
        page_token: PageToken = None,
    ) -> Annotated[CallToolResult, service.RecordPage]:
        return await answer(
            service.list_dataset_records, db, dataset, version=version, max_results=max_results, page_token=page_token
        )

    async def delete_records(
        dataset: DatasetName,
        record_ids: Annotated[list[str], Field(description="Ids of the records to remove, e.g. ['r-3f2b8c1d9e0a4b5c'].")],
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
