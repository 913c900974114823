"""Datasets as JSON lines files: one record a line, {"inputs": {...}, "expectations": {...},
"tags": {...}, "source_trace_id": "..."} (all but inputs optional; a "record_id" field, which
exports carry, is ignored on import because it follows from the inputs).

Import is all or nothing: every line is checked first, and a file with any bad line stores
nothing and reports each bad line by number, so fixing the file and importing it again never
leaves half a file behind. A file is one change, so it makes (at most) one new version.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel, Field

from store import Database
from store.dataset_inputs import NewRecord, parse_record
from store.datasets import all_records, create_dataset, resolve_version, upsert_parsed
from store.errors import DatasetNotFound, InvalidArgument
from store.json_text import dumps

BAD_LINES_SHOWN = 20


class ImportReport(BaseModel):
    dataset: str
    created: bool = Field(description="True when the import created the dataset.")
    records: int = Field(description="Records read from the file.")
    version: int
    changed: bool
    added: int
    merged: int
    unchanged: int
    record_count: int


def parse_jsonl(lines: Iterable[str], source: str) -> list[NewRecord]:
    """Every record of a JSON lines text (blank lines skipped); InvalidArgument listing the bad
    lines by number when there is any, or when there is no record at all."""
    records: list[NewRecord] = []
    bad: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(f"line {number}: not JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            bad.append(f"line {number}: nested too deeply to read")
            continue
        try:
            records.append(parse_record(raw, f"line {number}"))
        except InvalidArgument as exc:
            bad.append(str(exc))
    if bad:
        more = f"\n  ... and {len(bad) - BAD_LINES_SHOWN} more" if len(bad) > BAD_LINES_SHOWN else ""
        raise InvalidArgument(
            f"{source} has {len(bad)} bad line(s), so nothing was imported; fix them and import the file again. "
            'Each line must be a JSON object like {"inputs": {"question": "..."}, "expectations": {...}}:\n  '
            + "\n  ".join(bad[:BAD_LINES_SHOWN]) + more
        )
    if not records:
        raise InvalidArgument(f"{source} holds no records; write one JSON object per line.")
    return records


def _read_lines(path: Path) -> list[str]:
    try:
        # utf-8-sig: files saved by Windows editors start with a BOM, which is not part of line 1.
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise InvalidArgument(f"{path} does not exist; name a JSON lines file to import.") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{path} is a folder; name a JSON lines file to import.") from None
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON lines.") from None


def import_jsonl(db: Database, name: str, path: Path, *, create: bool = True) -> ImportReport:
    """Upsert every record of the file into the dataset as one version; with `create`, a dataset
    that does not exist is created first (only once the whole file has been checked)."""
    records = parse_jsonl(_read_lines(path), str(path))
    created = False
    try:
        resolve_version(db, name, None)
    except DatasetNotFound:
        if not create:
            raise
        create_dataset(db, name)
        created = True
    report = upsert_parsed(db, name, records, change=f"imported {len(records)} records from {path.name}")
    return ImportReport(
        dataset=name, created=created, records=len(records), version=report.version, changed=report.changed,
        added=report.added, merged=report.merged, unchanged=report.unchanged, record_count=report.record_count,
    )


def export_jsonl(db: Database, name: str, out: TextIO, version: int | None = None) -> int:
    """Write the records of `version` (default: the latest) to `out`, one a line, by record_id;
    returns how many. Importing the file into an empty dataset gives the same records back."""
    records = all_records(db, name, version)
    for record in records:
        line = {
            "record_id": record.record_id,
            "inputs": record.inputs,
            "expectations": record.expectations,
            "tags": record.tags,
            "source_trace_id": record.source_trace_id,
        }
        out.write(dumps(line) + "\n")
    return len(records)
