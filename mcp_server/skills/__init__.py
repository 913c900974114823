"""The agent skills tracejudge ships: one folder per workflow, each holding a SKILL.md in the Agent
Skills format (YAML frontmatter with `name` and `description`, then instructions) that coding
agents such as Claude Code and Codex load on demand, and the code that lists and installs them.

The folders are package data (pyproject's [tool.setuptools.package-data]), read through
importlib.resources so an installed wheel finds them as a checkout does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from store.errors import InvalidArgument

NAME_MAX = 64
DESCRIPTION_MAX = 1024
NAME_RULE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
"""The Agent Skills specification (agentskills.io/specification): a name is 1-64 lowercase letters,
digits and single hyphens, neither first nor last, and matches its folder; a description is 1-1024
characters."""

DEFAULT_DIR = Path(".claude") / "skills"
"""Where Claude Code looks for a project's skills, under the directory it is started in."""


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    text: str  # the whole SKILL.md, frontmatter included


def parse_frontmatter(text: str) -> dict[str, str]:
    """The `key: value` lines between the opening and closing `---` of a SKILL.md. Our skills keep
    each value on one line, so this small reader suffices; a value that YAML would read differently
    (quoted, folded, a list) is refused rather than misread."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---" or "---" not in (line.strip() for line in lines[1:]):
        raise ValueError("a SKILL.md starts with a frontmatter block between two '---' lines")
    fields: dict[str, str] = {}
    for line in lines[1 : [line.strip() for line in lines[1:]].index("---") + 1]:
        key, sep, value = line.partition(":")
        if not sep or not re.fullmatch(r"[a-z][a-z-]*", key) or value[:1] != " ":
            raise ValueError(f"frontmatter line {line!r} is not 'key: value'")
        value = value.strip()
        if not value or value[0] in "'\"|>[{&*!%@`#":
            raise ValueError(f"frontmatter value of {key!r} must be plain text on one line")
        fields[key] = value
    return fields


def check_skill(folder: str, text: str) -> Skill:
    """The skill in `text`, stored in `folder`, once its frontmatter meets the specification."""
    fields = parse_frontmatter(text)
    name, description = fields.get("name", ""), fields.get("description", "")
    if not (0 < len(name) <= NAME_MAX and NAME_RULE.fullmatch(name)) or name != folder:
        raise ValueError(f"skill name {name!r} must match its folder {folder!r} and the spec's name rule")
    if not 0 < len(description) <= DESCRIPTION_MAX:
        raise ValueError(f"skill {name!r}: description must be 1 to {DESCRIPTION_MAX} characters")
    return Skill(name=name, description=description, text=text)


def bundled_skills() -> list[Skill]:
    """The skills in this package, by name."""
    root = resources.files(__name__)
    return [
        check_skill(entry.name, entry.joinpath("SKILL.md").read_text(encoding="utf-8"))
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.is_dir() and entry.joinpath("SKILL.md").is_file()
    ]


def install_skills(skills_dir: Path, *, force: bool = False) -> list[Path]:
    """Write each skill to `skills_dir`/<name>/SKILL.md; returns the files written. Refuses, writing
    nothing, when any of them exists and `force` is not given: a user may have edited it."""
    skills = bundled_skills()
    targets = [skills_dir / skill.name / "SKILL.md" for skill in skills]
    existing = [str(path) for path in targets if path.exists()]
    if existing and not force:
        raise InvalidArgument(
            f"{', '.join(existing)} exist{'s' if len(existing) == 1 else ''} already; pass --force to "
            "replace them (edits made to them are lost), or --dir to install elsewhere."
        )
    for skill, path in zip(skills, targets, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(skill.text, encoding="utf-8")
    return targets
