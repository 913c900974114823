"""Output types say what they expect in words a model and a person read, bounds included."""

from __future__ import annotations

import pytest

from mcp_server.judges.definition import OutputType
from store.errors import InvalidArgument


@pytest.mark.parametrize(
    "output, expected",
    [
        (OutputType(kind="int", minimum=0), "an integer >= 0"),
        (OutputType(kind="float", minimum=0, maximum=1), "a number from 0 to 1"),
        (OutputType(kind="float", maximum=5), "a number <= 5"),
        (OutputType(kind="int"), "an integer"),
        (OutputType(kind="categorical", categories=["yes", "no"]), "one of 'yes', 'no'"),
    ],
)
def test_describe_names_the_type_and_only_the_bounds_it_has(output: OutputType, expected: str) -> None:
    assert output.describe() == expected


def test_a_value_out_of_range_is_an_error_naming_the_range_not_a_clamped_value() -> None:
    with pytest.raises(InvalidArgument, match="outside the range: expected an integer from 1 to 5"):
        OutputType(kind="int", minimum=1, maximum=5).validate_value(6)
    with pytest.raises(InvalidArgument, match="expected an integer"):
        OutputType(kind="int").validate_value(2.5)
    assert OutputType(kind="float", minimum=0, maximum=1).validate_value(1) == 1.0
