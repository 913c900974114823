"""The shipped agent skills, as a coding agent meets them: installed by `tracejudge skills install`
into a fresh project, listed by `skills list --json`, their MCP calls naming real tools and
arguments, and every command block run as written against the demo store.

How the blocks run: in document order, each skill on its own fresh `tracejudge demo` store, in one
temporary directory. A ```bash block runs in bash (-e, pipefail) with TRACEJUDGE_DB naming the store,
the `tracejudge` console script on PATH and the judge model served by the scripted OpenAI-compatible
server (tests/support/northwind.py's models, which know the demo's routing). A ```mcp block holds
one `Tool(argument=value)` call a line, made through the real MCP client on the same store.
Placeholders are resolved from the store just before their block runs, the way the skills say to
get them:
  <trace-id>        the first trace `tracejudge traces "trace.error_count > 0" --json` lists
  <span-id>         that trace's first ERROR span in `tracejudge show <trace-id> --json`
  <run-id>          the newest run in `tracejudge runs list --json`; <earlier-run-id> the one before
Any other <placeholder> fails the test, so a new one is added here with its rule.
The one thing a person does in the loop, labeling traces, is done before the improve skill's
agreement step (PEOPLE_LABEL_BEFORE), as the skill states it as a precondition.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_server.judges.trace_data import root_inputs_outputs
from mcp_server.server import create_server
from mcp_server.settings import Settings
from mcp_server.skills import DESCRIPTION_MAX, NAME_MAX, NAME_RULE, bundled_skills, parse_frontmatter
from store import Database
from tests.support.mcp_session import Session, session
from tests.support.northwind import ScriptedModels, question_of, truth
from tests.support.processes import TRACEJUDGE
from tests.support.scripted_openai import ScriptedOpenAI, scripted_openai, scripted_settings

__all__ = ["scripted_openai"]

SKILLS = {skill.name: skill for skill in bundled_skills()}
BLOCK = re.compile(r"^```(bash|mcp)\n(.*?)^```", re.DOTALL | re.MULTILINE)
INLINE_CALL = re.compile(r"`([A-Z][A-Za-z]+)\((.*?)\)`")
PLACEHOLDER = re.compile(r"<([a-z][a-z-]*)>")
PEOPLE_LABEL_BEFORE = {"tracejudge-improve-agent": "tracejudge judge agreement"}


def _environment(store: Path, models: ScriptedOpenAI | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACEJUDGE_")}
    env["PATH"] = f"{Path(TRACEJUDGE).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TRACEJUDGE_DB"] = str(store)
    if models is not None:
        env |= {"TRACEJUDGE_JUDGE_MODEL": "openai:/gpt-4o-mini", "TRACEJUDGE_JUDGE_API_BASE": models.url,
                "TRACEJUDGE_JUDGE_API_KEY": "sk-scripted"}  # fmt: skip
    return env


async def _run(command: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    with anyio.fail_after(300):
        return await anyio.run_process(command, cwd=cwd, env=env, check=False)


async def _cli_json(env: dict[str, str], *args: str) -> Any:
    done = await _run([TRACEJUDGE, *args, "--json"], env)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


async def _resolve(text: str, env: dict[str, str]) -> str:
    """`text` with each placeholder replaced by its value in the store now (the module docstring)."""
    values: dict[str, str] = {}
    for name in dict.fromkeys(PLACEHOLDER.findall(text)):
        if name in ("trace-id", "span-id"):
            values["trace-id"] = (await _cli_json(env, "traces", "trace.error_count > 0"))["traces"][0]["trace_id"]
            if name == "span-id":
                spans = (await _cli_json(env, "show", values["trace-id"]))["spans"]["spans"]
                values[name] = next(s["span_id"] for s in spans if s["status"] == "ERROR")
        elif name in ("run-id", "earlier-run-id"):
            runs = (await _cli_json(env, "runs", "list"))["runs"]
            values[name] = runs[0 if name == "run-id" else 1]["run_id"]
        else:
            pytest.fail(f"placeholder <{name}> has no rule in this test's docstring; add one")
    return PLACEHOLDER.sub(lambda m: values[m[1]], text)


def _calls(text: str) -> list[tuple[str, dict[str, Any]]]:
    """The `Tool(argument=value)` calls in `text`, one a line, with their literal arguments."""
    calls = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        call = ast.parse(line, mode="eval").body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and not call.args, line
        calls.append((call.func.id, {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}))
    return calls


async def _label_as_people(client: Session, db: Database, env: dict[str, str]) -> None:
    """What the person of the loop does: labels the traces of the two newest runs with the truth."""
    traces = []
    for run in (await _cli_json(env, "runs", "list"))["runs"][:2]:
        traces += [r["trace_id"] for r in (await _cli_json(env, "runs", "show", run["run_id"], "--limit", "200"))["results"]]
    for trace_id in traces:
        inputs, outputs = root_inputs_outputs(db, trace_id)
        right = outputs["specialist"] == truth(question_of(json.dumps(inputs)))
        await client.call("LogFeedback", trace_id=trace_id, name="routing", value="yes" if right else "no",
                          source_type="HUMAN", source_id="expert")  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SKILLS))
async def test_every_command_block_of_the_skill_runs_as_written_on_the_demo_store(
    name: str, tmp_path: Path, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.respond_with(ScriptedModels())
    store = tmp_path / "demo.db"
    env = _environment(store, scripted_openai)
    assert (await _run([TRACEJUDGE, "demo"], env)).returncode == 0
    blocks = BLOCK.findall(SKILLS[name].text)
    assert any(kind == "bash" for kind, _ in blocks), f"{name} shows no command"
    db = Database(store)
    try:
        async with session(db, scripted_settings(scripted_openai).model_copy(update={"db_path": store})) as client:
            for kind, body in blocks:
                if name in PEOPLE_LABEL_BEFORE and PEOPLE_LABEL_BEFORE[name] in body:
                    await _label_as_people(client, db, env)
                body = await _resolve(body, env)
                if kind == "mcp":
                    for tool, arguments in _calls(body):
                        await client.call(tool, **arguments)
                    continue
                done = await _run(["bash", "-e", "-o", "pipefail", "-c", body], env, cwd=tmp_path)
                error = done.stderr.decode()[-3000:]
                assert done.returncode == 0, f"{name}: this block failed:\n{body}\nstderr:\n{error}"
    finally:
        db.close()
    assert not scripted_openai.problems


async def test_every_mcp_call_in_the_skills_names_a_real_tool_with_real_arguments(tmp_path: Path) -> None:
    db = Database(tmp_path / "tools.db")
    try:
        listed = await create_server(Settings(db_path=tmp_path / "tools.db"), db).list_tools()
    finally:
        db.close()
    tools = {tool.name: tool.input_schema for tool in listed}
    for skill in SKILLS.values():
        checked = 0
        mcp_blocks = "\n".join(body for kind, body in BLOCK.findall(skill.text) if kind == "mcp")
        # `Tool(argument=value)` itself is the notation each skill explains, not a call
        inline = [f"{tool}({args})" for tool, args in INLINE_CALL.findall(skill.text) if tool != "Tool"]
        for tool, arguments in _calls(mcp_blocks + "\n" + "\n".join(inline)):
            assert tool in tools, f"{skill.name} calls {tool}, which the server does not have"
            schema = tools[tool]
            unknown = set(arguments) - set(schema.get("properties", {}))
            missing = set(schema.get("required", [])) - set(arguments)
            assert not unknown and not missing, f"{skill.name}: {tool} with unknown {unknown} or missing {missing}"
            checked += 1
        assert checked >= 5, f"{skill.name} names {checked} MCP calls"  # a regex that stopped matching checks none


def test_skills_install_into_a_fresh_project_writes_valid_skill_files(tmp_path: Path) -> None:
    env = _environment(tmp_path / "unused.db")
    done = subprocess.run([TRACEJUDGE, "skills", "install"], cwd=tmp_path, env=env, check=False, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    folders = sorted((tmp_path / ".claude" / "skills").iterdir())
    assert [f.name for f in folders] == sorted(SKILLS) and len(folders) == 4
    for folder in folders:
        fields = parse_frontmatter((folder / "SKILL.md").read_text(encoding="utf-8"))
        assert fields["name"] == folder.name and NAME_RULE.fullmatch(fields["name"]) and len(fields["name"]) <= NAME_MAX
        assert 0 < len(fields["description"]) <= DESCRIPTION_MAX
        assert f"wrote {Path('.claude') / 'skills' / folder.name / 'SKILL.md'}" in done.stdout
    assert not (tmp_path / "unused.db").exists()  # listing and installing never open a store


def test_skills_install_refuses_to_replace_files_unless_forced_naming_them(tmp_path: Path) -> None:
    env = _environment(tmp_path / "unused.db")
    target = tmp_path / "agents"
    edited = target / "tracejudge-judge-traces" / "SKILL.md"
    edited.parent.mkdir(parents=True)
    edited.write_text("my edits")

    def install(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([TRACEJUDGE, "skills", "install", "--dir", str(target), *args], cwd=tmp_path, env=env, check=False,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    refused = install()
    assert refused.returncode == 2 and refused.stdout == ""
    assert str(edited) in refused.stderr and "--force" in refused.stderr
    assert edited.read_text() == "my edits" and sorted(p.name for p in target.iterdir()) == [edited.parent.name]
    forced = install("--force")
    assert forced.returncode == 0 and f"wrote {edited}" in forced.stdout
    assert edited.read_text() == SKILLS["tracejudge-judge-traces"].text


def test_skills_list_json_gives_each_name_and_description(tmp_path: Path) -> None:
    done = subprocess.run([TRACEJUDGE, "skills", "list", "--json"], env=_environment(tmp_path / "unused.db"),
                          check=False, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["skills"]
    assert listed == [{"name": s.name, "description": s.description} for s in SKILLS.values()]


@pytest.mark.parametrize(
    "frontmatter",
    ["name: x\ndescription: y", "---\nname: 'quoted'\ndescription: y\n---\n", "---\nname x\n---\n"],
)
def test_a_frontmatter_the_small_reader_would_misread_is_refused(frontmatter: str) -> None:
    with pytest.raises(ValueError):
        parse_frontmatter(frontmatter)
