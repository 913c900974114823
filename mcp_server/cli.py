"""The `tracejudge` command: parsing and formatting only; the work is done by the same functions
the MCP tools call."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from mcp_server.cli_datasets import register_dataset_commands
from mcp_server.cli_judges import register_judge_commands
from mcp_server.cli_labeling import register_labeling_commands
from mcp_server.cli_optimize import register_optimize_commands
from mcp_server.cli_prompts import register_prompt_commands
from mcp_server.cli_support import Command, database
from mcp_server.settings import DEFAULT_DB_PATH, Settings, settings_from_env
from store.errors import TraceJudgeError


def _err(message: str) -> None:
    print(f"tracejudge: {message}", file=sys.stderr)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from mcp_server.http.app import create_app
    from mcp_server.http.serving import prepare_process, uvicorn_config

    limits = prepare_process(settings)
    with database(settings) as db:
        if args.demo:
            from mcp_server.demo import load_demo

            load_demo(db)
        from store.search import count_traces

        count = count_traces(db, None)
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"tracejudge: {count} traces in {settings.db_path}\n"
            f"  MCP (streamable HTTP): {base}/mcp\n"
            f"  OTLP/HTTP traces:      {base}/v1/traces\n"
            f"  health:                {base}/health\n"
            f"  connections:           {limits.describe()}"
            + ("\n  auth: Authorization: Bearer <token> required" if settings.token else ""),
            file=sys.stderr,
            flush=True,
        )
        app = create_app(settings, db)
        uvicorn.Server(uvicorn_config(app, settings, limits)).run()
    return 0


def cmd_stdio(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.server import create_server

    with database(settings) as db:
        server = create_server(settings, db)
        anyio.run(server.run_stdio_async)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.demo import load_demo

    with database(settings) as db:
        loaded = load_demo(db)
        print(f"loaded {loaded} demo traces into {settings.db_path}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.importer import import_files

    with database(settings) as db:
        report = import_files(db, [Path(p) for p in args.files])
    from mcp_server.cli_format import print_import_report

    return print_import_report(report)


def cmd_traces(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format import print_traces
    from mcp_server.tools.traces import search_traces

    with database(settings) as db:
        page = search_traces(db, filter_string=args.filter, order_by=args.order_by, max_results=args.limit)
        print_traces(page)
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.cli_format import print_trace
    from mcp_server.tools.spans import list_spans
    from mcp_server.tools.traces import get_trace_info

    with database(settings) as db:
        info = get_trace_info(db, args.trace_id)
        spans = list_spans(db, args.trace_id, max_results=args.max_spans)
        print_trace(info, spans)
    return 0


def add_command(sub: argparse._SubParsersAction, name: str, func: Command, help: str) -> argparse.ArgumentParser:
    """A (sub)command that opens the database: --db, and `func` to run it."""
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument(
        "--db",
        type=Path,
        default=None,
        help=f"SQLite file (default: $TRACEJUDGE_DB or {DEFAULT_DB_PATH})",
    )
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracejudge",
        description="An MCP server for evaluating AI agents: OpenTelemetry traces in one SQLite "
        "file, inspected and judged over MCP.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        return add_command(sub, name, func, help)

    serve = add("serve", cmd_serve, "Serve MCP over streamable HTTP at /mcp and OTLP at /v1/traces.")
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8080)")
    serve.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN' (or $TRACEJUDGE_TOKEN)")
    serve.add_argument("--max-body-bytes", type=int, default=None, help="largest OTLP body accepted")
    serve.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        default=None,
        help="extra Host header accepted by /mcp, e.g. myhost:8080 (repeatable)",
    )
    serve.add_argument("--demo", action="store_true", help="load the demo traces before serving")

    add("stdio", cmd_stdio, "Serve the same MCP tools over stdio, for clients that launch the server.")
    add("demo", cmd_demo, "Load the telecom-support demo traces into the database.")
    imp = add("import", cmd_import, "Import OTLP JSON/protobuf files or MLflow trace JSON.")
    imp.add_argument("files", nargs="+", help="files to import (.json, .jsonl, .pb, ...)")
    traces = add("traces", cmd_traces, "List and search traces (MLflow filter syntax).")
    traces.add_argument("filter", nargs="?", default=None, help="e.g. \"trace.status = 'ERROR'\"")
    traces.add_argument("--order-by", action="append", default=None, help="e.g. 'timestamp_ms DESC' (repeatable)")
    traces.add_argument("--limit", type=int, default=20, help="how many traces to show (default 20)")
    show = add("show", cmd_show, "Show one trace: its summary and span tree.")
    show.add_argument("trace_id")
    show.add_argument("--max-spans", type=int, default=200, help="spans of the tree to show (default 200)")
    register_judge_commands(sub, add_command)
    register_dataset_commands(sub, add_command)
    register_prompt_commands(sub, add_command)
    register_labeling_commands(sub, add_command)
    register_optimize_commands(sub, add_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        key: getattr(args, key, None)
        for key in ("host", "port", "token", "max_body_bytes", "allowed_hosts")
    }
    if args.db is not None:
        overrides["db_path"] = args.db.expanduser()
    try:
        settings = settings_from_env(**overrides)
        return args.func(args, settings)
    except TraceJudgeError as exc:
        _err(str(exc))
        return 2
    except sqlite3.Error as exc:
        where = args.db or "the default database"
        _err(
            f"the database at {where} could not be used ({exc}); check that --db (or TRACEJUDGE_DB) "
            "names a tracejudge SQLite file, or a new file in a folder you can write."
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
