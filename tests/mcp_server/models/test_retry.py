"""Retries, backoff, Retry-After, timeouts and context-length errors, through litellm's HTTP path."""

from __future__ import annotations

import random
import socket
import time

import pytest

from mcp_server.models import (
    ContextLengthExceeded,
    ModelConfigurationError,
    ModelNotFound,
    ModelRateLimited,
    ModelSettings,
    ModelTimeout,
    ModelUnavailable,
    ModelUnreachable,
    PersistentModelError,
    QuotaExhausted,
    RetryNotice,
    complete,
)
from mcp_server.models.provider_errors import retry_after_seconds
from mcp_server.models.retry import backoff_delay, observe_retries
from tests.support.scripted_openai import (
    ScriptedOpenAI,
    context_length_exceeded,
    error,
    rate_limited,
    server_error,
    text,
)

ASK = [{"role": "user", "content": "Judge this trace."}]


def on(server: ScriptedOpenAI, settings: ModelSettings) -> dict[str, object]:
    """The operator's direct call: any model may be named."""
    return {"settings": settings.model_copy(update={"allowed_models": None}), "api_base": server.url,
            "api_key": "sk-scripted"}


async def test_429_is_retried_and_retry_after_is_honoured(scripted_openai: ScriptedOpenAI) -> None:
    settings = ModelSettings(max_attempts=3, initial_backoff_s=0.001, max_backoff_s=5)
    scripted_openai.push(rate_limited(retry_after_s=0.3), text("ok"))
    notices: list[RetryNotice] = []

    answer = await complete(ASK, model="openai/scripted-model", on_retry=notices.append,
                            **on(scripted_openai, settings))

    assert answer.text == "ok" and answer.attempts == 2
    first, second = scripted_openai.chat_requests
    assert second.at - first.at >= 0.3  # not the 1 ms backoff: the server's Retry-After
    [notice] = notices
    assert notice.attempt == 1 and notice.retry_after_s == 0.3
    assert 0.3 <= notice.delay_s <= 0.33  # plus at most 10% jitter
    assert isinstance(notice.error, ModelRateLimited)
    assert second.json == first.json  # the same request again


async def test_retry_after_is_capped_by_max_backoff(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(rate_limited(retry_after_s=3600), rate_limited(retry_after_ms=600_000), text("ok"))
    notices: list[RetryNotice] = []
    started = time.monotonic()

    answer = await complete(ASK, model="openai/scripted-model", on_retry=notices.append,
                            **on(scripted_openai, fast))

    assert answer.attempts == 3
    assert [n.retry_after_s for n in notices] == [3600, 600]
    assert all(n.delay_s == fast.max_backoff_s for n in notices)
    assert time.monotonic() - started < 5


async def test_429_on_every_attempt_gives_up_with_a_rate_limit_error(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(*[rate_limited()] * 3)

    with pytest.raises(ModelRateLimited) as caught:
        await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert caught.value.attempts == 3
    assert "gave up after 3 attempts" in str(caught.value) and "429" in str(caught.value)
    assert len(scripted_openai.chat_requests) == 3


async def test_exhausted_quota_is_a_persistent_error_not_rate_limiting_and_is_not_retried(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    # The code says it, the wording need not (OpenAI's own wording varies by endpoint).
    scripted_openai.push(error(429, "Billing hard limit reached.", code="insufficient_quota", type="insufficient_quota"))

    with pytest.raises(QuotaExhausted) as caught:
        await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert isinstance(caught.value, PersistentModelError) and not isinstance(caught.value, ModelRateLimited)
    assert "the provider account is out of quota (Billing hard limit reached.)" in str(caught.value)
    assert "add credit to the account" in str(caught.value)
    assert len(scripted_openai.chat_requests) == 1


async def test_a_model_the_provider_does_not_know_is_a_configuration_error_and_is_not_retried(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(error(404, "The model `gpt-nope` does not exist or you do not have access to it.",
                               code="model_not_found", type="invalid_request_error"))

    with pytest.raises(ModelNotFound) as caught:
        await complete(ASK, model="openai/gpt-nope", **on(scripted_openai, fast))

    assert isinstance(caught.value, ModelConfigurationError)
    assert "model 'openai/gpt-nope' was not found by its provider" in str(caught.value)
    assert "check the model name" in str(caught.value)
    assert len(scripted_openai.chat_requests) == 1


async def test_500_on_every_attempt_gives_up_after_max_attempts_with_a_clear_error(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(server_error(500), server_error(502), server_error(500))

    with pytest.raises(ModelUnavailable) as caught:
        await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert not isinstance(caught.value, ModelRateLimited)
    assert caught.value.attempts == fast.max_attempts == 3
    assert "'openai/scripted-model' is unavailable" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)
    assert len(scripted_openai.chat_requests) == 3  # neither litellm nor the SDK added attempts


async def test_503_then_an_answer_succeeds_on_the_second_attempt(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(server_error(503), text("ok", prompt_tokens=5, completion_tokens=1))

    answer = await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert (answer.text, answer.attempts, answer.input_tokens) == ("ok", 2, 5)


async def test_a_body_that_is_not_an_openai_answer_is_retried_as_a_server_failure(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    from tests.support.scripted_openai import broken_body

    scripted_openai.push(broken_body(), text("ok"))

    answer = await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert (answer.text, answer.attempts) == ("ok", 2)


async def test_a_refused_connection_is_retried_then_reported(fast: ModelSettings) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(ModelUnreachable) as caught:
        await complete(ASK, model="openai/scripted-model", settings=fast,
                       api_base=f"http://127.0.0.1:{port}/v1", api_key="sk-scripted")

    assert isinstance(caught.value, ModelUnavailable) and caught.value.attempts == 3
    assert "cannot be reached" in str(caught.value) and "check that its server is up" in str(caught.value)


async def test_context_length_error_is_its_own_type_and_is_not_retried(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(context_length_exceeded(limit=8192, requested=9000))

    with pytest.raises(ContextLengthExceeded) as caught:
        await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    message = str(caught.value)
    assert "context window" in message and "maximum context length is 8192 tokens" in message
    assert "max_content_length" in message  # the fix
    assert caught.value.attempts == 1
    assert len(scripted_openai.chat_requests) == 1


async def test_a_slow_answer_hits_the_timeout_and_is_not_retried(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(text("too late").after(30))
    started = time.monotonic()

    with pytest.raises(ModelTimeout) as caught:
        await complete(ASK, model="openai/scripted-model", timeout_s=0.5, **on(scripted_openai, fast))

    assert time.monotonic() - started < 5
    assert "within 0.5 s" in str(caught.value) and "TRACEJUDGE_JUDGE_TIMEOUT_S" in str(caught.value)
    assert len(scripted_openai.chat_requests) == 1


async def test_an_answer_inside_the_timeout_arrives(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    scripted_openai.push(text("in time").after(0.2))

    answer = await complete(ASK, model="openai/scripted-model", timeout_s=5, **on(scripted_openai, fast))

    assert answer.text == "in time" and answer.latency_s >= 0.2


def test_backoff_doubles_with_jitter_and_stays_under_the_cap() -> None:
    settings = ModelSettings(initial_backoff_s=1, max_backoff_s=6)
    rng = random.Random(7)

    delays = [[backoff_delay(attempt, settings, rng=rng) for attempt in (1, 2, 3, 4)] for _ in range(200)]

    for d1, d2, d3, d4 in delays:
        assert 0.5 <= d1 <= 1 and 1 <= d2 <= 2 and 2 <= d3 <= 4 and 3 <= d4 <= 6
    assert len({round(d[0], 6) for d in delays}) > 100  # jittered, not one value


def test_retry_after_headers_in_every_form() -> None:
    assert retry_after_seconds({"Retry-After": "2"}) == 2
    assert retry_after_seconds({"retry-after": "0.25"}) == 0.25
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_seconds({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480) == 10
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({"retry-after": "-3"}) == 0
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


async def test_an_observer_hears_the_retries_made_inside_its_block_only(
    scripted_openai: ScriptedOpenAI, fast: ModelSettings
) -> None:
    heard: list[RetryNotice] = []
    scripted_openai.push(rate_limited(retry_after_s=0.001), text("inside"), rate_limited(retry_after_s=0.001), text("outside"))

    with observe_retries(heard.append):
        inside = await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))
    outside = await complete(ASK, model="openai/scripted-model", **on(scripted_openai, fast))

    assert (inside.text, outside.text) == ("inside", "outside")
    assert [type(n.error) for n in heard] == [ModelRateLimited]
