"""store.labeling: schemas, sessions, queues of traces and the labels a session has been given."""

from __future__ import annotations

import pytest

from mcp_server.demo.load import load_demo
from store import Database, labeling
from store.assessments import get_assessment, log_assessment, new_assessment
from store.errors import InvalidArgument, LabelingSchemaNotFound, LabelingSessionNotFound
from store.search import search_trace_ids

PASS_FAIL = {"kind": "pass_fail"}


@pytest.fixture
def trace_ids(db: Database) -> list[str]:
    load_demo(db)
    return search_trace_ids(db, None, ["timestamp_ms"], 100)


def _session(db: Database, *schemas: str) -> labeling.LabelingSessionRecord:
    for name in schemas:
        labeling.put_schema(db, name, "feedback", PASS_FAIL, overwrite=True)
    return labeling.create_session(db, "review", list(schemas))


def test_a_schema_name_that_exists_is_refused_unless_overwrite_replaces_it(db: Database) -> None:
    labeling.put_schema(db, "tone", "feedback", PASS_FAIL, instructions="Polite?")
    with pytest.raises(InvalidArgument, match="overwrite=true"):
        labeling.put_schema(db, "tone", "expectation", {"kind": "text"})
    assert labeling.get_schema(db, "tone").instructions == "Polite?"
    labeling.put_schema(db, "tone", "expectation", {"kind": "text"}, enable_comment=True, overwrite=True)
    replaced = labeling.get_schema(db, "tone")
    assert (replaced.type, replaced.input, replaced.enable_comment) == ("expectation", {"kind": "text"}, True)
    assert labeling.list_schemas(db)[1] == 1


def test_schemas_list_by_name_in_pages_and_a_missing_one_is_named(db: Database) -> None:
    for name in ("c", "a", "b"):
        labeling.put_schema(db, name, "feedback", PASS_FAIL)
    first, total = labeling.list_schemas(db, limit=2)
    rest, _ = labeling.list_schemas(db, limit=2, after=first[-1].name)
    assert [s.name for s in first + rest] == ["a", "b", "c"] and total == 3
    with pytest.raises(LabelingSchemaNotFound, match="'zzz'"):
        labeling.get_schemas(db, ["a", "zzz"])


def test_a_session_needs_existing_schemas_and_a_free_name_and_is_found_by_name_or_id(db: Database) -> None:
    labeling.put_schema(db, "routing", "feedback", PASS_FAIL)
    with pytest.raises(LabelingSchemaNotFound, match="'nope'"):
        labeling.create_session(db, "review", ["routing", "nope"])
    created = labeling.create_session(db, "review", ["routing"], ["alice"])
    assert created.session_id.startswith("ls-") and created.status_counts == {"pending": 0, "completed": 0, "skipped": 0}
    with pytest.raises(InvalidArgument, match="exists"):
        labeling.create_session(db, "review", ["routing"])
    assert labeling.get_session(db, created.session_id) == labeling.get_session(db, "review") == created
    with pytest.raises(LabelingSessionNotFound, match="ListLabelingSessions"):
        labeling.get_session(db, "other")


def test_traces_queue_in_the_order_added_and_duplicates_are_ignored(db: Database, trace_ids: list[str]) -> None:
    session = _session(db, "routing")
    added, already = labeling.add_items(db, session.session_id, [trace_ids[2], trace_ids[0], trace_ids[2]])
    assert (added, already) == ([trace_ids[2], trace_ids[0]], 1)
    added, already = labeling.add_items(db, session.session_id, [trace_ids[0], trace_ids[1]])
    assert (added, already) == ([trace_ids[1]], 1)
    first, total = labeling.list_items(db, session.session_id, limit=2)
    rest, _ = labeling.list_items(db, session.session_id, limit=2, after_position=first[-1].position)
    assert [i.trace_id for i in first + rest] == [trace_ids[2], trace_ids[0], trace_ids[1]] and total == 3
    assert [i.position for i in first + rest] == [0, 1, 2]


def test_unknown_trace_ids_add_nothing_and_are_listed(db: Database, trace_ids: list[str]) -> None:
    session = _session(db, "routing")
    unknown = "0" * 32
    with pytest.raises(InvalidArgument, match=f"'{unknown}'.*nothing was added"):
        labeling.add_items(db, session.session_id, [trace_ids[0], unknown])
    assert labeling.list_items(db, session.session_id)[1] == 0


def _put(
    db: Database, session: labeling.LabelingSessionRecord, trace_id: str, schema: str, value: object, labeler: str
) -> tuple[str, str | None, labeling.LabelingItemRecord]:
    return labeling.put_label(
        db, session.session_id, trace_id, schema, "feedback", value, labeler=labeler, comment=None,
        schemas=session.schemas,
    )


def test_an_item_completes_when_every_schema_has_a_label_given_in_that_session(
    db: Database, trace_ids: list[str]
) -> None:
    session = _session(db, "routing", "tone")
    other = labeling.create_session(db, "other", ["routing", "tone"])
    trace = trace_ids[0]
    for s in (session, other):
        labeling.add_items(db, s.session_id, [trace])
    # Labels given elsewhere (another session, or outside any) do not complete this session's item.
    _put(db, other, trace, "tone", True, "bob")
    log_assessment(db, new_assessment(trace, "tone", True, source_id="carol"))
    _, _, item = _put(db, session, trace, "routing", False, "alice")
    assert (item.status, item.assignee) == ("pending", "alice")
    _, _, item = _put(db, session, trace, "tone", True, "bob")
    assert (item.status, item.assignee) == ("completed", "bob")
    assert labeling.get_session(db, "review").status_counts == {"pending": 0, "completed": 1, "skipped": 0}


def test_a_label_overrides_only_the_labelers_own_valid_label_in_the_session(
    db: Database, trace_ids: list[str]
) -> None:
    session = _session(db, "routing")
    other = labeling.create_session(db, "other", ["routing"])
    trace = trace_ids[0]
    for s in (session, other):
        labeling.add_items(db, s.session_id, [trace])
    first, overrode, _ = _put(db, session, trace, "routing", False, "alice")
    assert overrode is None
    assert _put(db, session, trace, "routing", True, "bob")[1] is None
    assert _put(db, other, trace, "routing", True, "alice")[1] is None
    second, overrode, _ = _put(db, session, trace, "routing", True, "alice")
    assert overrode == first
    assert _put(db, session, trace, "routing", False, "alice")[1] == second
    labels = labeling.session_labels(db, session.session_id, [trace], ["routing"])
    assert [(label.labeler, label.value) for label in labels] == [("bob", True), ("alice", False)]
    assert not get_assessment(db, first).valid and get_assessment(db, first).overridden_by == second


def test_a_skipped_item_keeps_its_labels_and_a_new_label_puts_it_back(db: Database, trace_ids: list[str]) -> None:
    session = _session(db, "routing", "tone")
    labeling.add_items(db, session.session_id, trace_ids[:2])
    skipped = labeling.skip_item(db, session.session_id, trace_ids[0], assignee="alice")
    assert skipped is not None and skipped.status == "skipped"
    assert labeling.skip_item(db, session.session_id, trace_ids[5], assignee="alice") is None
    assert [i.trace_id for i in labeling.list_items(db, session.session_id, status="pending")[0]] == [trace_ids[1]]
    assert _put(db, session, trace_ids[0], "routing", True, "alice")[2].status == "pending"
