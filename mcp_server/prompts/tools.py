"""The prompt registry tools: RegisterPrompt, GetPrompt, ListPrompts, ListPromptVersions,
SetPromptAlias and DiffPromptVersions, registered on a server by `add_prompt_tools(server, db,
settings)`.

Thin wrappers in the style of mcp_server.judges.tools: each signature is the tool's input schema
and each body calls a typed function in mcp_server.prompts.service.
"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_server.prompts import service
from mcp_server.settings import Settings
from mcp_server.tooling.boundary import READ_ONLY, PageToken, answer
from store import Database
from store.prompts import PromptVersionRecord

CREATES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
"""RegisterPrompt adds a version; it never changes one."""
MOVES = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)
"""SetPromptAlias repoints an alias: agents loading 'prompts:/name@production' get another text."""

PromptName = Annotated[str, Field(description="Letters, digits, _ . -")]
MaxResults = Annotated[int, Field(description=f"1 to {service.MAX_RESULTS:,}.")]


class ChatMessage(BaseModel):
    role: str = Field(description="system, developer, user, assistant or tool")
    content: str = Field(description="With {{ name }} variables.")


REGISTER_DESCRIPTION = """\
Register a prompt version (text, or chat messages {role, content}) with {{ name }} variables;
agents load it with load_prompt('prompts:/name/3').
Example: RegisterPrompt(name="router", template="Route: {{ request }}")"""

GET_DESCRIPTION = """\
One prompt version in full, its aliases and the runs that used it. name_or_uri: 'router',
'prompts:/router/3' or 'prompts:/router@production'.
Example: GetPrompt(name_or_uri="prompts:/router@production")"""

LIST_DESCRIPTION = """\
The registered prompts with latest version and aliases.
Example: ListPrompts()"""

LIST_VERSIONS_DESCRIPTION = """\
A prompt's versions, newest first, with commit messages and aliases.
Example: ListPromptVersions(name="router")"""

SET_ALIAS_DESCRIPTION = """\
Point an alias (e.g. 'production') at a prompt version.
Example: SetPromptAlias(name="router", alias="production", version=3)"""

DIFF_DESCRIPTION = """\
A unified diff of two prompt versions, with their variables and commit messages.
Example: DiffPromptVersions(name="router", from_version=1, to_version=2)"""


def add_prompt_tools(server: MCPServer, db: Database, settings: Settings) -> None:
    """Register the six prompt registry tools on `server`, over `db` (settings: for symmetry with
    the other tool groups; the registry needs none)."""

    async def register_prompt(
        name: PromptName,
        template: Annotated[
            str | list[ChatMessage],
            Field(description="Text or chat messages; variables as {{ name }}."),
        ],
        commit_message: Annotated[str, Field(description="What changed and why.")] = "",
        tags: Annotated[dict[str, str] | None, Field(description="Labels on this version.")] = None,
        description: Annotated[
            str | None, Field(description="What the prompt is for (replaces the old one).")
        ] = None,
    ) -> Annotated[CallToolResult, PromptVersionRecord]:
        text_or_messages = template if isinstance(template, str) else [m.model_dump() for m in template]
        return await answer(
            service.register_prompt, db, name, text_or_messages,
            commit_message=commit_message, tags=tags, description=description,
        )

    async def get_prompt(
        name_or_uri: Annotated[
            str, Field(description="A name or a prompts:/ URI, as above.")
        ],
        version: Annotated[int | None, Field(description="A version, with a bare name.")] = None,
        alias: Annotated[str | None, Field(description="An alias, with a bare name.")] = None,
    ) -> Annotated[CallToolResult, service.PromptDetail]:
        return await answer(service.get_prompt, db, name_or_uri, version=version, alias=alias)

    async def list_prompts(
        max_results: MaxResults = 50, page_token: PageToken = None
    ) -> Annotated[CallToolResult, service.PromptList]:
        return await answer(service.list_prompts, db, max_results=max_results, page_token=page_token)

    async def list_prompt_versions(
        name: PromptName, max_results: MaxResults = 50, page_token: PageToken = None
    ) -> Annotated[CallToolResult, service.PromptVersionList]:
        return await answer(service.list_prompt_versions, db, name, max_results=max_results, page_token=page_token)

    async def set_prompt_alias(
        name: PromptName,
        alias: Annotated[str, Field(description="e.g. 'production'; not 'latest'.")],
        version: Annotated[int, Field(description="The version it points at.")],
    ) -> Annotated[CallToolResult, service.AliasChange]:
        return await answer(service.set_prompt_alias, db, name, alias, version)

    async def diff_prompt_versions(
        name: PromptName,
        from_version: Annotated[int, Field(description="The '-' side.")],
        to_version: Annotated[int, Field(description="The '+' side.")],
        max_content_length: Annotated[
            int, Field(description=f"{service.MIN_DIFF_LENGTH:,} to {service.MAX_DIFF_LENGTH:,}.")
        ] = service.DEFAULT_DIFF_LENGTH,
    ) -> Annotated[CallToolResult, service.PromptDiffAnswer]:
        return await answer(
            service.diff_prompt_versions_tool, db, name, from_version, to_version, max_content_length=max_content_length
        )

    for name, fn, description, annotations in (
        ("RegisterPrompt", register_prompt, REGISTER_DESCRIPTION, CREATES),
        ("GetPrompt", get_prompt, GET_DESCRIPTION, READ_ONLY),
        ("ListPrompts", list_prompts, LIST_DESCRIPTION, READ_ONLY),
        ("ListPromptVersions", list_prompt_versions, LIST_VERSIONS_DESCRIPTION, READ_ONLY),
        ("SetPromptAlias", set_prompt_alias, SET_ALIAS_DESCRIPTION, MOVES),
        ("DiffPromptVersions", diff_prompt_versions, DIFF_DESCRIPTION, READ_ONLY),
    ):
        server.add_tool(fn, name=name, description=description, annotations=annotations, structured_output=True)
