"""Datasets in the store: versions, de-duplication and merge, pinned reads, paging, bad input."""

from __future__ import annotations

import pytest

from store import Database
from store.datasets import (
    all_records,
    create_dataset,
    delete_records,
    get_dataset,
    list_datasets,
    list_records,
    upsert_records,
)
from store.errors import DatasetNotFound, InvalidArgument

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _by_inputs(db: Database, name: str, version: int | None = None) -> dict[str, dict]:
    return {r.inputs["q"]: r.model_dump() for r in all_records(db, name, version)}


def test_create_makes_version_0_with_no_records(db: Database) -> None:
    created = create_dataset(db, "routing", "misrouted requests")
    assert (created.version, created.record_count, created.description) == (0, 0, "misrouted requests")
    info = get_dataset(db, "routing")
    assert [(v.version, v.change, v.record_count) for v in info.versions] == [(0, "created", 0)]
    assert list_records(db, "routing") == ([], 0)


def test_create_with_a_taken_name_says_how_to_add_records_instead(db: Database) -> None:
    create_dataset(db, "routing")
    with pytest.raises(InvalidArgument, match=r"'routing' already exists \(version 0, 0 records\).*UpsertDatasetRecords"):
        create_dataset(db, "routing")


@pytest.mark.parametrize("name", ["", "1abc", "has space", "x" * 101, None])
def test_create_with_a_bad_name_says_what_names_are_allowed(db: Database, name: object) -> None:
    with pytest.raises(InvalidArgument, match="use a letter followed by letters, digits"):
        create_dataset(db, name)  # type: ignore[arg-type]


def test_unknown_dataset_error_names_list_datasets(db: Database) -> None:
    for call in (
        lambda: get_dataset(db, "nope"),
        lambda: upsert_records(db, "nope", [{"inputs": {"q": "a"}}]),
        lambda: list_records(db, "nope"),
        lambda: delete_records(db, "nope", ["r-0123456789abcdef"]),
    ):
        with pytest.raises(DatasetNotFound, match="'nope' is not in this store; call ListDatasets"):
            call()


def test_upsert_adds_new_inputs_and_merges_repeated_inputs_new_values_winning(db: Database) -> None:
    create_dataset(db, "d")
    first = upsert_records(db, "d", [
        {"inputs": {"q": "a"}, "expectations": {"route": "billing", "tone": "calm"}, "tags": {"lang": "en"}},
        {"inputs": {"q": "b"}},
    ])
    assert (first.version, first.added, first.merged, first.unchanged, first.record_count) == (1, 2, 0, 0, 2)
    second = upsert_records(db, "d", [
        {"inputs": {"q": "a"}, "expectations": {"route": "tech"}, "tags": {"hard": "yes"}},
    ])
    assert (second.version, second.added, second.merged, second.record_count) == (2, 0, 1, 2)
    assert second.record_ids == first.record_ids[:1]
    merged = _by_inputs(db, "d")["a"]
    assert merged["expectations"] == {"route": "tech", "tone": "calm"}
    assert merged["tags"] == {"lang": "en", "hard": "yes"}
    assert merged["added_version"] == 2


def test_the_record_id_depends_on_the_inputs_only_not_on_key_order(db: Database) -> None:
    create_dataset(db, "d")
    report = upsert_records(db, "d", [{"inputs": {"q": "a", "user": "u1"}}, {"inputs": {"user": "u1", "q": "a"}}])
    assert report.record_ids[0] == report.record_ids[1]
    assert (report.added, report.unchanged, report.record_count) == (1, 1, 1)
    create_dataset(db, "other")
    assert upsert_records(db, "other", [{"inputs": {"user": "u1", "q": "a"}}]).record_ids == report.record_ids[:1]


def test_a_batch_that_changes_nothing_makes_no_version(db: Database) -> None:
    create_dataset(db, "d")
    upsert_records(db, "d", [{"inputs": {"q": "a"}, "expectations": {"route": "billing"}}])
    again = upsert_records(db, "d", [{"inputs": {"q": "a"}, "expectations": {"route": "billing"}}, {"inputs": {"q": "a"}}])
    assert (again.changed, again.version, again.unchanged) == (False, 1, 2)
    assert get_dataset(db, "d").version_count == 2


def test_a_value_that_changes_type_is_a_change(db: Database) -> None:
    create_dataset(db, "d")
    upsert_records(db, "d", [{"inputs": {"q": "a"}, "expectations": {"score": 1}}])
    report = upsert_records(db, "d", [{"inputs": {"q": "a"}, "expectations": {"score": True}}])
    assert (report.changed, report.merged) == (True, 1)
    assert _by_inputs(db, "d")["a"]["expectations"] == {"score": True}


def test_the_first_source_trace_is_kept_and_a_later_one_only_fills_a_gap(db: Database) -> None:
    create_dataset(db, "d")
    other = "0" * 31 + "1"
    upsert_records(db, "d", [{"inputs": {"q": "a"}, "source_trace_id": TRACE_ID.upper()}, {"inputs": {"q": "b"}}])
    report = upsert_records(db, "d", [
        {"inputs": {"q": "a"}, "source_trace_id": other},
        {"inputs": {"q": "b"}, "source_trace_id": other},
    ])
    assert (report.unchanged, report.merged) == (1, 1)
    records = _by_inputs(db, "d")
    assert records["a"]["source_trace_id"] == TRACE_ID
    assert records["b"]["source_trace_id"] == other


def test_a_pinned_version_reads_the_same_records_after_later_changes(db: Database) -> None:
    create_dataset(db, "d")
    upsert_records(db, "d", [{"inputs": {"q": q}, "expectations": {"n": 1}} for q in "abc"])
    at_v1 = _by_inputs(db, "d", 1)
    upsert_records(db, "d", [{"inputs": {"q": "a"}, "expectations": {"n": 2}}, {"inputs": {"q": "d"}}])  # v2
    b_id = next(r.record_id for r in all_records(db, "d") if r.inputs["q"] == "b")
    deleted = delete_records(db, "d", [b_id])  # v3
    assert (deleted.version, deleted.deleted, deleted.record_count) == (3, [b_id], 3)
    upsert_records(db, "d", [{"inputs": {"q": "b"}, "expectations": {"n": 3}}])  # v4: b is back, new form

    assert _by_inputs(db, "d", 1) == at_v1
    assert sorted(_by_inputs(db, "d", 2)) == ["a", "b", "c", "d"]
    assert _by_inputs(db, "d", 2)["a"]["expectations"] == {"n": 2}
    assert sorted(_by_inputs(db, "d", 3)) == ["a", "c", "d"]
    latest = _by_inputs(db, "d")
    assert latest["b"]["record_id"] == b_id and latest["b"]["expectations"] == {"n": 3}
    info = get_dataset(db, "d")
    assert [(v.version, v.record_count) for v in info.versions] == [(4, 4), (3, 3), (2, 4), (1, 3), (0, 0)]
    assert info.versions[1].change == "deleted 1 records"


def test_a_version_that_does_not_exist_says_which_do(db: Database) -> None:
    create_dataset(db, "d")
    upsert_records(db, "d", [{"inputs": {"q": "a"}}])
    with pytest.raises(DatasetNotFound, match=r"has no version 5 \(its versions run from 0 to 1\)"):
        list_records(db, "d", 5)


def test_list_records_pages_by_record_id(db: Database) -> None:
    create_dataset(db, "d")
    upsert_records(db, "d", [{"inputs": {"q": str(i)}} for i in range(25)])
    seen: list[str] = []
    after = None
    while True:
        page, total = list_records(db, "d", limit=10, after=after)
        assert total == 25
        seen += [r.record_id for r in page]
        if len(page) < 10:
            break
        after = page[-1].record_id
    assert seen == sorted(seen) and len(set(seen)) == 25


def test_delete_reports_ids_not_in_the_latest_version_and_makes_no_version_when_none_is(db: Database) -> None:
    create_dataset(db, "d")
    upsert_records(db, "d", [{"inputs": {"q": "a"}}])
    report = delete_records(db, "d", ["r-0123456789abcdef"])
    assert (report.changed, report.version, report.not_found) == (False, 1, ["r-0123456789abcdef"])
    with pytest.raises(InvalidArgument, match="'nonsense' is not a dataset record id"):
        delete_records(db, "d", ["nonsense"])


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"expectations": {}}, r"records\[1\]: inputs must be a JSON object.*it is missing"),
        ({"inputs": "hello"}, r"records\[1\]: inputs must be a JSON object.*it is a str"),
        ({"inputs": {}}, r"records\[1\]: inputs is empty"),
        ({"inputs": {"q": 1}, "expectations": [1]}, r"records\[1\]: expectations must be a JSON object"),
        ({"inputs": {"q": 1}, "tags": {"level": 3}}, r"records\[1\]: tag 'level' must have a string value"),
        ({"inputs": {"q": 1}, "expectation": {}}, r"records\[1\] has an unknown field 'expectation'; did you mean 'expectations'"),
        ({"inputs": {"q": 1}, "source_trace_id": "xyz"}, r"records\[1\]: source_trace_id: trace_id 'xyz'"),
        ({"inputs": {"q": float("nan")}}, r"records\[1\] is not plain JSON"),
        ("text", r"records\[1\] must be a JSON object with inputs"),
    ],
)
def test_a_bad_record_is_named_by_index_and_field_and_nothing_is_stored(
    db: Database, record: object, message: str
) -> None:
    create_dataset(db, "d")
    with pytest.raises(InvalidArgument, match=message):
        upsert_records(db, "d", [{"inputs": {"q": "good"}}, record])  # type: ignore[list-item]
    assert get_dataset(db, "d").version == 0 and list_records(db, "d") == ([], 0)


def test_list_datasets_pages_by_name_with_their_latest_counts(db: Database) -> None:
    for name in ("c", "a", "b"):
        create_dataset(db, name)
    upsert_records(db, "b", [{"inputs": {"q": "x"}}])
    first, total = list_datasets(db, limit=2)
    assert total == 3 and [d.name for d in first] == ["a", "b"]
    assert (first[1].version, first[1].record_count) == (1, 1)
    rest, _ = list_datasets(db, limit=2, after="b")
    assert [d.name for d in rest] == ["c"]
