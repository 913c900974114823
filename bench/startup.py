"""What starting costs: a CLI command before it does anything, and building the MCP servers.

    .venv/bin/python -m bench.startup [--runs 5]

Prints, each the median of --runs fresh interpreters:
- `import mcp_server.cli` and building its parser (what every `tracejudge` command does before it
  runs), and whether that loaded the MCP SDK or litellm (neither should: a command that calls no
  model must not pay for them);
- `tracejudge --help` end to end (the interpreter's own start included);
- building `create_server` (all tools) and `investigation_server` (the read-only trace tools an agent
  judge investigates through) over an empty store, in one warm interpreter: what the CLI paid per
  agent judgment before issue 9 gave each command one server made on first use.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT_PROBE = """
import sys, time
start = time.perf_counter()
import mcp_server.cli
mcp_server.cli.build_parser()
print(time.perf_counter() - start, 'mcp' in sys.modules, 'litellm' in sys.modules)
"""

BUILD_PROBE = """
import json, sys, time
from mcp_server.server import create_server, investigation_server
from mcp_server.settings import Settings
from mcp_server.terminal.commands import open_database
settings = Settings(db_path=sys.argv[1])
db = open_database(settings)
figures = {}
for name, build in (("create_server", create_server), ("investigation_server", investigation_server)):
    build(settings, db)  # the first build pays lazy imports; the figure is the steady cost
    times = []
    for _ in range(int(sys.argv[2])):
        start = time.perf_counter()
        build(settings, db)
        times.append(time.perf_counter() - start)
    times.sort()
    figures[name] = times[len(times) // 2]
db.close()
print(json.dumps(figures))
"""


def _median_run(command: list[str], runs: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    imports = [subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True)
               .stdout.split() for _ in range(args.runs)]  # fmt: skip
    import_s = statistics.median(float(seconds) for seconds, _, _ in imports)
    loaded_mcp, loaded_litellm = imports[-1][1], imports[-1][2]
    script = Path(sys.executable).with_name("tracejudge")
    help_s, _ = _median_run([str(script), "--help"], args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", BUILD_PROBE, str(Path(tmp) / "bench.db"), str(args.runs)],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    builds = json.loads(out)

    print(f"{'figure':<44} {'median':>10}")
    print(f"{'import mcp_server.cli, build the parser':<44} {import_s * 1000:>8.0f} ms  (MCP SDK loaded: {loaded_mcp}, "
          f"litellm loaded: {loaded_litellm})")
    print(f"{'tracejudge --help, end to end':<44} {help_s * 1000:>8.0f} ms")
    for name, seconds in builds.items():
        print(f"{'build ' + name:<44} {seconds * 1000:>8.1f} ms")


if __name__ == "__main__":
    main()
