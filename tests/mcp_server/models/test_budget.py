"""SpendBudget: calls reserve their estimate, refuse once no room is left, and never wait forever;
the calls go through complete(), litellm's real HTTP code and the scripted server."""

from __future__ import annotations

import anyio
import pytest

from mcp_server.models import BudgetExhausted, ModelSettings, Usage, complete
from mcp_server.models.budget import SpendBudget, spending_within
from tests.support.scripted_openai import ScriptedOpenAI, text

# A model litellm prices, so every call under max_cost_usd has an estimate in dollars.
PRICED = "openai/gpt-4o-mini"
HANG_GUARD_S = 30  # not a speed assert: a wait that never ends fails here instead of hanging pytest


async def test_a_call_whose_estimate_exceeds_the_room_left_is_refused_at_once_with_the_figures() -> None:
    budget = SpendBudget(max_cost_usd=1.0)
    budget.add(0, 0.9)

    with anyio.fail_after(HANG_GUARD_S), pytest.raises(BudgetExhausted) as caught:
        await budget.reserve(100, 100, 0.2)

    assert "cost budget reached: $0.9000 spent of max_cost_usd=1" in str(caught.value)
    assert "would cost about $0.2000; it was not sent" in str(caught.value)


async def test_a_call_that_fits_exactly_after_settled_calls_left_rounding_in_the_sums_is_not_kept_waiting() -> None:
    budget = SpendBudget(max_cost_usd=0.7)
    # 0.1 + 0.2 + 0.3 - 0.1 - 0.2 - 0.3 is 1.1e-16, not 0.0, in floating point (and 0.7 + 1.1e-16 > 0.7).
    held = [await budget.reserve(10, 10, cost) for cost in (0.1, 0.2, 0.3)]
    for reservation in held:
        budget.settle(reservation, Usage())  # calls that failed before spending anything

    with anyio.fail_after(HANG_GUARD_S):
        reservation = await budget.reserve(10, 10, 0.7)

    assert budget.in_flight == 1 and reservation.cost_usd == 0.7


async def test_a_call_that_does_not_fit_beside_rounding_residue_with_nothing_in_flight_is_refused() -> None:
    budget = SpendBudget(max_tokens=1_000, max_cost_usd=1.0)
    held = [await budget.reserve(10, 10, cost) for cost in (0.1, 0.2, 0.3)]
    for reservation in held:
        budget.settle(reservation, Usage(input_tokens=5, output_tokens=5, cost_usd=0.25))

    with anyio.fail_after(HANG_GUARD_S), pytest.raises(BudgetExhausted, match="cost budget reached"):
        await budget.reserve(10, 10, 0.3)


async def test_concurrent_calls_near_the_limit_all_finish_sent_or_refused(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.respond_with(lambda request: text("ok", completion_tokens=900).after(0.01))
    budget = SpendBudget(max_cost_usd=0.003)  # room for a few of the calls' estimates, not all
    outcomes: list[str] = []

    async def one(n: int) -> None:
        messages = [{"role": "user", "content": "x" * (40 * n + 7)}]  # estimates of many sizes
        with spending_within(budget):
            try:
                await complete(messages, model=PRICED, settings=fast, api_base=scripted_openai.url,
                               api_key="sk-scripted", max_tokens=1_000)
            except BudgetExhausted:
                outcomes.append("refused")
            else:
                outcomes.append("sent")

    with anyio.fail_after(HANG_GUARD_S):
        async with anyio.create_task_group() as group:
            for n in range(24):
                group.start_soon(one, n)

    assert len(outcomes) == 24 and "sent" in outcomes and "refused" in outcomes
    assert outcomes.count("sent") == len(scripted_openai.chat_requests)  # a refused call is never sent
    assert budget.in_flight == 0 and budget.reserved_cost_usd == 0.0
    assert 0 < budget.spent_cost_usd <= 0.003  # each answer spent less than its estimate
