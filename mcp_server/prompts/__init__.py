"""The prompt registry above the store: load_prompt and format for agents, the hooks evaluation
and optimization wrap around a target (use_database, record_loaded_prompts, override_prompt),
and diffs between versions.

    from mcp_server.prompts import load_prompt

    prompt = load_prompt("prompts:/router@production")
    text = prompt.format(question="My bill is wrong")
"""

from mcp_server.prompts.diff import PromptDiff, diff_prompt_versions
from mcp_server.prompts.loading import (
    LoadedPrompt,
    PromptVersion,
    close_default_databases,
    load_prompt,
    override_prompt,
    record_loaded_prompts,
    use_database,
)
from mcp_server.prompts.template import format_template, template_text
from mcp_server.prompts.uri import PromptRef, parse_prompt_ref

__all__ = [
    "LoadedPrompt",
    "PromptDiff",
    "PromptRef",
    "PromptVersion",
    "close_default_databases",
    "diff_prompt_versions",
    "format_template",
    "load_prompt",
    "override_prompt",
    "parse_prompt_ref",
    "record_loaded_prompts",
    "template_text",
    "use_database",
]
