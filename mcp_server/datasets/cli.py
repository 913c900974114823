"""The `datasets` commands: parsing and printing over the same functions the dataset tools call
(mcp_server.datasets)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, page_token_option, print_json

PREVIEW_CHARS = 80


def _preview(value: Any) -> str:
    from mcp_server.tooling.paging import clip, dumps

    return clip(value if isinstance(value, str) else dumps(value), PREVIEW_CHARS)


def _print_changed(message: str) -> None:
    from mcp_server.terminal.tables import output_console

    output_console().print(message)


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.service import create_dataset

    with database(settings) as db:
        created = create_dataset(db, args.name, args.description)
    _print_changed(f"created dataset {created.name!r} (version 0, no records).")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.service import list_datasets
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        page = list_datasets(db, max_results=args.limit, page_token=args.page_token)
    if args.json:
        print_json(page)
        return 0
    columns = (Column("name"), Column("version", justify="right"), Column("records", justify="right"),
               Column("updated", drop=2), Column("description", fit="wrap", drop=1))  # fmt: skip
    rows = [(d.name, str(d.version), str(d.record_count), d.updated_time or "-", d.description) for d in page.datasets]
    print_listing(columns, rows, empty="no datasets; create one with 'tracejudge datasets create NAME'.",
                  next_page_token=page.next_page_token, more=f"datasets ({page.total} in all)")  # fmt: skip
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.service import get_dataset
    from mcp_server.terminal.tables import Column, output_console, print_table

    with database(settings) as db:
        info = get_dataset(db, args.name)
    if args.json:
        print_json(info)
        return 0
    console = output_console()
    console.print(f"{info.name}  version {info.version}, {info.record_count} records", markup=False)
    if info.description:
        console.print(info.description, markup=False)
    columns = (Column("version", justify="right"), Column("records", justify="right"), Column("created", drop=1),
               Column("change", fit="wrap"))  # fmt: skip
    rows = [(str(v.version), str(v.record_count), v.created_time or "-", v.change) for v in info.versions]
    print_table(console, columns, rows, title=f"versions (newest first, {len(info.versions)} of {info.version_count})")
    return 0


def cmd_add_traces(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.from_traces import add_traces_to_dataset

    with database(settings) as db:
        report = add_traces_to_dataset(db, args.name, filter_string=args.filter, trace_ids=args.trace_ids)
    _print_changed(report.message)
    for skipped in report.skipped_traces:
        _print_changed(f"  skipped {skipped.trace_id}: {skipped.reason}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.jsonl import import_jsonl

    with database(settings) as db:
        report = import_jsonl(db, args.name, Path(args.file), create=not args.no_create)
    created = f"created dataset {report.dataset!r}; " if report.created else ""
    outcome = (
        f"version {report.version} has {report.record_count} records"
        if report.changed
        else f"nothing changed, so it stays at version {report.version}"
    )
    _print_changed(
        f"{created}imported {report.records} records from {args.file}: {report.added} added, {report.merged} merged, "
        f"{report.unchanged} unchanged; {outcome}."
    )
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.jsonl import export_jsonl
    from store.datasets import resolve_version

    with database(settings) as db:
        version = resolve_version(db, args.name, args.version)
        if args.output is None:
            export_jsonl(db, args.name, sys.stdout, version)
            return 0
        with open(args.output, "w", encoding="utf-8") as out:
            count = export_jsonl(db, args.name, out, version)
    print(f"exported {count} records of {args.name!r} version {version} to {args.output}", file=sys.stderr)
    return 0


def cmd_records(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.service import list_dataset_records
    from mcp_server.terminal.tables import Column, output_console, print_listing

    with database(settings) as db:
        page = list_dataset_records(
            db, args.name, version=args.version, max_results=args.limit, page_token=args.page_token
        )
    if args.json:
        print_json(page)
        return 0
    console = output_console()
    console.print(f"{page.dataset} version {page.version} (latest {page.latest_version}): {page.total} records",
                  markup=False)  # fmt: skip
    if not page.records:
        return 0
    columns = (Column("record_id"), Column("added in", justify="right", drop=3), Column("inputs", fit="line"),
               Column("expectations", fit="line", drop=1), Column("tags", fit="line", drop=2),
               Column("source trace", drop=4))  # fmt: skip
    rows = [(r.record_id, str(r.added_version), _preview(r.inputs), _preview(r.expectations), _preview(r.tags),
             r.source_trace_id or "-") for r in page.records]  # fmt: skip
    print_listing(columns, rows, console=console, next_page_token=page.next_page_token,
                  more=f"records (showing {len(page.records)} of {page.total}; 'tracejudge datasets export' writes them all)")  # fmt: skip
    return 0


def cmd_delete(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.datasets.service import delete_dataset_records

    with database(settings) as db:
        report = delete_dataset_records(db, args.name, args.record_ids)
    _print_changed(report.message)
    for record_id in report.not_found:
        _print_changed(f"  not in the latest version: {record_id}")
    return 0 if report.changed else 1


def register_dataset_commands(sub: Any, add: AddCommand) -> None:
    """Add `datasets` and its subcommands to the top-level subparsers `sub`; `add` makes a command with --db."""
    about = "Create, fill, version, import and export evaluation datasets."
    group = sub.add_parser("datasets", help=about, description=about).add_subparsers(
        dest="datasets_command", required=True, metavar="SUBCOMMAND"
    )
    create = add(group, "create", cmd_create, "Create an empty dataset (version 0).")
    create.add_argument("name", help="a letter, then letters, digits, _ . -")
    create.add_argument("--description", default="", help="what the dataset holds")
    listing = add(group, "list", cmd_list, "List the datasets with their latest version and record count.")
    listing.add_argument("--limit", type=int, default=50, help="datasets to show (default 50, at most 100)")
    page_token_option(listing, "ListDatasets")
    json_option(listing, "ListDatasets")
    show = add(group, "show", cmd_show, "Show a dataset and its versions.")
    show.add_argument("name")
    json_option(show, "GetDataset")
    traces = add(group, "add-traces", cmd_add_traces,
                 "Add traces' root inputs and expectations as records (one new version).")
    traces.add_argument("name")
    which = traces.add_mutually_exclusive_group(required=True)
    which.add_argument("--filter", default=None, help="traces to add, e.g. \"feedback.routing_accuracy = 'no'\"")
    which.add_argument("--trace-id", action="append", dest="trace_ids", default=None, help="a trace to add (repeatable)")
    imp = add(group, "import", cmd_import,
              "Import records from a JSON lines file (one new version; nothing stored if any line is bad).")
    imp.add_argument("name")
    imp.add_argument("file", help='one JSON object a line: {"inputs": {...}, "expectations": {...}, "tags": {...}}')
    imp.add_argument("--no-create", action="store_true", help="fail if the dataset does not exist (default: create it)")
    export = add(group, "export", cmd_export, "Write a version's records as JSON lines (to stdout by default).")
    export.add_argument("name")
    export.add_argument("--version", type=int, default=None, help="the version to export (default: the latest)")
    export.add_argument("--output", "-o", default=None, help="file to write (default: stdout)")
    records = add(group, "records", cmd_records, "List a version's records.")
    records.add_argument("name")
    records.add_argument("--version", type=int, default=None, help="the version to list (default: the latest)")
    records.add_argument("--limit", type=int, default=50, help="records to show (default 50, at most 200)")
    page_token_option(records, "ListDatasetRecords")
    json_option(records, "ListDatasetRecords")
    delete = add(group, "delete", cmd_delete,
                 "Remove records by id (one new version); exits 1 when none was in the dataset.")
    delete.add_argument("name")
    delete.add_argument("record_ids", nargs="+", metavar="RECORD_ID")
