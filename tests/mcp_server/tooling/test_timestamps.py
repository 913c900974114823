"""Times as answers show them: iso_time, ms, and with_iso_times, which turns a store record's
`<x>_ns` instants into the `<x>_time` fields of the tool model built from it."""

from __future__ import annotations

from mcp_server.datasets.service import DatasetSummary
from mcp_server.tooling.timestamps import iso_time, ms, with_iso_times
from store import Database
from store.datasets import create_dataset, get_dataset


def test_iso_time_is_utc_with_microseconds_and_none_stays_none() -> None:
    assert iso_time(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456+00:00"
    assert iso_time(None) is None
    assert ms(1_234_567) == 1.235 and ms(None) is None


def test_with_iso_times_renames_each_instant_in_its_place_and_keeps_the_other_fields(db: Database) -> None:
    record = create_dataset(db, "routing", "misrouted questions")
    fields = with_iso_times(record)
    assert list(fields) == ["name", "description", "version", "record_count", "created_time", "updated_time"]
    assert fields["created_time"] == iso_time(record.created_ns) and fields["updated_time"] == iso_time(record.updated_ns)
    assert (fields["name"], fields["description"], fields["version"]) == ("routing", "misrouted questions", 0)
    assert list(DatasetSummary.model_validate(fields).model_dump()) == list(fields)


def test_with_iso_times_leaves_nested_records_as_they_are(db: Database) -> None:
    create_dataset(db, "routing")
    info = get_dataset(db, "routing")
    fields = with_iso_times(info)
    assert fields["versions"] == info.versions and "created_ns" in fields["versions"][0].model_fields_set
