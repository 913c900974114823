"""The prompt registry tools through the in-process MCP client."""

from __future__ import annotations

from store import Database
from store.evaluations import create_run
from store.prompts import link_run_prompt
from tests.support.mcp_session import session

CHAT = [
    {"role": "system", "content": "You route telecom support requests."},
    {"role": "user", "content": "Route: {{ request }}"},
]
TOOLS = ("RegisterPrompt", "GetPrompt", "ListPrompts", "ListPromptVersions", "SetPromptAlias", "DiffPromptVersions")


async def test_tools_are_listed_with_descriptions_examples_and_honest_annotations(db: Database) -> None:
    async with session(db) as s:
        listed = {t.name: t for t in (await s.client.list_tools()).tools}
    for name in TOOLS:
        assert "Example: " + name in listed[name].description
    for name in ("GetPrompt", "ListPrompts", "ListPromptVersions", "DiffPromptVersions"):
        assert listed[name].annotations.read_only_hint
    assert not listed["RegisterPrompt"].annotations.read_only_hint
    assert listed["SetPromptAlias"].annotations.destructive_hint


async def test_register_get_and_alias_a_prompt_through_the_client(db: Database) -> None:
    async with session(db) as s:
        first = await s.call("RegisterPrompt", name="router", template="Route {{ request }} to a team.",
                             commit_message="first", description="Routes support requests")
        second = await s.call("RegisterPrompt", name="router", template=CHAT, commit_message="as chat",
                              tags={"author": "ana"})
        assert (first["version"], first["uri"], first["variables"]) == (1, "prompts:/router/1", ["request"])
        assert (second["version"], second["kind"], second["template"]) == (2, "chat", CHAT)

        moved = await s.call("SetPromptAlias", name="router", alias="production", version=1)
        assert (moved["previous_version"], moved["uri"]) == (None, "prompts:/router@production")
        assert (await s.call("SetPromptAlias", name="router", alias="production", version=2))["previous_version"] == 1

        by_alias = await s.call("GetPrompt", name_or_uri="prompts:/router@production")
        assert by_alias["prompt_version"]["version"] == 2 and by_alias["prompt_version"]["aliases"] == ["production"]
        assert by_alias["description"] == "Routes support requests" and by_alias["aliases"] == {"production": 2}
        old = await s.call("GetPrompt", name_or_uri="router", version=1)
        assert old["prompt_version"]["template"] == "Route {{ request }} to a team." and old["latest_version"] == 2
        assert (await s.call("GetPrompt", name_or_uri="prompts:/router"))["prompt_version"]["tags"] == {"author": "ana"}


async def test_get_and_list_versions_show_the_evaluation_runs_that_used_each_version(db: Database) -> None:
    async with session(db) as s:
        await s.call("RegisterPrompt", name="router", template="v1 {{ request }}")
        await s.call("RegisterPrompt", name="router", template="v2 {{ request }}")
        run = create_run(db, judges=[], trace_ids=[], name="router v2 on telecom")
        link_run_prompt(db, run.run_id, "router", 2)
        detail = await s.call("GetPrompt", name_or_uri="prompts:/router/2")
        assert detail["run_count"] == 1 and detail["runs"][0]["run_id"] == run.run_id
        assert detail["runs"][0]["name"] == "router v2 on telecom"
        assert (await s.call("GetPrompt", name_or_uri="prompts:/router/1"))["runs"] == []
        versions = await s.call("ListPromptVersions", name="router")
        assert [(v["version"], v["run_count"], v["recent_run_ids"]) for v in versions["versions"]] == [
            (2, 1, [run.run_id]),
            (1, 0, []),
        ]


async def test_lists_page_with_tokens(db: Database) -> None:
    async with session(db) as s:
        for name in ("c", "a", "b"):
            await s.call("RegisterPrompt", name=name, template=f"{name} " + "x" * 500)
        for _ in range(2):
            await s.call("RegisterPrompt", name="a", template="a again {{ v }}", commit_message="m" * 1000)
        page = await s.call("ListPrompts", max_results=2)
        assert [p["name"] for p in page["prompts"]] == ["a", "b"] and page["total"] == 3
        rest = await s.call("ListPrompts", max_results=2, page_token=page["next_page_token"])
        assert [p["name"] for p in rest["prompts"]] == ["c"] and rest["next_page_token"] is None
        versions = await s.call("ListPromptVersions", name="a", max_results=2)
        assert [v["version"] for v in versions["versions"]] == [3, 2] and versions["total"] == 3
        assert len(versions["versions"][0]["commit_message"]) == 300
        last = await s.call("ListPromptVersions", name="a", max_results=2, page_token=versions["next_page_token"])
        assert [v["version"] for v in last["versions"]] == [1] and last["versions"][0]["template_preview"].endswith("…")
        wrong = await s.error("ListPromptVersions", name="b", max_results=2, page_token=versions["next_page_token"])
        assert "other arguments" in wrong


async def test_diff_shows_the_change_and_cuts_a_long_one_with_a_notice(db: Database) -> None:
    async with session(db) as s:
        await s.call("RegisterPrompt", name="router", template="Route {{ request }}.\nBe brief.")
        await s.call("RegisterPrompt", name="router", template="Route {{ request }} for {{ plan }}.\nBe brief.")
        diff = await s.call("DiffPromptVersions", name="router", from_version=1, to_version=2)
        assert "-Route {{ request }}.\n+Route {{ request }} for {{ plan }}.\n" in diff["diff"]
        assert diff["variables_added"] == ["plan"] and diff["notices"] == []
        await s.call("RegisterPrompt", name="router", template="\n".join(f"line {i}" for i in range(5000)))
        long = await s.call("DiffPromptVersions", name="router", from_version=2, to_version=3, max_content_length=1000)
        assert 500 < len(long["diff"]) <= 1000 and long["diff"].endswith("+…")
        assert "diff is cut to 1,000" in long["notices"][0]
        assert "GetPrompt(name_or_uri='prompts:/router/3')" in long["notices"][1]


async def test_bad_input_comes_back_as_tool_errors_that_say_what_to_do(db: Database) -> None:
    async with session(db) as s:
        assert "call ListPrompts" in await s.error("GetPrompt", name_or_uri="router")
        await s.call("RegisterPrompt", name="router", template="x")
        assert "reserved" in await s.error("SetPromptAlias", name="router", alias="latest", version=1)
        assert "ListPromptVersions(name='router')" in await s.error("SetPromptAlias", name="router", alias="prod", version=7)
        assert "role 'boss'" in await s.error("RegisterPrompt", name="router", template=[{"role": "boss", "content": "x"}])
        assert "template is empty" in await s.error("RegisterPrompt", name="router", template="")
        assert "no '/' or '@'" in await s.error("RegisterPrompt", name="a/b", template="x")
        assert "does not end in a version number" in await s.error("GetPrompt", name_or_uri="prompts:/router/latest")
        assert "version 5 of prompt 'router'" in await s.error("DiffPromptVersions", name="router", from_version=1, to_version=5)
        assert (await s.call("ListPromptVersions", name="router"))["total"] == 1
