"""The `tracejudge` command: parsing and formatting only; the work is done by the same functions
the MCP tools call."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sqlite3
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from mcp_server.access.cli import register_token_commands
from mcp_server.alerts.cli import register_alert_commands
from mcp_server.datasets.cli import register_dataset_commands
from mcp_server.demo.cli import register_demo_commands
from mcp_server.evaluation.cli import register_evaluation_commands
from mcp_server.gates.cli import register_gate_commands
from mcp_server.gateway.cli import register_key_commands
from mcp_server.ingest.cli import register_import_commands
from mcp_server.issues.cli import register_issue_commands
from mcp_server.judges.cli import register_judge_commands
from mcp_server.labeling.cli import register_labeling_commands
from mcp_server.models.settings import JUDGE_MODEL_ENV
from mcp_server.monitors.cli import register_monitor_commands
from mcp_server.optimization.cli import register_alignment_commands, register_optimize_commands
from mcp_server.prompts.cli import register_prompt_commands
from mcp_server.settings import DEFAULT_DB_PATH, Settings, settings_from_env, split_list
from mcp_server.skills.cli import register_skills_commands
from mcp_server.terminal.commands import Command, database
from mcp_server.tooling.toolsets import TOOLSET_NAMES
from mcp_server.traces.cli import register_trace_commands
from store.errors import TraceJudgeError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from mcp_server.judges.runner import JudgeServer
    from store import Database

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""The signals that stop `serve` and `stdio` cleanly: `kill`, service managers, Ctrl-C."""


def _err(message: str) -> None:
    print(f"tracejudge: {message}", file=sys.stderr)


def _token_warnings(args: argparse.Namespace, settings: Settings) -> list[str]:
    """What is unsafe about how the token reached the server, each with its fix."""
    warnings = []
    if args.token is not None:
        warnings.append(
            "--token puts the token on the command line, visible to every local user in ps and "
            "/proc/PID/cmdline; set TRACEJUDGE_TOKEN instead, or write it to a file only you can read "
            "and pass --token-file PATH (or TRACEJUDGE_TOKEN_FILE=PATH)."
        )
    if settings.token_file is not None:
        try:
            mode = stat.S_IMODE(settings.token_file.stat().st_mode)
        except OSError:
            mode = 0  # it was read a moment ago; a file gone since then exposes nothing more
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(
                f"the token file {settings.token_file} can be read by other users (mode {mode:04o}); "
                f"chmod 600 {settings.token_file}."
            )
    return warnings


def _close_and_die(db: Database, signum: int, *, close: bool = True) -> None:
    """Close the store, which moves its WAL into the database file (so the .db alone is the
    whole store), then end the process by `signum`, as its sender expects. Ending by the signal
    also ends a worker thread that is blocked reading an open stdin, which no exit would.

    The stop signals get their default action back first: closing can wait (the checkpoint up to
    busy_timeout for another program's reader, the writer's lock for a write in progress), and
    a second Ctrl-C meanwhile must end the process at once, even while it waits inside SQLite,
    rather than run this again. Without `close` (the user already asked to quit at once) nothing
    is waited for: what the store committed is safe in its -wal file, which its next opening
    moves in."""
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_DFL)
    if close:
        _err("stopping: moving the store's WAL into its file (Ctrl-C again to quit at once)")
        db.close(checkpoint=True)
    else:
        _err("quitting at once; the store's committed writes wait in its -wal file for its next opening")
    sys.stdout.flush()
    sys.stderr.flush()
    signal.raise_signal(signum)


@contextmanager
def _closing_on_stop_signals(db: Database, forced: Callable[[], bool]) -> Iterator[None]:
    """While uvicorn serves, it takes SIGTERM and SIGINT itself, drains its connections (a second
    Ctrl-C stops the draining: `forced`), puts back the handlers it found and raises the signals
    again: then these close the store, or, when forced, quit without waiting for it."""

    def stop(signum: int, frame: FrameType | None) -> None:
        _close_and_die(db, signum, close=not forced())

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _opened(settings: Settings, db: Database, *, was_new: bool) -> str:
    """What `serve` and `stdio` say first on stderr: the store they opened and the judge model. A
    client that starts the server over stdio may not pass the user's environment on (Codex keeps
    only HOME, PATH and a few more; Gemini CLI drops *_API_KEY), and then the server opens the
    default store and no model: this line, in the client's MCP log, shows it at once."""
    from store.search import count_traces

    count = count_traces(db, None)
    store = f"a new, empty store at {settings.db_path}" if was_new else f"{count:,} traces in {settings.db_path}"
    model = (
        f"judge model {settings.models.judge_model}"
        if settings.models.judge_model
        else f"no judge model (set {JUDGE_MODEL_ENV}, and the provider's key, for judges that call a model)"
    )
    toolsets = "all tools" if set(settings.toolsets) == set(TOOLSET_NAMES) else "toolsets " + ",".join(settings.toolsets)
    return f"tracejudge: {store}; {model}; {toolsets}{'; read-only' if settings.read_only else ''}"


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from mcp_server.http.app import create_app
    from mcp_server.http.hosts import accepted_hosts
    from mcp_server.http.serving import fit_to_connections, prepare_process, uvicorn_config
    from mcp_server.server import create_server, judge_server_for

    # create_app makes the same check; making it first refuses an unsafe bind before the database
    # is opened or the demo loaded.
    accepted_hosts(settings)
    if settings.gateway_config is not None:
        from mcp_server.gateway.routes import load_config

        load_config(settings.gateway_config)  # a bad file is refused before anything starts
    for warning in _token_warnings(args, settings):
        _err(f"warning: {warning}")
    limits = prepare_process(settings)
    settings = fit_to_connections(settings, limits)
    was_new = not Path(settings.db_path).exists()
    with database(settings, checkpoint=True) as db:
        if args.demo:
            from mcp_server.demo.load import load_demo

            load_demo(db)
            was_new = False
        base = f"http://{settings.host}:{settings.port}"
        print(
            f"{_opened(settings, db, was_new=was_new)}\n"
            f"  web UI:                {base}/\n"
            f"  MCP (streamable HTTP): {base}/mcp\n"
            f"  OTLP/HTTP traces:      {base}/v1/traces\n"
            f"  OTLP/HTTP logs:        {base}/v1/logs\n"
            f"  health:                {base}/health\n"
            + (f"  AI gateway:            {base}/gateway/v1 (OpenAI), {base}/gateway/anthropic (Anthropic); "
               f"routes from {settings.gateway_config}\n" if settings.gateway_config else "")
            + f"  connections:           {limits.describe()}"
            + ("\n  auth: Authorization: Bearer <token> required" if settings.token else ""),
            file=sys.stderr,
            flush=True,
        )
        mcp = create_server(settings, db)
        judge_server = judge_server_for(mcp, settings, db)
        background = []
        if settings.monitors:
            from mcp_server.alerts.watcher import AlertWatcher
            from mcp_server.monitors.runner import MonitorRunner

            background.append(MonitorRunner.for_settings(db, settings, judge_server).run)
            background.append(AlertWatcher(db, settings, settings.monitor_poll_s).run)
        app = create_app(settings, db, mcp, judge_server, background)
        server = uvicorn.Server(uvicorn_config(app, settings, limits))
        with _closing_on_stop_signals(db, forced=lambda: server.force_exit):
            server.run()
    return 0


def cmd_stdio(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.server import create_server

    was_new = not Path(settings.db_path).exists()
    with database(settings, checkpoint=True) as db:
        # stderr is the client's MCP log (stdout carries the protocol)
        print(_opened(settings, db, was_new=was_new), file=sys.stderr, flush=True)
        server = create_server(settings, db)

        async def serve_until_stdin_closes_or_a_stop_signal() -> None:
            # The signal is taken in the event loop, where no store call of this thread is half
            # done: a handler run between any two bytecodes could find the store's locks held.
            async with anyio.create_task_group() as group:

                async def close_on_stop_signal() -> None:
                    with anyio.open_signal_receiver(*STOP_SIGNALS) as signals:
                        async for signum in signals:
                            _close_and_die(db, signum)

                group.start_soon(close_on_stop_signal)
                await server.run_stdio_async()
                group.cancel_scope.cancel()

        anyio.run(serve_until_stdin_closes_or_a_stop_signal)
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from store.backup import backup
    from store.errors import InvalidArgument

    source = Path(settings.db_path)
    dest = args.dest.expanduser()
    if not source.is_file():
        raise InvalidArgument(
            f"there is no store at {source}; pass --db (or set TRACEJUDGE_DB) to name the SQLite file to back up."
        )
    if dest.exists() and dest.resolve() == source.resolve():
        raise InvalidArgument(f"{dest} is the store itself; name another file to copy it into.")
    if dest.is_dir():
        raise InvalidArgument(f"{dest} is a folder; name a file in it, e.g. {dest / 'traces-backup.db'}.")
    if dest.exists() and not args.force:
        raise InvalidArgument(f"{dest} exists; pass --force to replace it, or name a new file.")
    if Path(f"{dest}-wal").exists():
        raise InvalidArgument(
            f"{dest}-wal exists beside {dest}: a program may have it open, and it would be read with the copy. "
            "Stop that program (or remove the -wal file if none has it open), or name another file."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    done = backup(source, dest)
    print(
        f"wrote {done.path}: {done.traces:,} traces, {done.spans:,} spans, {done.size_bytes:,} bytes, copied from "
        f"{source} as one SQLite file (open it with --db {done.path})."
    )
    return 0


def _judge_server(settings: Settings, db: Database) -> JudgeServer:
    """The server the agent judges of one command investigate through (`judge run`, `evaluate`,
    `judge align`, `optimize`): made on first use, so a command that runs only LLM and code judges
    never builds one, and shared by every judgment of the command. The commands are given it here,
    by the program's entry, as the MCP tools are given theirs by mcp_server.server."""

    def make() -> MCPServer:
        from mcp_server.server import investigation_server

        return investigation_server(settings, db)

    return functools.cache(make)


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


def _tool_selection_options(parser: argparse.ArgumentParser) -> None:
    """--toolsets and --read-only, for the commands that serve MCP."""
    parser.add_argument(
        "--toolsets",
        default=None,
        metavar="NAME,...",
        help=f"serve only these MCP toolsets, comma-separated: {','.join(TOOLSET_NAMES)} "
        "(default all, or $TRACEJUDGE_TOOLSETS)",
    )
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="serve no MCP tool that writes or spends (or TRACEJUDGE_READ_ONLY=1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracejudge",
        description="An MCP server for evaluating AI agents: OpenTelemetry traces in one SQLite "
        "file, inspected and judged over MCP.",
    )
    parser.set_defaults(judge_server=_judge_server)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help: str) -> argparse.ArgumentParser:
        return add_command(sub, name, func, help)

    serve = add("serve", cmd_serve, "Serve MCP over streamable HTTP at /mcp and OTLP at /v1/traces and /v1/logs.")
    serve.add_argument(
        "--host",
        default=None,
        help="address to bind (default 127.0.0.1); beyond loopback it needs a token and --allowed-host",
    )
    serve.add_argument("--port", type=int, default=None, help="port (default 8080)")
    token = serve.add_mutually_exclusive_group()
    token.add_argument(
        "--token-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="require 'Authorization: Bearer TOKEN', TOKEN read from this file (or $TRACEJUDGE_TOKEN_FILE, "
        "or $TRACEJUDGE_TOKEN itself)",
    )
    token.add_argument(
        "--token", default=None, help="the token itself: visible to every local user in ps; prefer --token-file"
    )
    serve.add_argument(
        "--trusted-network",
        action="store_true",
        default=None,
        help="listen beyond loopback without a token: every host that can reach the server is trusted "
        "(or TRACEJUDGE_TRUSTED_NETWORK=1)",
    )
    serve.add_argument("--max-body-bytes", type=int, default=None, help="largest OTLP body accepted")
    serve.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        default=None,
        metavar="NAME:PORT",
        help="Host header accepted, NAME:PORT or NAME:* (repeatable, or $TRACEJUDGE_ALLOWED_HOSTS); "
        "beyond loopback only these are",
    )
    serve.add_argument("--demo", action="store_true", help="load the demo traces before serving")
    serve.add_argument(
        "--no-monitors", dest="monitors", action="store_false", default=None,
        help="do not run the monitors here (another process runs them: tracejudge monitors run)",
    )  # fmt: skip
    serve.add_argument(
        "--gateway-config", type=Path, default=None, metavar="PATH",
        help="serve the AI gateway at /gateway with the routes of this TOML file (or $TRACEJUDGE_GATEWAY_CONFIG)",
    )  # fmt: skip
    _tool_selection_options(serve)

    stdio = add("stdio", cmd_stdio, "Serve the same MCP tools over stdio, for clients that launch the server.")
    _tool_selection_options(stdio)
    register_demo_commands(sub, add_command)
    register_import_commands(sub, add_command)
    register_trace_commands(sub, add_command)
    backup = add(
        "backup",
        cmd_backup,
        "Copy the store into one new SQLite file, safely while serve runs (SQLite's backup API).",
    )
    backup.add_argument("dest", type=Path, help="the file to write, e.g. backups/traces-2025-06-01.db")
    backup.add_argument("--force", action="store_true", help="replace DEST if it exists")
    # `judge agreement` and `judge align` belong to optimization (judge alignment), under the judge group
    register_alignment_commands(register_judge_commands(sub, add_command), add_command)
    register_evaluation_commands(sub, add_command)
    register_dataset_commands(sub, add_command)
    register_prompt_commands(sub, add_command)
    register_labeling_commands(sub, add_command)
    register_optimize_commands(sub, add_command)
    register_monitor_commands(sub, add_command)
    register_alert_commands(sub, add_command)
    register_issue_commands(sub, add_command)
    register_gate_commands(sub, add_command)
    register_token_commands(sub, add_command)
    register_key_commands(sub, add_command)
    register_skills_commands(sub)
    return parser


SIGPIPE_EXIT = 128 + signal.SIGPIPE
"""The exit status of a command whose reader closed the pipe early, as a shell reports a Unix
tool that SIGPIPE ended (`tracejudge traces | head -1`)."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        # Flushed here so that a reader which closed early is met in this try, not when the
        # interpreter flushes at exit (where it can only print 'Exception ignored ...').
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # Nothing more can reach the reader; stdout goes to devnull so that the interpreter's own
        # flush at exit finds nowhere to fail, and the command ends quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return SIGPIPE_EXIT


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        key: getattr(args, key, None)
        for key in ("host", "port", "token", "token_file", "trusted_network", "max_body_bytes", "allowed_hosts",
                    "read_only", "monitors", "gateway_config")
    }
    if getattr(args, "toolsets", None) is not None:
        overrides["toolsets"] = split_list(args.toolsets)
    if args.db is not None:
        overrides["db_path"] = args.db.expanduser()
    try:
        settings = settings_from_env(**overrides)
        return args.func(args, settings)
    except TraceJudgeError as exc:
        from mcp_server.terminal.tables import terminal_text

        _err(terminal_text(exc))  # it may quote what it was given (a filter, a trace's text)
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
