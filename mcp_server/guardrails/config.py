"""Guardrail definitions: one `[guardrails.NAME]` table of the gateway's TOML file each, checked
into a GuardrailSpec with its kind's options (parse_guardrails).

    [guardrails.no_cards]
    kind = "pii"
    stages = ["input", "output"]
    action = "redact"                 # block | redact | flag; redact is for pii only
    entities = ["CREDIT_CARD", "EMAIL"]   # default: every type pii.ENTITY_TYPES knows
    min_score = 0.4

    [guardrails.injection]
    kind = "injection"
    stages = ["input"]
    action = "block"
    threshold = 0.5
    roles = ["user", "tool"]          # whose text is screened (tool: tool results)

    [guardrails.policy]
    kind = "judge"
    stages = ["output"]
    action = "block"
    judge = "safety@2"                # a stored or built-in judge, optionally @version;
                                      # or gate = "release": every policy judge of that release gate
    timeout_s = 10
    on_error = "open"                 # open: an error or timeout passes; closed: it fails
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mcp_server.guardrails.pii import ENTITY_TYPES, check_entities

KINDS = ("pii", "injection", "judge")
ROLES = ("system", "user", "assistant", "tool")
_OPTIONS: dict[str, frozenset[str]] = {
    "pii": frozenset({"entities", "min_score", "max_chars"}),
    "injection": frozenset({"threshold", "roles", "max_chars"}),
    "judge": frozenset({"judge", "gate", "timeout_s", "on_error"}),
}
_COMMON = frozenset({"name", "kind", "stages", "action"})
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,99}")
_JUDGE = re.compile(r"(?P<name>[^@\s]+)(@(?P<version>[1-9][0-9]*))?")


class GuardrailSpec(BaseModel):
    """One guardrail as configured. Options of other kinds are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["pii", "injection", "judge"]
    stages: list[Literal["input", "output"]] = Field(min_length=1)
    action: Literal["block", "redact", "flag"]
    # pii
    entities: list[str] = Field(default_factory=lambda: list(ENTITY_TYPES))
    min_score: float = Field(0.4, ge=0.0, le=1.0)
    # injection
    threshold: float = Field(0.5, gt=0.0, le=1.0)
    roles: list[Literal["system", "user", "assistant", "tool"]] = Field(default_factory=lambda: ["user", "tool"], min_length=1)
    # pii and injection
    max_chars: int = Field(200_000, ge=1_000, le=10_000_000)
    """Most characters of text the guardrail reads in one stage of one call. Past it the call is not
    read at all and counts as caught (blocked, or flagged for a flag guardrail): what was not read
    cannot pass as clean, and reading is work proportional to the text."""
    # judge
    judge: str | None = None
    gate: str | None = None
    """A release gate (mcp_server.gates) whose policy judges (at its latest version) must each pass on the call."""
    timeout_s: float = Field(10.0, gt=0.0, le=600.0)
    on_error: Literal["open", "closed"] = "open"

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, entities: list[str]) -> list[str]:
        if not entities:
            raise ValueError("give at least one entity type, or leave entities out for all of them")
        return check_entities(entities)

    @field_validator("stages")
    @classmethod
    def _distinct_stages(cls, stages: list[str]) -> list[str]:
        return list(dict.fromkeys(stages))

    @model_validator(mode="after")
    def _kind_rules(self) -> GuardrailSpec:
        if self.action == "redact" and self.kind != "pii":
            raise ValueError(f"action 'redact' is for pii guardrails only; a {self.kind} guardrail can block or flag")
        if self.kind == "judge":
            if (self.judge is None) == (self.gate is None):
                raise ValueError("a judge guardrail needs either judge = 'name' or 'name@version' (a stored or built-in "
                                 "judge) or gate = 'name' (a release gate whose policy judges must all pass)")  # fmt: skip
            if self.judge is not None and not _JUDGE.fullmatch(self.judge.strip()):
                raise ValueError("judge must be 'name' or 'name@version' (a stored or built-in judge)")
        return self

    @property
    def judge_name(self) -> str:
        """The judge's name without its version."""
        return _JUDGE.fullmatch((self.judge or "").strip())["name"]  # type: ignore[index]

    @property
    def judge_version(self) -> int | None:
        """The judge's version when the spec names one ('safety@2'), else None (the latest)."""
        version = _JUDGE.fullmatch((self.judge or "").strip())["version"]  # type: ignore[index]
        return int(version) if version else None


def parse_guardrails(tables: Mapping[str, Mapping[str, Any]]) -> dict[str, GuardrailSpec]:
    """The guardrails of a TOML file's `[guardrails]` table, by name. ValueError whose message
    names the guardrail, the key and what is allowed."""
    if not isinstance(tables, Mapping):
        raise ValueError(f"[guardrails] must be a table of [guardrails.NAME] tables; got {type(tables).__name__}")
    specs = {}
    for name, table in tables.items():
        where = f"guardrail {name!r}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"{where}: a guardrail's name is 1 to 100 letters, digits, '.', '_' or '-', starting with a letter")
        if not isinstance(table, Mapping):
            raise ValueError(f"{where}: [guardrails.{name}] must be a table of keys; got {type(table).__name__}")
        kind = table.get("kind")
        if kind not in KINDS:
            raise ValueError(f"{where}: key 'kind' must be one of {', '.join(KINDS)}; got {kind!r}")
        allowed = _COMMON | _OPTIONS[kind]
        for key in table:
            if key not in allowed:
                raise ValueError(f"{where}: key {key!r} is not an option of a {kind} guardrail; "
                                 f"allowed: {', '.join(sorted(allowed - {'name'}))}")  # fmt: skip
        if "name" in table and table["name"] != name:
            raise ValueError(f"{where}: key 'name' must be the table's own name {name!r} (or be left out)")
        try:
            specs[name] = GuardrailSpec.model_validate({**table, "name": name})
        except ValidationError as exc:
            raise ValueError(f"{where}: {_first_error(exc)}") from None
    return specs


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    key = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    allowed = {
        "stages": "a list of 'input' and 'output'",
        "action": "'block', 'redact' (pii only) or 'flag'",
        "roles": f"a list of {', '.join(map(repr, ROLES))}",
        "on_error": "'open' or 'closed'",
        "entities": f"a list of {', '.join(ENTITY_TYPES)}",
        "min_score": "a number from 0 to 1",
        "threshold": "a number above 0, at most 1",
        "timeout_s": "seconds, above 0, at most 600",
    }
    top = str(error["loc"][0]) if error["loc"] else ""
    if not key:
        return message
    hint = f" (allowed: {allowed[top]})" if top in allowed and "allowed" not in message and "known:" not in message else ""
    return f"key {key!r}: {message}{hint}"
