"""Which models a client's judges may call: the operator's allow-list (TRACEJUDGE_ALLOWED_MODELS;
by default the configured judge model and 'sampling'), enforced for MCP clients on every path
that names a model, never for the operator's own CLI; and no model name carries a URL."""

from __future__ import annotations

import pytest

from mcp_server.cli import main
from mcp_server.settings import Settings, settings_from_env
from store import Database
from store import judges as store_judges
from tests.mcp_server.traces.builders import TRACE_ID, small_trace
from tests.support.mcp_session import session
from tests.support.scripted_openai import ScriptedOpenAI

REFUSED = "is not one this server calls for a client"


@pytest.mark.parametrize("model", ["anthropic/claude-sonnet-4-5", "anthropic:/claude-sonnet-4-5", "ollama/llama3"])
async def test_create_judge_refuses_a_model_the_operator_did_not_allow_naming_the_allowed_ones(
    db: Database, settings: Settings, model: str
) -> None:
    async with session(db, settings) as s:
        refused = await s.error("CreateJudge", name="tone", instructions="Polite? {{ outputs }}", model=model)
        assert REFUSED in refused
        assert "'openai/gpt-4o-mini'" in refused and "'sampling'" in refused and "TRACEJUDGE_ALLOWED_MODELS" in refused
        for allowed in ("openai:/gpt-4o-mini", "sampling"):
            await s.call("CreateJudge", name="tone", instructions="Polite? {{ outputs }}", model=allowed)


@pytest.mark.parametrize(
    "model", ["openai:/http://127.0.0.1:9/v1", "huggingface/https://evil.example/model", "openai/HTTP://x"]
)
async def test_a_model_name_never_carries_a_url(db: Database, model: str) -> None:
    listed = Settings().model_copy(update={"models": Settings().models.model_copy(update={"allowed_models": None})})
    async with session(db, listed) as s:
        refused = await s.error("CreateJudge", name="tone", instructions="Polite? {{ outputs }}", model=model)
    assert "URL" in refused and "TRACEJUDGE_JUDGE_API_BASE" in refused


async def test_a_stored_judge_on_a_model_not_allowed_is_refused_when_it_runs_and_nothing_is_sent(
    db: Database, settings: Settings, scripted_openai: ScriptedOpenAI
) -> None:
    small_trace(db)
    # Stored by the operator's CLI, or before the allow-list existed; it would POST to localhost:11434.
    store_judges.create_judge_version(db, "local", "Polite? {{ outputs }}", output={"kind": "bool"}, model="ollama/llama3")
    async with session(db, settings) as s:
        refused = await s.error("RunJudge", judge="local", trace_id=TRACE_ID)
        assert REFUSED in refused and "'ollama/llama3'" in refused
        assert (await s.call("ListAssessments", trace_id=TRACE_ID))["assessments"] == []
    assert scripted_openai.requests == []


async def test_reflection_models_are_held_to_the_same_list(db: Database, settings: Settings) -> None:
    async with session(db, settings) as s:
        align = await s.error("AlignJudge", judge="tone", reflection_model="anthropic/claude-opus-4")
        optimize = await s.error(
            "OptimizePrompt", prompt="router", dataset="d", judges=["latency"],
            target="mcp_server.demo_target:answer", reflection_model="anthropic/claude-opus-4",
        )
    assert REFUSED in align and REFUSED in optimize and "'anthropic/claude-opus-4'" in align


def test_the_allow_list_comes_from_the_environment_normalized_with_the_judge_model_always_allowed() -> None:
    settings = settings_from_env({
        "TRACEJUDGE_JUDGE_MODEL": "openai:/gpt-4o-mini",
        "TRACEJUDGE_ALLOWED_MODELS": "anthropic:/claude-sonnet-4-5, sampling,",
    })
    assert settings.models.allowed_models == ("anthropic/claude-sonnet-4-5", "sampling")
    assert settings_from_env({}).models.allowed_models == ("sampling",)
    with pytest.raises(Exception, match="URL"):
        settings_from_env({"TRACEJUDGE_ALLOWED_MODELS": "openai:/http://evil.example/v1"})


def test_the_operators_cli_may_name_any_model(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "cli.db")
    assert main(["judge", "create", "tone", "--instructions", "Polite? {{ outputs }}",
                 "--model", "anthropic:/claude-sonnet-4-5", "--db", db]) == 0
    assert "anthropic:/claude-sonnet-4-5" in capsys.readouterr().out
