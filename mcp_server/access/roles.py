"""Roles, what each may do, and who is asking (`Access`).

- ingest: send traces and logs (OTLP) and nothing else: what an agent in production holds.
- read: the read-only MCP tools and pages: what a coding assistant that investigates traces holds.
- write: read, plus feedback, expectations, datasets, labels, prompts and issue curation; OTLP too.
- admin: everything, above all what spends money or changes what others' judging does: judges,
  Evaluate, optimization, monitors, alerts, gates, issue discovery, gateway keys and tokens.

A tool's role follows from what its registration already says, so no second list can drift from it:
every tool of ADMIN_TOOLSETS needs `admin` (who holds which key or token is itself a secret); else a
tool whose annotations say readOnlyHint needs `read`; one that writes needs `write` if it belongs to a
toolset of WRITE_TOOLSETS (or is in WRITE_TOOLS), else `admin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mcp_server.tooling.toolsets import TOOLSET_OF

Role = Literal["ingest", "read", "write", "admin"]
ROLES: tuple[Role, ...] = ("ingest", "read", "write", "admin")
_RANK = {role: rank for rank, role in enumerate(ROLES)}

INGEST_ROLES = frozenset({"ingest", "write", "admin"})
"""The roles that may send OTLP: a read token is for looking, so it cannot add traces either."""

ADMIN_TOOLSETS = frozenset({"tokens", "gateway"})
WRITE_TOOLSETS = frozenset({"feedback", "datasets", "prompts", "labeling"})
WRITE_TOOLS = frozenset({"UpdateIssue", "CreateDatasetFromIssue"})
"""Writing tools outside WRITE_TOOLSETS that change only what people curate (an issue's fields, a
dataset made from it): no model is called and no judge changes."""


@dataclass(frozen=True)
class Access:
    """Who a request acts as: a role, and the token that gave it (None: the server's own --token, stdio,
    the CLI, or a server that needs no token)."""

    role: Role
    token_id: str | None = None
    token_name: str | None = None

    def describe(self) -> str:
        return f"the {self.role} token {self.token_name!r}" if self.token_name else f"this {self.role} access"


OPERATOR = Access("admin")
"""The operator: stdio, the CLI, the server's own --token, and every request to a server without tokens."""


def at_least(role: str, needed: str) -> bool:
    """Whether `role` may do what needs `needed` (read, write or admin; OTLP is INGEST_ROLES')."""
    return _RANK[role] >= _RANK[needed]


def tool_role(name: str, *, writes: bool) -> Role:
    """The role a call of tool `name` needs; `writes`: its annotations do not say readOnlyHint."""
    if TOOLSET_OF.get(name) in ADMIN_TOOLSETS:
        return "admin"
    if not writes:
        return "read"
    return "write" if TOOLSET_OF.get(name) in WRITE_TOOLSETS or name in WRITE_TOOLS else "admin"


def refusal(access: Access, needed: str, what: str) -> str:
    """The message for `access` trying `what`, which needs role `needed`."""
    article = "an" if needed[0] in "aeiou" else "a"
    return (
        f"{what} needs {article} {needed} token (or higher: roles go ingest < read < write < admin), and this request "
        f"comes with {access.describe()}; ask the server's operator for one (tracejudge tokens create --role {needed})."
    )
