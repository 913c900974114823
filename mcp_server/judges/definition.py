"""What a judge is: a name, instructions with template variables, a model and an output type.

MLflow's `make_judge` semantics: the instructions must use at least one of the reserved
variables {{ inputs }}, {{ outputs }}, {{ expectations }}, {{ trace }} and no other; a judge
whose instructions use {{ trace }} is an Agent-as-a-Judge that investigates the trace with the
read-only MCP tools instead of reading it whole.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from store.assessments import Finding
from store.errors import InvalidArgument

TEMPLATE_VARIABLES = ("inputs", "outputs", "expectations", "trace")
_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,99}$")
MAX_INSTRUCTIONS_CHARS = 50_000


def template_variables(instructions: str) -> list[str]:
    """The variables the instructions use, in order of first use; raises for unknown ones."""
    used: list[str] = []
    for match in _VARIABLE.finditer(instructions):
        name = match.group(1)
        if name not in TEMPLATE_VARIABLES:
            allowed = ", ".join("{{ %s }}" % v for v in TEMPLATE_VARIABLES)
            raise InvalidArgument(
                f"instructions use the template variable {{{{ {name} }}}}, which is not one of {allowed}; "
                "judges read their data only through these (custom variables would let trace content "
                "inject text into the prompt)."
            )
        if name not in used:
            used.append(name)
    if not used:
        raise InvalidArgument(
            "instructions must use at least one template variable: {{ inputs }}, {{ outputs }}, "
            "{{ expectations }} or {{ trace }}, e.g. 'Is {{ outputs }} a correct answer to {{ inputs }}?'"
        )
    return used


class OutputType(BaseModel):
    """The type of a judge's value. `kind` picks it; the other fields constrain it."""

    kind: Literal["bool", "int", "float", "categorical", "text"] = "bool"
    minimum: float | None = Field(None, description="For int and float.")
    maximum: float | None = Field(None, description="For int and float.")
    categories: list[str] | None = Field(None, description="For categorical.")

    @model_validator(mode="after")
    def _consistent(self) -> OutputType:
        if self.kind == "categorical":
            if not self.categories or len(set(self.categories)) != len(self.categories):
                raise ValueError("a categorical output needs a list of distinct categories, e.g. ['yes', 'no']")
        elif self.categories is not None:
            raise ValueError(f"categories apply to categorical outputs, not {self.kind}")
        if self.kind not in ("int", "float") and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"minimum and maximum apply to int and float outputs, not {self.kind}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("minimum must not exceed maximum")
        return self

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema of the value, for structured output."""
        if self.kind == "bool":
            return {"type": "boolean"}
        if self.kind == "categorical":
            return {"type": "string", "enum": list(self.categories or [])}
        if self.kind == "text":
            return {"type": "string"}
        schema: dict[str, Any] = {"type": "integer" if self.kind == "int" else "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema

    def validate_value(self, value: Any) -> bool | int | float | str:
        """The value as this type, or InvalidArgument saying what was expected (never a guess)."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "yes", "pass"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("false", "no", "fail"):
                return False
        elif self.kind == "categorical":
            if isinstance(value, str) and value in (self.categories or []):
                return value
        elif self.kind == "text":
            if isinstance(value, str):
                return value
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            if self.kind == "int" and float(value) != int(value):
                raise InvalidArgument(f"expected an integer, got {value!r}")
            number: int | float = int(value) if self.kind == "int" else float(value)
            if (self.minimum is not None and number < self.minimum) or (
                self.maximum is not None and number > self.maximum
            ):
                raise InvalidArgument(f"{number} is outside the range: expected {self.describe()}")
            return number
        raise InvalidArgument(f"expected {self.describe()}, got {value!r}")

    def describe(self) -> str:
        if self.kind == "categorical":
            return "one of " + ", ".join(repr(c) for c in self.categories or [])
        if self.kind in ("int", "float"):
            what = "an integer" if self.kind == "int" else "a number"
            if self.minimum is not None and self.maximum is not None:
                return f"{what} from {self.minimum:g} to {self.maximum:g}"
            if self.minimum is not None:
                return f"{what} >= {self.minimum:g}"
            if self.maximum is not None:
                return f"{what} <= {self.maximum:g}"
            return what
        return {"bool": "true or false", "text": "a string"}[self.kind]


class JudgeDefinition(BaseModel):
    """A stored judge. Creating a judge with an existing name makes its next version."""

    name: str = Field(description="Identifier, e.g. 'routing_accuracy'; letters, digits, _ . -")
    instructions: str = Field(description="The prompt, with {{ inputs }}, {{ outputs }}, {{ expectations }} or {{ trace }}.")
    output: OutputType = Field(default_factory=OutputType)
    model: str | None = Field(None, description="'provider:/model' or 'provider/model'; None uses the default judge model.")
    description: str = ""
    version: int = 1

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("a judge name starts with a letter and has at most 100 letters, digits, '_', '.' or '-'")
        return name

    @field_validator("instructions")
    @classmethod
    def _instructions(cls, instructions: str) -> str:
        if len(instructions) > MAX_INSTRUCTIONS_CHARS:
            raise ValueError(f"instructions are limited to {MAX_INSTRUCTIONS_CHARS:,} characters")
        template_variables(instructions)
        return instructions

    @property
    def variables(self) -> list[str]:
        return template_variables(self.instructions)

    @property
    def is_agent_judge(self) -> bool:
        """Uses {{ trace }}: investigates the trace through the MCP tools."""
        return "trace" in self.variables

    @property
    def source_id(self) -> str:
        """How feedback names this judge: 'name@version'."""
        return f"{self.name}@{self.version}"


RATE_LIMITED = "rate_limited"
"""Verdict metadata key, true when the judgment failed because its model kept answering HTTP 429
(ModelRateLimited): Evaluate lowers its concurrency on it."""
STOPPED_BY_BUDGET = "stopped_by_budget"
"""Verdict metadata key: the budget's message when the spending budget the judgment ran under
refused a model call after others were made (BudgetExhausted part way), so there is no verdict.
Such a judgment is not logged as feedback, and Evaluate leaves its pair to judge on resume."""


class JudgeVerdict(BaseModel):
    """What running a judge on one trace gives: a value or an error, never a made-up value."""

    judge: str = Field(description="'name@version'")
    trace_id: str
    value: bool | int | float | str | None = None
    rationale: str | None = None
    error: str | None = None
    findings: list[Finding] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="iterations, tool_calls, input_tokens, output_tokens, cost_usd, latency_s, model, warnings, "
        "rate_limited",
    )
    assessment_id: str | None = Field(None, description="The feedback that records this verdict, once logged.")
