"""What a labeling schema asks for: its input kind, and the check a label's value must pass.

Modelled on MLflow's label schema inputs (InputPassFail, InputCategorical, InputCategoricalList,
InputNumeric, InputText). Each kind turns the values people and assistants actually send into one
stored form, so a label compares equal with a judge's verdict and with a filter:
- pass_fail stores a boolean. true/false, and the strings 'pass'/'fail', 'yes'/'no',
  'true'/'false' (any case) are accepted; SearchTraces matches it with
  feedback.<schema> = 'false' (or = FALSE).
- categorical stores the option as the schema spells it (an exact match first, then a match
  ignoring case); with multiple=true a list of options in the schema's order.
- numeric stores a number; a string holding a number ('4', '3.5') is read as that number.
- text stores the string as given; an empty or blank string is refused.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from store.errors import InvalidArgument

MAX_OPTIONS = 100
MAX_OPTION_CHARS = 200
MAX_TEXT_LENGTH = 10_000
"""The most a text label may hold (the store caps an assessment's value at about this much)."""

_TRUE = ("true", "pass", "yes")
_FALSE = ("false", "fail", "no")


class PassFailInput(BaseModel):
    """A yes/no verdict, stored as true or false."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["pass_fail"]

    def describe(self) -> str:
        return "true or false (also 'pass'/'fail' or 'yes'/'no')"

    def check(self, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise InvalidArgument(f"expected {self.describe()}; got {value!r}")


class CategoricalInput(BaseModel):
    """One of a fixed list of options (or, with multiple=true, a list of them)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["categorical"]
    options: list[str] = Field(description=f"1 to {MAX_OPTIONS} distinct strings.")
    multiple: bool = Field(False, description="A label may pick several (a list).")

    @model_validator(mode="after")
    def _options(self) -> CategoricalInput:
        if not self.options or len(self.options) > MAX_OPTIONS:
            raise ValueError(f"a categorical input needs 1 to {MAX_OPTIONS} options, e.g. ['billing', 'technical']")
        if any(not o.strip() or len(o) > MAX_OPTION_CHARS for o in self.options):
            raise ValueError(f"each option must be a non-blank string of at most {MAX_OPTION_CHARS} characters")
        if len({o.lower() for o in self.options}) != len(self.options):
            raise ValueError("options must be distinct (ignoring case)")
        return self

    def describe(self) -> str:
        options = ", ".join(repr(o) for o in self.options)
        return f"a list of one or more of {options}" if self.multiple else f"one of {options}"

    def _option(self, value: Any) -> str:
        if isinstance(value, str):
            if value in self.options:
                return value
            folded = [o for o in self.options if o.lower() == value.strip().lower()]
            if folded:
                return folded[0]
        raise InvalidArgument(f"expected {self.describe()}; got {value!r}")

    def check(self, value: Any) -> str | list[str]:
        if not self.multiple:
            return self._option(value)
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values:
            raise InvalidArgument(f"expected {self.describe()}; got {value!r}")
        chosen = {self._option(v) for v in values}
        return [o for o in self.options if o in chosen]


class NumericInput(BaseModel):
    """A number, optionally within [minimum, maximum]."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["numeric"]
    minimum: float | None = Field(None, description="Lowest allowed.")
    maximum: float | None = Field(None, description="Highest allowed.")

    @model_validator(mode="after")
    def _range(self) -> NumericInput:
        for bound in (self.minimum, self.maximum):
            if bound is not None and not math.isfinite(bound):
                raise ValueError("minimum and maximum must be finite numbers")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} exceeds maximum {self.maximum:g}")
        return self

    def describe(self) -> str:
        if self.minimum is not None and self.maximum is not None:
            return f"a number from {self.minimum:g} to {self.maximum:g}"
        if self.minimum is not None:
            return f"a number >= {self.minimum:g}"
        if self.maximum is not None:
            return f"a number <= {self.maximum:g}"
        return "a number"

    def check(self, value: Any) -> int | float:
        number: int | float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                try:
                    number = float(value.strip())
                except ValueError:
                    number = None
        if number is None or not math.isfinite(number):
            raise InvalidArgument(f"expected {self.describe()}; got {value!r}")
        if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
            raise InvalidArgument(f"{number:g} is out of range: expected {self.describe()}")
        return number


class TextInput(BaseModel):
    """Free text, at most max_length characters."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["text"]
    max_length: int | None = Field(
        None, ge=1, le=MAX_TEXT_LENGTH, description=f"Default {MAX_TEXT_LENGTH:,}."
    )

    def describe(self) -> str:
        return f"a non-blank string of at most {self.max_length or MAX_TEXT_LENGTH:,} characters"

    def check(self, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgument(f"expected {self.describe()}; got {value!r}")
        limit = self.max_length or MAX_TEXT_LENGTH
        if len(value) > limit:
            raise InvalidArgument(f"the text is {len(value):,} characters; expected {self.describe()}")
        return value


LabelInput = Annotated[
    PassFailInput | CategoricalInput | NumericInput | TextInput,
    Field(discriminator="kind"),
]
"""A schema's input, picked by `kind`."""

INPUT_EXAMPLES = (
    '{"kind": "pass_fail"}, {"kind": "categorical", "options": ["billing", "technical"], "multiple": false}, '
    '{"kind": "numeric", "minimum": 1, "maximum": 5}, {"kind": "text", "max_length": 2000}'
)

_ADAPTER: TypeAdapter[PassFailInput | CategoricalInput | NumericInput | TextInput] = TypeAdapter(LabelInput)


def parse_input(data: Any) -> PassFailInput | CategoricalInput | NumericInput | TextInput:
    """An input kind from its JSON object; InvalidArgument naming what is wrong and the forms allowed."""
    if isinstance(data, PassFailInput | CategoricalInput | NumericInput | TextInput):
        return data
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise InvalidArgument(f"input is not a labeling input ({problems}); give one of {INPUT_EXAMPLES}.") from None
