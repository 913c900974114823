"""store.judges: versions of judges, latest and given versions, paged listing; migration 003."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store import Database, migrations
from store.errors import JudgeNotFound
from store.judges import create_judge_version, get_judge, list_judges

BOOL = {"kind": "bool"}


def test_creating_a_judge_with_an_existing_name_makes_the_next_version(db: Database) -> None:
    first = create_judge_version(db, "tone", "Is {{ outputs }} polite?", output=BOOL)
    second = create_judge_version(db, "tone", "Is {{ outputs }} polite and brief?", output=BOOL, model="openai:/gpt-4o")
    assert (first.version, second.version) == (1, 2)
    assert get_judge(db, "tone").instructions == "Is {{ outputs }} polite and brief?"
    assert get_judge(db, "tone").model == "openai:/gpt-4o"
    assert get_judge(db, "tone", 1).instructions == "Is {{ outputs }} polite?"
    assert get_judge(db, "tone", 1).output == BOOL


def test_unknown_judge_or_version_raises_naming_it(db: Database) -> None:
    create_judge_version(db, "tone", "Is {{ outputs }} polite?", output=BOOL)
    with pytest.raises(JudgeNotFound, match="'nope'.*ListJudges"):
        get_judge(db, "nope")
    with pytest.raises(JudgeNotFound, match="version 7 of judge 'tone'"):
        get_judge(db, "tone", 7)


def test_list_shows_the_latest_version_of_each_judge_by_name_in_pages(db: Database) -> None:
    for name in ("c", "a", "b"):
        create_judge_version(db, name, "{{ outputs }}", output=BOOL)
    create_judge_version(db, "a", "v2 {{ outputs }}", output=BOOL)
    page, total = list_judges(db, limit=2)
    assert total == 3 and [(j.name, j.version) for j in page] == [("a", 2), ("b", 1)]
    rest, _ = list_judges(db, limit=2, after="b")
    assert [j.name for j in rest] == ["c"]


def test_migration_003_adds_judges_to_a_schema_2_file_and_keeps_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        patch.setattr(migrations, "SCHEMA_VERSION", 2)
        assert migrations.migrate(conn) == 2
    conn.execute("INSERT INTO traces (trace_id, status) VALUES (?, 'OK')", ("a" * 32,))
    conn.close()

    db = Database(path)
    try:
        reader = db.reader()
        assert reader.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == migrations.SCHEMA_VERSION
        assert reader.execute("SELECT name FROM schema_migrations WHERE version = 3").fetchone()[0] == "003_judges"
        assert reader.execute("SELECT count(*) FROM traces").fetchone()[0] == 1
        assert create_judge_version(db, "tone", "{{ outputs }}", output=BOOL).version == 1
    finally:
        db.close()
