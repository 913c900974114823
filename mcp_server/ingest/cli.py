"""`tracejudge import`: trace files (OTLP JSON or protobuf, MLflow trace JSON) into the store,
through the same decoding as OTLP ingest (mcp_server.ingest.importer), and the report of what each
file gave."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database

if TYPE_CHECKING:
    from mcp_server.ingest.importer import ImportReport


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.ingest.importer import import_files

    with database(settings) as db:
        report = import_files(db, [Path(p) for p in args.files])
    return print_import_report(report)


MAX_REJECTIONS_SHOWN = 10


def print_import_report(report: ImportReport) -> int:
    """Print what each file gave; returns the exit code (1 when a file failed or spans were rejected)."""
    from rich.markup import escape

    from mcp_server.terminal.tables import output_console

    console = output_console()
    for file in report.files:
        # Paths and rejection reasons may hold anything (a span's attribute names): never markup.
        path = escape(str(file.path))
        if file.error:
            console.print(f"[red]{path}: {escape(file.error)}[/]")
            continue
        line = f"{path}: {file.spans_written:,} spans ({file.format})"
        if file.rejected:
            line += f", [red]{file.spans_rejected:,} rejected[/]"
        console.print(line)
        for message in file.rejected[:MAX_REJECTIONS_SHOWN]:
            console.print(f"  [red]rejected:[/] {escape(message)}")
        if file.spans_rejected > MAX_REJECTIONS_SHOWN:
            console.print(f"  ... and {file.spans_rejected - MAX_REJECTIONS_SHOWN} more")
        for note in file.notes:
            console.print(f"  [dim]{escape(note)}[/]")
    console.print(f"imported {report.spans_written:,} spans from {len(report.files) - len(report.failed_files)} file(s)")
    return 1 if report.failed_files or report.spans_rejected else 0


def register_import_commands(sub: argparse._SubParsersAction, add_command: AddCommand) -> None:
    """Add `import` to the top-level subparsers `sub`."""
    imp = add_command(sub, "import", cmd_import, "Import OTLP JSON/protobuf files or MLflow trace JSON.")
    imp.add_argument("files", nargs="+", help="files to import (.json, .jsonl, .pb, ...)")
