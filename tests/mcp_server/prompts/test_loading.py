"""load_prompt by every reference form, which database it reads, and the hooks evaluation and
optimization wrap around a target: record_loaded_prompts and override_prompt."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import pytest

from mcp_server.prompts import (
    close_default_databases,
    load_prompt,
    override_prompt,
    record_loaded_prompts,
    use_database,
)
from store import Database
from store.errors import InvalidArgument, PromptNotFound
from store.prompts import register_prompt_version, set_prompt_alias

CHAT = [{"role": "system", "content": "Route {{ topic }}."}, {"role": "user", "content": "{{ question }}"}]


@pytest.fixture
def router(db: Database) -> Database:
    register_prompt_version(db, "router", "Route {{ question }} v1", commit_message="first")
    register_prompt_version(db, "router", "Route {{ question }} v2", tags={"team": "support"})
    register_prompt_version(db, "router", CHAT, commit_message="chat")
    set_prompt_alias(db, "router", "production", 2)
    return db


def test_each_uri_form_loads_its_version(router: Database) -> None:
    assert load_prompt("prompts:/router/1", db=router).template == "Route {{ question }} v1"
    production = load_prompt("prompts:/router@production", db=router)
    assert (production.version, production.aliases, production.tags) == (2, ["production"], {"team": "support"})
    assert load_prompt("prompts:/router", db=router).version == 3
    assert load_prompt("router", db=router).kind == "chat"
    assert load_prompt("router", version=1, db=router).commit_message == "first"
    assert load_prompt("router", alias="production", db=router).version == 2
    assert load_prompt("prompts:/router@latest", db=router).version == 3
    assert load_prompt("router", version=2, db=router).uri == "prompts:/router/2"


def test_a_loaded_prompt_formats_to_text_or_messages_and_names_missing_values(router: Database) -> None:
    assert load_prompt("router", version=1, db=router).format(question="Why?", unused=1) == "Route Why? v1"
    chat = load_prompt("router", db=router)
    assert chat.variables == ["topic", "question"]
    assert chat.format(topic="billing", question="Why?") == [
        {"role": "system", "content": "Route billing."},
        {"role": "user", "content": "Why?"},
    ]
    with pytest.raises(InvalidArgument, match="prompt 'router' version 3 needs a value for question"):
        chat.format(topic="billing")
    assert chat.format(allow_partial=True, topic="x")[1]["content"] == "{{ question }}"


def test_missing_prompts_versions_and_aliases_are_errors_that_say_where_to_look(router: Database) -> None:
    with pytest.raises(PromptNotFound, match="call ListPrompts"):
        load_prompt("nope", db=router)
    with pytest.raises(PromptNotFound, match="version 9 of prompt 'router'"):
        load_prompt("prompts:/router/9", db=router)
    with pytest.raises(PromptNotFound, match="no alias 'staging'"):
        load_prompt("prompts:/router@staging", db=router)


def test_the_bound_database_is_used_unless_a_call_names_its_own(router: Database, tmp_path: Path) -> None:
    other = Database(tmp_path / "other.db")
    try:
        register_prompt_version(other, "router", "the other store")
        with use_database(other):
            assert load_prompt("router").template == "the other store"
            assert load_prompt("router", db=router).version == 3
    finally:
        other.close()


def test_without_a_database_the_environment_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env.db"
    writer = Database(path)
    try:
        register_prompt_version(writer, "greeting", "Hello {{ name }}")
        monkeypatch.setenv("TRACEJUDGE_DB", str(path))
        assert load_prompt("greeting").format(name="Ada") == "Hello Ada"
        register_prompt_version(writer, "greeting", "Hi {{ name }}")
        assert load_prompt("greeting").version == 2  # the cached connection sees new versions
    finally:
        close_default_databases()
        writer.close()


def test_record_collects_what_was_loaded_including_from_tasks_and_worker_threads(router: Database) -> None:
    async def target() -> None:
        await asyncio.gather(
            asyncio.create_task(asyncio.to_thread(load_prompt, "router", version=1)),
            anyio.to_thread.run_sync(lambda: load_prompt("prompts:/router@production")),
        )
        load_prompt("router")

    with use_database(router), record_loaded_prompts() as outer:
        with record_loaded_prompts() as inner:
            asyncio.run(target())
        load_prompt("router", version=1)
    assert inner == {("router", 1), ("router", 2), ("router", 3)}
    assert outer == inner
    load_prompt("router", db=router)  # outside: recorded nowhere
    assert outer == inner == {("router", 1), ("router", 2), ("router", 3)}


async def test_record_works_across_anyio_worker_threads_in_a_running_loop(router: Database) -> None:
    with use_database(router), record_loaded_prompts() as loaded:
        await anyio.to_thread.run_sync(lambda: load_prompt("router", version=2))
    assert loaded == {("router", 2)}


def test_a_bare_thread_does_not_inherit_the_context(router: Database) -> None:
    # Documented limit: threading.Thread starts with an empty context; copy_context().run is the fix.
    errors: list[BaseException] = []

    def load() -> None:
        try:
            load_prompt("router", db=router)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    with record_loaded_prompts() as loaded:
        thread = threading.Thread(target=load)
        thread.start()
        thread.join()
    assert not errors and loaded == set()


def test_override_returns_the_candidate_for_every_reference_and_only_inside(router: Database) -> None:
    with record_loaded_prompts() as loaded, override_prompt("router", "Candidate for {{ question }}"):
        for ref in ("router", "prompts:/router/1", "prompts:/router@production"):
            candidate = load_prompt(ref, db=router)
            assert (candidate.version, candidate.candidate, candidate.uri) == (None, True, None)
            assert candidate.format(question="x") == "Candidate for x"
        with pytest.raises(PromptNotFound):
            load_prompt("unrelated", db=router)
    assert loaded == {("router", None)}
    assert load_prompt("router", db=router).candidate is False


async def test_override_reaches_tasks_and_worker_threads(router: Database) -> None:
    async def in_task() -> str:
        return load_prompt("router", db=router).template  # type: ignore[return-value]

    with override_prompt("router", CHAT):
        from_task = await asyncio.create_task(in_task())
        from_thread = await anyio.to_thread.run_sync(lambda: load_prompt("router", db=router))
    assert from_task == CHAT and from_thread.kind == "chat" and from_thread.candidate


def test_override_checks_the_candidate_like_registration() -> None:
    with pytest.raises(InvalidArgument, match="template is empty"):
        with override_prompt("router", " "):
            pass
    with pytest.raises(InvalidArgument, match="not valid"):
        with override_prompt("a@b", "x"):
            pass


@pytest.fixture(autouse=True)
def _no_default_database_leaks() -> Iterator[None]:
    yield
    close_default_databases()
