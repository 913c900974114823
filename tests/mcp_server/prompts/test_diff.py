"""diff_prompt_versions: a unified diff of two versions' templates and what changed around it."""

from __future__ import annotations

import pytest

from mcp_server.prompts import diff_prompt_versions
from store import Database
from store.errors import PromptNotFound
from store.prompts import register_prompt_version


def test_text_versions_diff_line_by_line_with_variables_and_messages(db: Database) -> None:
    register_prompt_version(db, "router", "Route {{ question }}.\nBe brief.", commit_message="first")
    register_prompt_version(db, "router", "Route {{ question }} for {{ customer }}.\nBe brief.", commit_message="add customer")
    diff = diff_prompt_versions(db, "router", 1, 2)
    assert diff.diff.splitlines() == [
        "--- prompts:/router/1",
        "+++ prompts:/router/2",
        "@@ -1,2 +1,2 @@",
        "-Route {{ question }}.",
        "+Route {{ question }} for {{ customer }}.",
        " Be brief.",
        "\\ No newline at end of file",
    ]
    assert (diff.variables_added, diff.variables_removed, diff.identical) == (["customer"], [], False)
    assert (diff.from_commit_message, diff.to_commit_message) == ("first", "add customer")
    backwards = diff_prompt_versions(db, "router", 2, 1)
    assert (backwards.variables_added, backwards.variables_removed) == ([], ["customer"])


def test_chat_versions_diff_as_role_blocks_and_a_kind_change_is_reported(db: Database) -> None:
    register_prompt_version(db, "p", "Answer {{ q }}")
    register_prompt_version(db, "p", [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Answer {{ q }}"}])
    register_prompt_version(db, "p", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Answer {{ q }}"}])
    kind_change = diff_prompt_versions(db, "p", 1, 2)
    assert (kind_change.from_kind, kind_change.to_kind) == ("text", "chat")
    chat = diff_prompt_versions(db, "p", 2, 3).diff
    assert "-Be kind.\n+Be brief.\n" in chat and " system:\n" in chat and " user:\n" in chat
    same = diff_prompt_versions(db, "p", 3, 3)
    assert same.identical and same.diff == ""


def test_diff_of_a_missing_version_names_it(db: Database) -> None:
    register_prompt_version(db, "p", "x")
    with pytest.raises(PromptNotFound, match="version 2 of prompt 'p'"):
        diff_prompt_versions(db, "p", 1, 2)
