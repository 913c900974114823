"""The `gate` commands: create, list, show and check release gates over the same functions as the
gate tools (mcp_server.gates.service). `gate check` exits 0 (pass), 1 (warn) or 2 (block), so a CI
job can stop a release."""

from __future__ import annotations

import argparse
from typing import Any

from mcp_server.settings import Settings
from mcp_server.terminal.commands import AddCommand, database, json_option, operator_settings, print_answer
from store.errors import InvalidArgument

EXIT = {"pass": 0, "warn": 1, "block": 2}


def _policy(text: str) -> dict[str, Any]:
    judge, _, share = text.partition("=")
    try:
        return {"judge": judge.strip(), **({"min_share": float(share)} if share else {})}
    except ValueError:
        raise InvalidArgument(f"--policy {text!r} is JUDGE or JUDGE=SHARE (e.g. safety=0.99).") from None


def cmd_create(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gates.service import create_gate

    conditions = [{"condition": c, "max_drop": args.max_drop} for c in args.conditions or []]
    conditions += [{"condition": c, "level": "warn", "max_drop": args.max_drop} for c in args.warnings or []]
    with database(settings) as db:
        gate = create_gate(db, args.name, conditions=conditions, policies=[_policy(p) for p in args.policies or []],
                           baseline_run_id=args.baseline, description=args.description)  # fmt: skip
    print_answer(args, gate, lambda g: print(f"gate {g.name} version {g.version}: {len(g.conditions)} conditions, "
                                             f"{len(g.policies)} policies; judges {', '.join(g.judges)}."))  # fmt: skip
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gates.service import list_gates
    from mcp_server.terminal.tables import Column, print_listing

    with database(settings) as db:
        result = list_gates(db)
    if args.json:
        print_answer(args, result, print)
        return 0
    columns = (Column("name"), Column("version", justify="right"), Column("conditions", fit="wrap"),
               Column("policies", fit="wrap", drop=1))  # fmt: skip
    rows = [(g.name, str(g.version), "\n".join(f"{c.condition} ({c.level})" for c in g.conditions),
             "\n".join(f"{p.judge} >= {p.min_share:.0%} ({p.level})" for p in g.policies)) for g in result.gates]  # fmt: skip
    print_listing(columns, rows, empty="no gates; create one with `tracejudge gate create NAME --condition ...`.")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from mcp_server.gates.service import get_gate

    with database(settings) as db:
        gate = get_gate(db, args.name, args.version)
    print_answer(args, gate, lambda g: print(g.model_dump_json(indent=2)))
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    import anyio

    from mcp_server.gates.service import check_gate

    settings = operator_settings(settings)
    with database(settings) as db:
        report = anyio.run(lambda: check_gate(
            db, args.name, settings=settings, version=args.version, run_id=args.run, filter_string=args.filter,
            dataset=args.dataset, target=args.target, max_cost_usd=args.max_cost,
            server=args.judge_server(settings, db), allow_import=True,
        ))  # fmt: skip
    print_answer(args, report, _show_report)
    return EXIT[report.decision]


def _show_report(report: Any) -> None:
    print(f"gate {report.gate} v{report.version} on run {report.run_id}: {report.decision.upper()}")
    for check in report.checks:
        mark = "ok  " if check.passed else ("WARN" if check.level == "warn" else "FAIL")
        print(f"  {mark} {check.what}: {check.message}")
        for trace_id in check.broken_traces:
            print(f"         {trace_id}")


def register_gate_commands(sub: Any, add: AddCommand) -> None:
    """Add `gate create|list|show|check` to the top-level subparsers `sub`."""
    help = "Release gates: metric judges with thresholds and policy judges; `gate check` exits 0/1/2."
    parser = sub.add_parser("gate", help=help, description=help)
    group = parser.add_subparsers(dest="gate_command", required=True, metavar="SUBCOMMAND")
    create = add(group, "create", cmd_create, "Store a gate (the next version of its name).")
    create.add_argument("name")
    create.add_argument("--condition", dest="conditions", action="append", metavar="CONDITION",
                        help="blocks when it fails, e.g. 'correctness/mean >= 0.8' (repeatable)")  # fmt: skip
    create.add_argument("--warn", dest="warnings", action="append", metavar="CONDITION",
                        help="warns when it fails (repeatable)")  # fmt: skip
    create.add_argument("--policy", dest="policies", action="append", metavar="JUDGE[=SHARE]",
                        help="a judge that must pass on every trace, or on SHARE of them (repeatable)")  # fmt: skip
    create.add_argument("--baseline", default=None, metavar="RUN_ID", help="the run the conditions compare with")
    create.add_argument("--max-drop", type=float, default=None, help="how far from the baseline a metric may move the wrong way")
    create.add_argument("--description", default="")
    json_option(create, "CreateGate")
    listing = add(group, "list", cmd_list, "List the gates at their latest versions.")
    json_option(listing, "ListGates")
    show = add(group, "show", cmd_show, "Show a gate.")
    show.add_argument("name")
    show.add_argument("--version", type=int, default=None)
    json_option(show, "GetGate")
    check = add(group, "check", cmd_check, "Check a gate on a run, or on a run of its judges it makes first.")
    check.add_argument("name")
    check.add_argument("--version", type=int, default=None)
    what = check.add_mutually_exclusive_group(required=True)
    what.add_argument("--run", default=None, metavar="RUN_ID", help="an evaluation run to check")
    what.add_argument("--filter", default=None, help="evaluate the gate's judges over these traces first")
    what.add_argument("--dataset", default=None, help="run --target on this dataset and judge it first")
    check.add_argument("--target", default=None, help="the agent, module:function (with --dataset)")
    check.add_argument("--max-cost", type=float, default=None, help="USD budget of the evaluation it runs")
    json_option(check, "CheckGate")
