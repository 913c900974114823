"""A spending budget shared by the model calls of one run (Evaluate's max_tokens and max_cost_usd).

`complete` reserves each call's estimate before sending it: the prompt's tokens (estimated from the
characters of the messages and tools: mcp_server.models.token_estimate) plus the call's max_tokens, or OUTPUT_TOKENS_RESERVED when it sets none,
priced with litellm's map. A call whose reservation does not fit beside those of the calls in
flight waits for them to finish; once what was already spent leaves no room for it, or nothing
else is in flight to free some, it is refused with BudgetExhausted and never sent. A call that
returns replaces its reservation with what it really spent. So a run goes over its budget only by what its calls spend beyond their estimates:
at most one call per worker in flight.

The budget reaches the calls through a context variable (`spending_within`), as retries reach
Evaluate's limiter: judges call the model several layers down, and none has to pass it along.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio

from mcp_server.models.errors import BudgetExhausted, StructuredOutputError
from mcp_server.models.results import Completion, Usage
from mcp_server.models.token_estimate import estimate_tokens
from store.errors import InvalidArgument

OUTPUT_TOKENS_RESERVED = 1_024
"""The answer a call that sets no max_tokens is assumed to stay within (a verdict, a tool call);
what a longer answer spends is part of the overshoot a run reports."""


@dataclass(frozen=True)
class Reservation:
    tokens: int
    cost_usd: float


@dataclass
class SpendBudget:
    """What a run may spend in tokens and USD (None: no limit), and what it spent and holds."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None
    spent_tokens: int = 0
    spent_cost_usd: float = 0.0
    reserved_tokens: int = field(default=0, init=False)
    reserved_cost_usd: float = field(default=0.0, init=False)
    in_flight: int = field(default=0, init=False)
    """Reservations not yet settled: whether waiting can ever free room is decided by this count,
    never by the float sum of reserved costs returning exactly to 0.0 (it need not)."""
    _settled: anyio.Event | None = field(default=None, init=False, repr=False)

    @classmethod
    def limiting(cls, max_tokens: int | None, max_cost_usd: float | None) -> SpendBudget | None:
        """The budget a caller's max_tokens and max_cost_usd set, None when neither is given;
        InvalidArgument (naming the limit) for a limit that is not a positive number."""
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
            raise InvalidArgument(f"max_tokens must be a positive integer (or none for no limit); got {max_tokens!r}.")
        if max_cost_usd is not None and (
            isinstance(max_cost_usd, bool) or not isinstance(max_cost_usd, int | float) or not max_cost_usd > 0
        ):
            raise InvalidArgument(
                f"max_cost_usd must be a positive number of dollars (or none for no limit); got {max_cost_usd!r}."
            )
        return None if max_tokens is None and max_cost_usd is None else cls(max_tokens, max_cost_usd)

    def add(self, tokens: int, cost_usd: float) -> None:
        """Count spend made outside the model calls (an agent run on a dataset record)."""
        self.spent_tokens += tokens
        self.spent_cost_usd += cost_usd
        self._wake()

    async def reserve(self, prompt_tokens: int, answer_tokens: int, cost_usd: float) -> Reservation:
        """Hold room for one call, waiting while calls in flight hold it; BudgetExhausted when
        what was spent leaves too little, or when nothing else is in flight to free room."""
        tokens = prompt_tokens + answer_tokens
        while True:
            if self._fits(tokens, cost_usd, self.reserved_tokens, self.reserved_cost_usd):
                self.reserved_tokens += tokens
                self.reserved_cost_usd += cost_usd
                self.in_flight += 1
                return Reservation(tokens, cost_usd)
            if self.in_flight == 0 or not self._fits(tokens, cost_usd, 0, 0.0):
                raise BudgetExhausted(self._refusal(tokens, cost_usd, prompt_tokens, answer_tokens))
            if self._settled is None:
                self._settled = anyio.Event()
            await self._settled.wait()

    def settle(self, reservation: Reservation, spent: Usage) -> None:
        """Replace a reservation with what its call spent."""
        self.in_flight -= 1
        if self.in_flight == 0:  # exactly nothing held, whatever rounding the sums picked up
            self.reserved_tokens, self.reserved_cost_usd = 0, 0.0
        else:
            self.reserved_tokens -= reservation.tokens
            self.reserved_cost_usd -= reservation.cost_usd
        self.add(spent.total_tokens, spent.cost_usd)

    def reached(self) -> str | None:
        """Which limit the spend has reached, said with the figures; None while there is room."""
        if self.max_tokens is not None and self.spent_tokens >= self.max_tokens:
            return f"token budget reached: {self.spent_tokens:,} tokens used of max_tokens={self.max_tokens:,}"
        if self.max_cost_usd is not None and self.spent_cost_usd >= self.max_cost_usd:
            return f"cost budget reached: ${self.spent_cost_usd:.4f} spent of max_cost_usd={self.max_cost_usd:g}"
        return None

    def overshoot(self) -> str | None:
        """How far the spend went past the limits, said with the figures; None while within them.
        Calls in flight when the budget ran out (at most one per worker) spend what they really
        spend, which may be more than their estimates, whether or not anything was left to do."""
        over = []
        if self.max_tokens is not None and self.spent_tokens > self.max_tokens:
            over.append(f"{self.spent_tokens:,} tokens, {self.spent_tokens - self.max_tokens:,} past "
                        f"max_tokens={self.max_tokens:,}")
        if self.max_cost_usd is not None and self.spent_cost_usd > self.max_cost_usd:
            over.append(f"${self.spent_cost_usd:.4f}, ${self.spent_cost_usd - self.max_cost_usd:.4f} past "
                        f"max_cost_usd={self.max_cost_usd:g}")
        return " and ".join(over) or None

    def _fits(self, tokens: int, cost_usd: float, held_tokens: int, held_cost_usd: float) -> bool:
        return (self.max_tokens is None or self.spent_tokens + held_tokens + tokens <= self.max_tokens) and (
            self.max_cost_usd is None or self.spent_cost_usd + held_cost_usd + cost_usd <= self.max_cost_usd
        )

    def _refusal(self, tokens: int, cost_usd: float, prompt_tokens: int, answer_tokens: int) -> str:
        call = f"about {prompt_tokens:,} tokens of prompt and up to {answer_tokens:,} of answer"
        if self.max_tokens is not None and self.spent_tokens + tokens > self.max_tokens:
            return (
                f"token budget reached: {self.spent_tokens:,} tokens used of max_tokens={self.max_tokens:,}, and "
                f"the next model call needs {call}; it was not sent"
            )
        return (
            f"cost budget reached: ${self.spent_cost_usd:.4f} spent of max_cost_usd={self.max_cost_usd:g}, and "
            f"the next model call ({call}) would cost about ${cost_usd:.4f}; it was not sent"
        )

    def _wake(self) -> None:
        if self._settled is not None:
            self._settled.set()
            self._settled = None


_BUDGET: ContextVar[SpendBudget | None] = ContextVar("tracejudge_spend_budget", default=None)


@contextmanager
def spending_within(budget: SpendBudget) -> Iterator[None]:
    """Make every model call in this block (in this task) reserve from `budget`."""
    token = _BUDGET.set(budget)
    try:
        yield
    finally:
        _BUDGET.reset(token)


def count_spent(tokens: int, cost_usd: float) -> None:
    """Count spend made outside `complete` (a target agent's trace) against the budget in force
    in this task, if any, so later calls see it."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.add(tokens, cost_usd)


async def within_budget(
    call: Callable[[], Awaitable[Completion]],
    *,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None,
    max_tokens: int | None,
    price: Callable[[int, int], float],
) -> Completion:
    """`call()`, with its estimate reserved first when a budget is in force (`price(prompt, answer)`
    gives its cost in USD), and what it spent counted after; a refused call is never made."""
    budget = _BUDGET.get()
    if budget is None:
        return await call()
    prompt_tokens = estimate_tokens([list(messages), list(tools or [])])
    answer_tokens = max_tokens or OUTPUT_TOKENS_RESERVED
    cost = price(prompt_tokens, answer_tokens) if budget.max_cost_usd is not None else 0.0
    reservation = await budget.reserve(prompt_tokens, answer_tokens, cost)
    spent = Usage()
    try:
        completion = await call()
        spent = completion.usage
        return completion
    except StructuredOutputError as exc:  # an answer that could not be parsed was still paid for
        spent = exc.completion.usage
        raise
    finally:
        budget.settle(reservation, spent)
