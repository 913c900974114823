"""STYLE rule 13: every script in examples/ is run by a test here, so the README never points at
an example that no longer works."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"


def test_every_example_script_is_named_by_a_test_in_this_folder():
    tests = "\n".join(path.read_text() for path in HERE.glob("test_*.py") if path != Path(__file__))
    scripts = sorted(EXAMPLES.rglob("*.py"))
    assert scripts
    untested = [str(s.relative_to(EXAMPLES)) for s in scripts if f'"{s.name}"' not in tests]
    assert not untested, f"no test in tests/examples runs {untested}"
