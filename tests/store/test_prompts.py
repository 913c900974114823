"""store.prompts: immutable numbered versions, aliases that move, and the runs that used a version."""

from __future__ import annotations

import threading

import pytest

from store import Database
from store.errors import InvalidArgument, PromptNotFound
from store.evaluations import create_run
from store.prompts import (
    MAX_TEMPLATE_CHARS,
    delete_prompt_alias,
    get_prompt,
    get_prompt_by_alias,
    get_prompt_version,
    latest_prompt_version,
    link_run_prompt,
    list_prompt_versions,
    list_prompts,
    register_prompt_version,
    runs_using,
    set_prompt_alias,
    template_variables,
)

CHAT = [
    {"role": "system", "content": "You route {{ topic }} requests for {{company}}."},
    {"role": "user", "content": "{{ question }} (about {{ topic }})"},
]


def test_versions_are_numbered_from_one_and_keep_what_was_registered(db: Database) -> None:
    first = register_prompt_version(db, "router", "Route {{ question }}.", commit_message="first",
                                    tags={"team": "support"}, description="Routes requests")
    second = register_prompt_version(db, "router", CHAT, commit_message="as chat", parent_version=1,
                                     metadata={"score": 0.9})
    assert (first.version, first.kind, first.variables) == (1, "text", ["question"])
    assert (second.version, second.kind, second.variables) == (2, "chat", ["topic", "company", "question"])
    assert get_prompt_version(db, "router", 1).model_dump() == first.model_dump()
    stored = get_prompt_version(db, "router", 2)
    assert stored.template == CHAT and stored.parent_version == 1 and stored.metadata == {"score": 0.9}
    assert latest_prompt_version(db, "router").version == 2
    prompt = get_prompt(db, "router")
    assert (prompt.description, prompt.latest_version) == ("Routes requests", 2)


def test_concurrent_registrations_never_share_a_version(db: Database) -> None:
    threads = [threading.Thread(target=register_prompt_version, args=(db, "p", f"v{i} {{{{ x }}}}")) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions, total = list_prompt_versions(db, "p", limit=100)
    assert total == 8 and [v.version for v in versions] == list(range(8, 0, -1))


def test_template_variables_are_identifiers_in_double_braces_and_other_braces_are_text() -> None:
    assert template_variables("{{a}} {{ b }} {{  a }} {{ not a var }} {{x.y}} {single} {{_c1}}") == ["a", "b", "_c1"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("   ", "template is empty"),
        ([], "at least one message"),
        ([{"role": "user"}], "exactly 'role' and 'content'"),
        ([{"role": "boss", "content": "x"}], "system, developer, user, assistant, tool"),
        ([{"role": "user", "content": 3}], "content must be a string"),
        ({"role": "user"}, r"a string \(a text prompt\) or a list of messages"),
        ("x" * (MAX_TEMPLATE_CHARS + 1), "over the limit of 100,000"),
    ],
)
def test_invalid_templates_are_refused_saying_what_a_valid_one_is(db: Database, template: object, expected: str) -> None:
    with pytest.raises(InvalidArgument, match=expected):
        register_prompt_version(db, "p", template)  # type: ignore[arg-type]
    assert list_prompts(db) == ([], 0)


def test_invalid_names_and_missing_parents_are_refused_and_nothing_is_stored(db: Database) -> None:
    with pytest.raises(InvalidArgument, match="no '/' or '@'"):
        register_prompt_version(db, "a/b", "x")
    with pytest.raises(PromptNotFound, match="version 3 of prompt 'p'"):
        register_prompt_version(db, "p", "x", parent_version=3)
    assert list_prompts(db) == ([], 0)
    register_prompt_version(db, "p", "x")
    with pytest.raises(PromptNotFound, match="ListPromptVersions"):
        register_prompt_version(db, "p", "y", parent_version=2)
    assert list_prompt_versions(db, "p")[1] == 1


def test_aliases_move_and_latest_is_reserved(db: Database) -> None:
    for text in ("one", "two", "three"):
        register_prompt_version(db, "p", text)
    assert set_prompt_alias(db, "p", "production", 1) is None
    assert get_prompt_by_alias(db, "p", "production").template == "one"
    assert set_prompt_alias(db, "p", "production", 2) == 1
    assert get_prompt_by_alias(db, "p", "production").template == "two"
    assert get_prompt_version(db, "p", 2).aliases == ["production"]
    assert get_prompt_by_alias(db, "p", "latest").version == 3
    register_prompt_version(db, "p", "four")
    assert get_prompt_by_alias(db, "p", "latest").version == 4
    with pytest.raises(InvalidArgument, match="reserved"):
        set_prompt_alias(db, "p", "latest", 1)
    with pytest.raises(InvalidArgument, match="production"):
        set_prompt_alias(db, "p", "prod@1", 1)
    with pytest.raises(PromptNotFound, match="version 9"):
        set_prompt_alias(db, "p", "staging", 9)
    assert get_prompt(db, "p").aliases == {"production": 2}
    assert delete_prompt_alias(db, "p", "production") == 2
    with pytest.raises(PromptNotFound, match="no alias 'production'.*SetPromptAlias"):
        get_prompt_by_alias(db, "p", "production")


def test_unknown_prompts_say_how_to_list_them(db: Database) -> None:
    for call in (
        lambda: latest_prompt_version(db, "nope"),
        lambda: get_prompt_version(db, "nope", 1),
        lambda: get_prompt_by_alias(db, "nope", "production"),
        lambda: list_prompt_versions(db, "nope"),
        lambda: get_prompt(db, "nope"),
    ):
        with pytest.raises(PromptNotFound, match="prompt 'nope' is not in this store; call ListPrompts"):
            call()


def test_listing_pages_prompts_by_name_and_versions_newest_first(db: Database) -> None:
    for name in ("c", "a", "b"):
        register_prompt_version(db, name, f"{name} 1")
    register_prompt_version(db, "a", "a 2")
    page, total = list_prompts(db, limit=2)
    assert total == 3 and [(p.name, p.latest_version) for p in page] == [("a", 2), ("b", 1)]
    assert [p.name for p in list_prompts(db, limit=2, after="b")[0]] == ["c"]
    versions, count = list_prompt_versions(db, "a", limit=1)
    assert count == 2 and [v.version for v in versions] == [2]
    assert [v.version for v in list_prompt_versions(db, "a", limit=1, after=2)[0]] == [1]


def test_runs_that_loaded_a_version_are_linked_to_it(db: Database) -> None:
    register_prompt_version(db, "p", "one")
    register_prompt_version(db, "p", "two")
    old = create_run(db, judges=[], trace_ids=[], name="before")
    new = create_run(db, judges=[], trace_ids=[], name="after")
    link_run_prompt(db, old.run_id, "p", 1)
    link_run_prompt(db, new.run_id, "p", 2)
    link_run_prompt(db, new.run_id, "p", 2)  # a target loads its prompt once per record
    runs, total = runs_using(db, "p", 2)
    assert total == 1 and [(r.run_id, r.name, r.status) for r in runs] == [(new.run_id, "after", "running")]
    assert runs_using(db, "p", 1)[0][0].run_id == old.run_id
    with pytest.raises(PromptNotFound, match="version 3"):
        link_run_prompt(db, new.run_id, "p", 3)


@pytest.mark.parametrize("name", ["router\n", "router\nx", "a" * 101])
def test_a_name_with_a_trailing_newline_or_too_long_is_refused(db, name):
    with pytest.raises(InvalidArgument, match="is not valid"):
        register_prompt_version(db, name, "Hello {{ who }}")


def test_a_chat_template_is_capped_by_its_stored_size_not_its_contents(db):
    with pytest.raises(InvalidArgument, match="at most 200 messages"):
        register_prompt_version(db, "chatty", [{"role": "user", "content": ""}] * 201)
    with pytest.raises(InvalidArgument, match="over the limit"):
        register_prompt_version(db, "chatty", [{"role": "user", "content": "x" * 600}] * 190)
