"""AddTracesToDataset: a record per trace from its root span's inputs and its expectations.

A trace's inputs are its root span's request as the judges read it (mcp_server.judges.trace_data):
an object stays as it is; anything else (a message list, a string) becomes {"request": value}, so
a record's inputs are always an object a target can take as keyword arguments. Its valid
expectation assessments become the record's expectations, name -> value. Traces are taken oldest
first, so where two traces share inputs the record's source is the older one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_server.judges.trace_data import root_inputs_outputs, trace_expectations
from store import Database
from store.dataset_inputs import NewRecord, parse_record
from store.datasets import resolve_version, upsert_parsed
from store.errors import InvalidArgument, RootSpanNotFound
from store.search import count_traces, search_trace_ids
from store.traces import known_trace_ids

MAX_TRACES = 10_000
"""Most traces one call adds; a dataset grows by several calls rather than one unbounded one."""
SKIPPED_SHOWN = 50


class SkippedTrace(BaseModel):
    trace_id: str
    reason: str


class AddTracesReport(BaseModel):
    """What adding traces did to a dataset, counted per trace."""

    dataset: str
    version: int = Field(description="The dataset's version after the call (unchanged when nothing changed).")
    changed: bool = Field(description="False when no record changed, so no version was made.")
    traces: int = Field(description="Traces considered.")
    added: int = Field(description="Traces whose inputs became new records.")
    merged: int = Field(description="Traces whose inputs were already records and whose expectations changed them.")
    unchanged: int = Field(description="Traces whose record was already present exactly so.")
    skipped: int = Field(description="Traces that gave no record (see skipped_traces).")
    skipped_traces: list[SkippedTrace] = Field(description=f"The first {SKIPPED_SHOWN} skipped traces and why.")
    record_count: int
    message: str


def record_from_trace(db: Database, trace_id: str) -> dict[str, Any] | str:
    """The record for one trace, or the reason it has none."""
    try:
        inputs, _ = root_inputs_outputs(db, trace_id)
    except RootSpanNotFound:
        return "its root span has not arrived yet"
    if inputs is None or inputs == {} or inputs == "":
        return "its root span has no inputs"
    return {
        "inputs": inputs if isinstance(inputs, dict) else {"request": inputs},
        "expectations": trace_expectations(db, trace_id),
        "source_trace_id": trace_id,
    }


def _listed(db: Database, trace_ids: list[str]) -> list[str]:
    if isinstance(trace_ids, str):
        raise InvalidArgument("trace_ids must be a list of trace ids, e.g. ['4bf92f3577b34da6a3ce929d0e0e4736'].")
    if not trace_ids:
        raise InvalidArgument("trace_ids is empty; pass at least one id (SearchTraces lists them).")
    # Unknown ids fail the call before anything is stored: a wrong id is a mistake to fix, not skip.
    return known_trace_ids(
        db,
        trace_ids,
        limit=MAX_TRACES,
        too_many=lambda n: f"{n:,} trace_ids is more than {MAX_TRACES:,}; add them in several calls.",
    )


def _matching(db: Database, filter_string: str) -> list[str]:
    matching = count_traces(db, filter_string)
    if matching > MAX_TRACES:
        raise InvalidArgument(
            f"filter_string matches {matching:,} traces, more than the {MAX_TRACES:,} one call adds; narrow it "
            "(e.g. add \"AND trace.timestamp_ms > ...\") and add the rest in further calls."
        )
    return search_trace_ids(db, filter_string, ["timestamp_ms ASC"], MAX_TRACES)


def _trace_ids(db: Database, filter_string: str | None, trace_ids: list[str] | None) -> list[str]:
    if filter_string is not None and trace_ids is None:
        return _matching(db, filter_string)
    if trace_ids is not None and filter_string is None:
        return _listed(db, trace_ids)
    raise InvalidArgument(
        "pass either filter_string (e.g. \"feedback.routing_accuracy = 'no'\") or trace_ids (a list of ids), "
        "not both and not neither."
    )


def add_traces_to_dataset(
    db: Database, name: str, filter_string: str | None = None, trace_ids: list[str] | None = None,
    tags: dict[str, str] | None = None,
) -> AddTracesReport:
    """Add a record per trace (filter_string or trace_ids, at most MAX_TRACES) as one new version;
    `tags` are added to each record's (CreateDatasetFromIssue names the issue there)."""
    resolve_version(db, name, None)  # DatasetNotFound before any trace is read
    ids = _trace_ids(db, filter_string, trace_ids)
    parsed: list[NewRecord] = []
    skipped: list[SkippedTrace] = []
    for trace_id in ids:
        record = record_from_trace(db, trace_id)
        if isinstance(record, str):
            skipped.append(SkippedTrace(trace_id=trace_id, reason=record))
            continue
        if tags:
            record = {**record, "tags": {**(record.get("tags") or {}), **tags}}
        try:
            parsed.append(parse_record(record, f"trace {trace_id}"))
        except InvalidArgument as exc:  # too large, or not plain JSON: this trace only
            skipped.append(SkippedTrace(trace_id=trace_id, reason=str(exc)))
    source = f"filter {filter_string!r}" if filter_string is not None else "listed trace ids"
    report = upsert_parsed(db, name, parsed, change=f"added {len(parsed)} traces ({source})")
    outcome = (
        f"dataset {name!r} is now at version {report.version} with {report.record_count} records"
        if report.changed
        else f"nothing changed, so dataset {name!r} stays at version {report.version}"
    )
    return AddTracesReport(
        dataset=name,
        version=report.version,
        changed=report.changed,
        traces=len(ids),
        added=report.added,
        merged=report.merged,
        unchanged=report.unchanged,
        skipped=len(skipped),
        skipped_traces=skipped[:SKIPPED_SHOWN],
        record_count=report.record_count,
        message=(
            f"{len(ids)} traces: {report.added} added, {report.merged} merged, {report.unchanged} unchanged, "
            f"{len(skipped)} skipped; {outcome}."
        ),
    )
