"""What a model call returns: the answer, its tool calls, and what it cost."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Usage(BaseModel):
    """Tokens and cost; add them up over the calls of a judgment with `+` or `Usage.total`."""

    model_config = {"frozen": True}

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )

    @classmethod
    def total(cls, usages: Any) -> Usage:
        """The sum of an iterable of Usage (or of Completion, through `.usage`)."""
        result = cls()
        for item in usages:
            result = result + (item.usage if isinstance(item, Completion) else item)
        return result


class ToolCall(BaseModel):
    """One tool call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Parsed arguments; empty when arguments_error is set."
    )
    arguments_json: str = Field("", description="The arguments exactly as the model sent them.")
    arguments_error: str | None = Field(
        None, description="Why arguments_json is not a JSON object; send it back to the model."
    )


class Completion(BaseModel):
    """One answer from a model, with its usage. Tokens and cost cover this call only."""

    model: str = Field(description="The litellm model name that answered.")
    text: str = Field("", description="The message content; empty when the model only called tools.")
    parsed: dict[str, Any] | None = Field(
        None, description="The JSON object of a structured answer (when response_schema was given)."
    )
    structured_mode: Literal["response_format", "prompt"] | None = Field(
        None, description="How JSON was asked for: the provider's response_format, or the prompt."
    )
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_note: str | None = Field(None, description="Why cost_usd is 0 when it is not known.")
    tokens_estimated: bool = Field(False, description="True when the tokens are an estimate (MCP sampling reports none).")
    latency_s: float = Field(0.0, description="Seconds from the first attempt to the answer, waits included.")
    attempts: int = Field(1, description="HTTP attempts made (1 when nothing was retried).")

    @property
    def usage(self) -> Usage:
        return Usage(
            input_tokens=self.input_tokens, output_tokens=self.output_tokens, cost_usd=self.cost_usd
        )

    def assistant_message(self) -> dict[str, Any]:
        """This answer as an OpenAI-format assistant message, to append to the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.name, "arguments": c.arguments_json}}
                for c in self.tool_calls
            ]
        return message
