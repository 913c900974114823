"""What changed between two versions of a prompt: a unified diff of their templates (chat
messages shown as 'role:' blocks) and the changes around it (kind, variables, commit messages)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_server.prompts.template import template_text
from mcp_server.prompts.uri import SCHEME
from mcp_server.tooling.text_diff import unified_line_diff
from store import Database
from store.prompts import PromptKind, get_prompt_version


class PromptDiff(BaseModel):
    name: str
    from_version: int
    to_version: int
    identical: bool = Field(description="True when the two templates are the same text.")
    diff: str = Field(description="Unified diff of the templates (chat messages as 'role:' blocks); '' when identical.")
    from_kind: PromptKind
    to_kind: PromptKind
    variables_added: list[str]
    variables_removed: list[str]
    from_commit_message: str
    to_commit_message: str


def diff_prompt_versions(db: Database, name: str, from_version: int, to_version: int) -> PromptDiff:
    """The diff from version `from_version` to `to_version` of prompt `name`; PromptNotFound if
    either is not stored."""
    old = get_prompt_version(db, name, from_version)
    new = get_prompt_version(db, name, to_version)
    old_text, new_text = template_text(old.template), template_text(new.template)
    diff = unified_line_diff(
        old_text, new_text, fromfile=f"{SCHEME}{name}/{from_version}", tofile=f"{SCHEME}{name}/{to_version}"
    )
    return PromptDiff(
        name=name,
        from_version=from_version,
        to_version=to_version,
        identical=old.template == new.template,
        diff=diff,
        from_kind=old.kind,
        to_kind=new.kind,
        variables_added=[v for v in new.variables if v not in old.variables],
        variables_removed=[v for v in old.variables if v not in new.variables],
        from_commit_message=old.commit_message,
        to_commit_message=new.commit_message,
    )
