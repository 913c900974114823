"""The judge registry: read and list stored judges as JudgeDefinition, for the runner, the tools
and alignment (stored judges are created by mcp_server.judges.service.create_judge).

The built-in judges' names are reserved: a stored judge under one would change what every
client's runs of that built-in do. A database from before they were reserved may hold one: it is
never used, so the name means the built-in everywhere (RunJudge, GetJudge, ListJudges, Evaluate
and its resume).
"""

from __future__ import annotations

from mcp_server.judges.agent.prompt import BUILTIN_AGENT_JUDGES
from mcp_server.judges.builtin import BUILTIN_LLM_JUDGES
from mcp_server.judges.code_judges import BUILTIN_CODE_JUDGES
from mcp_server.judges.definition import JudgeDefinition, OutputType
from store import Database
from store import judges as store
from store.errors import InvalidArgument
from store.judges import JudgeRecord


def builtin_names() -> list[str]:
    """The built-in judges' names: LLM, agent and code judges."""
    return [*BUILTIN_LLM_JUDGES, *BUILTIN_AGENT_JUDGES, *BUILTIN_CODE_JUDGES]


def definition(record: JudgeRecord) -> JudgeDefinition:
    """A stored version as a JudgeDefinition."""
    return JudgeDefinition(
        name=record.name,
        instructions=record.instructions,
        output=OutputType.model_validate(record.output),
        model=record.model,
        description=record.description,
        version=record.version,
    )


def get_judge(db: Database, name: str, version: int | None = None) -> JudgeDefinition:
    """The latest version of the stored judge `name`, or version `version`; JudgeNotFound.
    InvalidArgument for a built-in judge's name: no stored judge goes by it."""
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise InvalidArgument(f"version must be a positive integer; got {version!r}.")
    if name in builtin_names():
        asked = f", so there is no version {version} of it" if version is not None else ""
        raise InvalidArgument(
            f"{name!r} is a built-in judge, which has no versions{asked}; use it by its name alone. A judge "
            "stored under that name by an older tracejudge (before built-in names were reserved) is neither "
            f"shown nor run, and a run started with it cannot be resumed: store it again as e.g. 'my_{name}'."
        )
    return definition(store.get_judge(db, name, version))


def list_judges(db: Database, *, limit: int = 50, after: str | None = None) -> tuple[list[JudgeDefinition], int]:
    """The latest version of each stored judge by name, after the name `after`; and the total.
    Judges stored under a built-in's name (get_judge) are left out of both."""
    records, total = store.list_judges(db, limit=limit, after=after, exclude=builtin_names())
    return [definition(r) for r in records], total
