"""The dataset tools as typed functions with bounded answers: CreateDataset, ListDatasets,
GetDataset, UpsertDatasetRecords, ListDatasetRecords and DeleteDatasetRecords (AddTracesToDataset
is mcp_server.datasets.from_traces). The MCP tools in mcp_server.datasets.tools and the CLI's
`datasets` commands call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from mcp_server.tooling.paging import (
    ENVELOPE_RESERVE,
    Page,
    check_range,
    clip,
    dumps,
    issue_token,
    next_page_notice,
    read_token,
    state_int,
)
from mcp_server.tooling.timestamps import with_iso_times
from store import Database
from store import datasets as store
from store.errors import InvalidArgument, InvalidPageToken

LIST_DATASETS_TOOL = "ListDatasets"
LIST_RECORDS_TOOL = "ListDatasetRecords"
MAX_DATASETS = 100
MAX_RECORDS = 200
MAX_UPSERT = 1_000
"""Records one UpsertDatasetRecords call takes; larger sets go in several calls or a JSONL import."""
MAX_DELETE = 1_000
ANSWER_CHARS = 40_000
"""Size cap of a ListDatasetRecords answer; a page holds fewer records rather than exceed it."""
FIELD_CHARS = 8_000
"""A record's inputs, expectations or tags longer than this (as JSON) are listed as cut JSON text."""
VERSIONS_SHOWN = 50
IDS_SHOWN = 100


class DatasetSummary(store.DatasetBase):
    created_time: str | None
    updated_time: str | None


class DatasetVersionInfo(store.DatasetVersionBase):
    created_time: str | None


class DatasetDetail(DatasetSummary):
    versions: list[DatasetVersionInfo] = Field(description=f"Newest first, at most {VERSIONS_SHOWN}.")
    version_count: int


class DatasetList(BaseModel):
    datasets: list[DatasetSummary]
    total: int
    next_page_token: str | None = None


class RecordView(BaseModel):
    """A record as listed; a part too long to list is its JSON text cut short (named in `cut`)."""

    record_id: str = Field(description="Stable for the same inputs, in every version.")
    inputs: Any
    expectations: Any
    tags: Any
    source_trace_id: str | None
    added_version: int = Field(description="The version this form of the record arrived in.")
    cut: list[str] = Field(default_factory=list, description="Parts shown as cut JSON text.")


class RecordPage(BaseModel):
    dataset: str
    version: int = Field(description="The version listed (pages of one listing stay on it).")
    latest_version: int
    total: int = Field(description="Records in the version listed.")
    records: list[RecordView]
    next_page_token: str | None = None
    notice: str | None = None


class UpsertAnswer(BaseModel):
    dataset: str
    version: int
    changed: bool
    added: int
    merged: int
    unchanged: int
    record_count: int
    record_ids: list[str] = Field(description=f"The record_id of each record given, in order (the first {IDS_SHOWN}).")
    message: str


class DeleteAnswer(store.DeleteReport):
    message: str


def _summary(record: store.DatasetRecord) -> DatasetSummary:
    return DatasetSummary.model_validate(with_iso_times(record))


def create_dataset(db: Database, name: str, description: str = "") -> DatasetSummary:
    """Store an empty dataset (version 0)."""
    return _summary(store.create_dataset(db, name, description))


def get_dataset(db: Database, name: str) -> DatasetDetail:
    """The dataset at its latest version with its newest versions."""
    info = store.get_dataset(db, name, max_versions=VERSIONS_SHOWN)
    return DatasetDetail.model_validate(
        {**with_iso_times(info), "versions": [with_iso_times(version) for version in info.versions]}
    )


def _after_state(state: dict[str, Any] | None, tool: str, *, limit: int = 200) -> str | None:
    if state is None:
        return None
    after = state.get("after")
    if not isinstance(after, str) or len(after) > limit:
        raise InvalidPageToken(f"page_token is damaged; call {tool} without page_token to start again.")
    return after


def list_datasets(db: Database, *, max_results: int = 50, page_token: str | None = None) -> DatasetList:
    """A page of datasets by name."""
    check_range("max_results", max_results, 1, MAX_DATASETS)
    arguments = {"max_results": max_results}
    after = _after_state(read_token(page_token, LIST_DATASETS_TOOL, arguments), LIST_DATASETS_TOOL)
    datasets, total = store.list_datasets(db, limit=max_results + 1, after=after)
    token = None
    if len(datasets) > max_results:
        datasets = datasets[:max_results]
        token = issue_token(LIST_DATASETS_TOOL, arguments, {"after": datasets[-1].name})
    return DatasetList(datasets=[_summary(d) for d in datasets], total=total, next_page_token=token)


def _view(record: store.DatasetRecordRow) -> RecordView:
    parts: dict[str, Any] = {}
    cut: list[str] = []
    for field in ("inputs", "expectations", "tags"):
        value = getattr(record, field)
        text = dumps(value)
        if len(text) > FIELD_CHARS:
            parts[field] = clip(text, FIELD_CHARS)
            cut.append(field)
        else:
            parts[field] = value
    return RecordView(
        record_id=record.record_id,
        source_trace_id=record.source_trace_id,
        added_version=record.added_version,
        cut=cut,
        **parts,
    )


def list_dataset_records(
    db: Database,
    dataset: str,
    *,
    version: int | None = None,
    max_results: int = 50,
    page_token: str | None = None,
) -> RecordPage:
    """A page of a version's records by record_id, within ANSWER_CHARS."""
    check_range("max_results", max_results, 1, MAX_RECORDS)
    arguments = {"dataset": dataset, "version": version, "max_results": max_results}
    state = read_token(page_token, LIST_RECORDS_TOOL, arguments)
    after = _after_state(state, LIST_RECORDS_TOOL, limit=40)
    latest = store.resolve_version(db, dataset, None)
    # A listing stays on the version its first page read, though the dataset changes meanwhile.
    pinned = state_int(state, "version", LIST_RECORDS_TOOL, high=latest) if state is not None else None
    listed = store.resolve_version(db, dataset, pinned if pinned is not None else version)
    rows, total = store.list_records(db, dataset, listed, limit=max_results + 1, after=after)
    page: Page[RecordView] = Page(ANSWER_CHARS - ENVELOPE_RESERVE, max_results)
    for row in rows[:max_results]:
        if not page.offer(_view(row)):
            break
    token = notice = None
    if len(page.items) < len(rows):
        token = issue_token(LIST_RECORDS_TOOL, arguments, {"after": page.items[-1].record_id, "version": listed})
        notice = next_page_notice(LIST_RECORDS_TOOL, "records", 1, len(page.items), total, token,
                                  note=" (after the previous pages)" if state is not None else "")
    if any(item.cut for item in page.items):
        cut_note = (f"parts longer than {FIELD_CHARS:,} characters are shown as cut JSON text; "
                    "`tracejudge datasets export` writes records whole.")
        notice = f"{notice} {cut_note}" if notice else cut_note
    return RecordPage(
        dataset=dataset, version=listed, latest_version=latest, total=total, records=page.items,
        next_page_token=token, notice=notice,
    )


def upsert_dataset_records(db: Database, dataset: str, records: Sequence[dict[str, Any]]) -> UpsertAnswer:
    """Add or merge up to MAX_UPSERT records as one version."""
    if isinstance(records, dict) or not isinstance(records, Sequence) or isinstance(records, str):
        raise InvalidArgument('records must be a list of objects, e.g. [{"inputs": {"question": "..."}}].')
    if not records:
        raise InvalidArgument('records is empty; pass at least one, e.g. [{"inputs": {"question": "..."}}].')
    if len(records) > MAX_UPSERT:
        raise InvalidArgument(
            f"{len(records):,} records is more than the {MAX_UPSERT:,} one call takes; send them in several calls "
            "(or import a JSON lines file with `tracejudge datasets import`)."
        )
    report = store.upsert_records(db, dataset, records)
    return UpsertAnswer(
        dataset=dataset,
        version=report.version,
        changed=report.changed,
        added=report.added,
        merged=report.merged,
        unchanged=report.unchanged,
        record_count=report.record_count,
        record_ids=report.record_ids[:IDS_SHOWN],
        message=_outcome(dataset, report.changed, report.version, report.record_count,
                         f"{report.added} added, {report.merged} merged, {report.unchanged} unchanged"),
    )


def delete_dataset_records(db: Database, dataset: str, record_ids: Sequence[str]) -> DeleteAnswer:
    """Remove records (by record_id) from the latest version, as one new version."""
    if not isinstance(record_ids, str) and len(record_ids) > MAX_DELETE:
        raise InvalidArgument(f"{len(record_ids):,} record_ids is more than {MAX_DELETE:,}; delete in several calls.")
    report = store.delete_records(db, dataset, record_ids)
    missing = f", {len(report.not_found)} not in the latest version" if report.not_found else ""
    return DeleteAnswer(
        **report.model_dump(),
        message=_outcome(dataset, report.changed, report.version, report.record_count,
                         f"{len(report.deleted)} deleted{missing}"),
    )


def _outcome(dataset: str, changed: bool, version: int, record_count: int, counts: str) -> str:
    if changed:
        return f"{counts}; dataset {dataset!r} is now at version {version} with {record_count} records."
    return f"{counts}; nothing changed, so dataset {dataset!r} stays at version {version} (no new version)."
