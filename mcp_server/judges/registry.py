"""The judge registry: create, read and list stored judges as JudgeDefinition.

Creating a judge with an existing name stores its next version; the definition is checked
(name, template variables, output type, model name, the largest prompt it can render) before
anything is written. The built-in
judges' names are reserved: a stored judge under one would change what every client's runs of
that built-in do. A database from before they were reserved may hold one: it is never used, so
the name means the built-in everywhere (RunJudge, GetJudge, ListJudges, Evaluate and its resume).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mcp_server.judges.agent.prompt import BUILTIN_AGENT_JUDGES, REFERENCE_CHARS
from mcp_server.judges.builtin import BUILTIN_LLM_JUDGES
from mcp_server.judges.code_judges import BUILTIN_CODE_JUDGES
from mcp_server.judges.definition import JudgeDefinition, OutputType
from mcp_server.judges.rendering import check_prompt_size, max_block_chars
from mcp_server.models import parse_model_name
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


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = ".".join(str(p) for p in error["loc"])
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def check_definition(
    name: str,
    instructions: str,
    *,
    output: OutputType | dict[str, Any] | None = None,
    model: str | None = None,
    description: str = "",
) -> JudgeDefinition:
    """The definition these arguments make (version 1), or InvalidArgument saying what is wrong."""
    try:
        output_type = output if isinstance(output, OutputType) else OutputType.model_validate(output or {})
        judge = JudgeDefinition(
            name=name, instructions=instructions, output=output_type, model=model or None, description=description
        )
    except ValidationError as exc:
        raise InvalidArgument(f"the judge is not valid: {_problems(exc)}") from None
    if judge.name in builtin_names():
        raise InvalidArgument(
            f"{judge.name!r} is a built-in judge, which every client runs by that name, so a stored judge "
            f"cannot take it; choose another name for yours, e.g. 'my_{judge.name}'."
        )
    if judge.model is not None:
        parse_model_name(judge.model)  # InvalidModelName lists the accepted forms
    # An agent judge's variables become short references; an LLM judge's, data blocks up to their cap.
    sizes = REFERENCE_CHARS if judge.is_agent_judge else {v: max_block_chars(v) for v in judge.variables}
    check_prompt_size(judge.instructions, sizes, at_most=True)
    return judge


def create_judge(
    db: Database,
    name: str,
    instructions: str,
    *,
    output: OutputType | dict[str, Any] | None = None,
    model: str | None = None,
    description: str = "",
) -> JudgeDefinition:
    """Store a judge, as version 1 of a new name or the next version of an existing one."""
    judge = check_definition(name, instructions, output=output, model=model, description=description)
    record = store.create_judge_version(
        db,
        judge.name,
        judge.instructions,
        output=judge.output.model_dump(exclude_none=True),
        model=judge.model,
        description=judge.description,
    )
    return definition(record)


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
