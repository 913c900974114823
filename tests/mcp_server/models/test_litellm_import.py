"""litellm is imported on first use only, with the local price map, and never at server startup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_importing_the_server_the_cli_and_the_model_layer_does_not_import_litellm() -> None:
    result = run_python(
        "import sys\n"
        "import mcp_server.cli, mcp_server.server, mcp_server.models, mcp_server.models.completion\n"
        "from mcp_server.models import ModelSettings, complete, normalize_model_name\n"
        "normalize_model_name('openai:/gpt-4o-mini'); ModelSettings(judge_model='openai/x')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('litellm', 'openai', 'tiktoken'))\n"
        "assert not loaded, loaded\n"
    )
    assert result.returncode == 0, result.stderr


def test_the_first_use_imports_litellm_with_its_local_price_map() -> None:
    result = run_python(
        "import os, sys\n"
        "from mcp_server.models.litellm_import import load_litellm\n"
        "litellm = load_litellm()\n"
        "assert load_litellm() is litellm\n"
        "assert os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] == 'True'\n"
        "assert litellm.suppress_debug_info is True\n"
        "assert 'gpt-4o-mini' in litellm.model_cost\n"
    )
    assert result.returncode == 0, result.stderr


CALL_WITH_ROOT_AT_INFO = (
    "import asyncio, logging\n"
    "logging.basicConfig(level=logging.INFO)  # what the MCP SDK's server does at startup\n"
    "from mcp_server.models import ModelSettings, complete\n"
    "from tests.support.scripted_openai import ScriptedOpenAI, text\n"
    "async def main():\n"
    "    with ScriptedOpenAI() as server:\n"
    "        server.push(text('ok'))\n"
    "        await complete([{'role': 'user', 'content': 'hi'}], model='openai/gpt-4o-mini',\n"
    "                       api_base=server.url, api_key='sk-scripted', settings=ModelSettings(allowed_models=None))\n"
    "asyncio.run(main())\n"
)


def test_litellm_logs_no_line_per_call_when_the_root_logger_is_at_info() -> None:
    result = run_python(CALL_WITH_ROOT_AT_INFO)

    assert result.returncode == 0, result.stderr
    assert "LiteLLM" not in result.stderr, result.stderr


def test_litellm_log_set_by_the_user_still_turns_litellm_logging_on() -> None:
    result = run_python(f"import os; os.environ['LITELLM_LOG'] = 'INFO'\n{CALL_WITH_ROOT_AT_INFO}")

    assert result.returncode == 0, result.stderr
    assert "LiteLLM completion() model= gpt-4o-mini" in result.stderr


def test_a_level_the_user_set_on_litellm_s_logger_is_kept() -> None:
    result = run_python(
        "import logging\n"
        "logging.getLogger('LiteLLM').setLevel(logging.DEBUG)\n"
        "from mcp_server.models.litellm_import import load_litellm\n"
        "load_litellm()\n"
        "assert logging.getLogger('LiteLLM').level == logging.DEBUG\n"
        "assert logging.getLogger('LiteLLM Router').level == logging.WARNING\n"
    )
    assert result.returncode == 0, result.stderr
