"""Filling a prompt's `{{ name }}` variables (MLflow's semantics) and showing a template as text.

format replaces every variable of the template in one pass, so a value that itself contains
`{{ x }}` is never expanded again. A variable without a value is an error naming every missing
one, unless allow_partial leaves those in place; values the template does not use are ignored,
so a caller can pass a whole record of inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from store.errors import InvalidArgument
from store.prompts import VARIABLE, Template, template_variables


def format_template(
    template: Template, values: Mapping[str, Any], *, allow_partial: bool = False, what: str = "the prompt"
) -> str | list[dict[str, str]]:
    """The text (or the chat messages) with each variable replaced by str() of its value.

    InvalidArgument names the variables with no value, unless `allow_partial`."""
    if not allow_partial:
        missing = [name for name in template_variables(template) if name not in values]
        if missing:
            given = ", ".join(sorted(values)) or "none"
            raise InvalidArgument(
                f"{what} needs a value for {', '.join(missing)} (values given: {given}); pass "
                f"format({', '.join(f'{m}=...' for m in missing)}), or allow_partial=True to leave them in place."
            )

    def fill(text: str) -> str:
        return VARIABLE.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), text)

    if isinstance(template, str):
        return fill(template)
    return [{"role": m["role"], "content": fill(m["content"])} for m in template]


def template_text(template: Template) -> str:
    """A template as readable text: itself, or each chat message as a 'role:' line and its content."""
    if isinstance(template, str):
        return template
    return "\n\n".join(f"{m['role']}:\n{m['content']}" for m in template)
