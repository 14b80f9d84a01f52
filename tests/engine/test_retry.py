"""RetryPolicy: a process whose function raises is re-run on a fresh snapshot after a delay."""

from __future__ import annotations

import asyncio
import pickle
import random
import time

import pytest

import theus
from theus import ArgumentError, ContractViolationError, RetryPolicy, TheusEngine, process


@pytest.fixture
def sleeps(monkeypatch):
    """A fake clock: sleeps are recorded, not slept."""
    seen: list[float] = []
    monkeypatch.setattr(time, "sleep", seen.append)

    async def fake_async_sleep(d):
        seen.append(d)

    monkeypatch.setattr(asyncio, "sleep", fake_async_sleep)
    return seen


def flaky(fail_times: int, exc: type[BaseException] = TimeoutError, policy: RetryPolicy | None = None):
    calls = []

    @process(inputs=["domain.n"], outputs=["domain.n"], retry=policy or RetryPolicy(jitter=False))
    def bump(ctx):
        calls.append(ctx.version)
        ctx.outbox.add("attempt", len(calls))
        if len(calls) <= fail_times:
            raise exc(f"failure {len(calls)}")
        return ctx.domain.n + 1

    return bump, calls


def test_a_raising_process_is_rerun_after_the_backoff(sleeps):
    e = TheusEngine({"domain": {"n": 0}})
    bump, calls = flaky(2)
    assert e.execute(bump) == 1
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]
    assert e.state.version == 1  # one commit: the failed attempts wrote nothing
    msgs = []
    e.process_outbox(msgs.append)
    assert [m.payload for m in msgs] == [3]  # only the successful attempt's message


def test_the_last_failure_is_raised_after_max_attempts(sleeps):
    e = TheusEngine({"domain": {"n": 0}})
    bump, calls = flaky(10, policy=RetryPolicy(max_attempts=4, initial_delay=0.1, backoff=3, max_delay=0.5, jitter=False))
    with pytest.raises(TimeoutError, match="failure 4"):
        e.execute(bump)
    assert len(calls) == 4
    assert sleeps == pytest.approx([0.1, 0.3, 0.5])
    assert e.state.version == 0
    assert e.process_outbox(lambda m: None) == 0


def test_only_matching_exceptions_are_retried(sleeps):
    e = TheusEngine({"domain": {"n": 0}})
    bump, calls = flaky(1, exc=KeyError, policy=RetryPolicy(retry_on=(TimeoutError, ConnectionError)))
    with pytest.raises(KeyError):
        e.execute(bump)
    assert len(calls) == 1 and sleeps == []


def test_contract_mistakes_are_never_retried(sleeps):
    e = TheusEngine({"domain": {"n": 0, "secret": 1}})
    calls = []

    @process(inputs=["domain.n"], outputs=["domain.n"], retry=RetryPolicy(retry_on=Exception))
    def peek(ctx):
        calls.append(1)
        return ctx.domain.secret

    with pytest.raises(ContractViolationError):
        e.execute(peek)
    assert calls == [1] and sleeps == []


def test_async_processes_retry_with_asyncio_sleep(sleeps):
    e = TheusEngine({"domain": {"n": 0}})
    calls = []

    @process(inputs=["domain.n"], outputs=["domain.n"], retry=RetryPolicy(max_attempts=2, initial_delay=0.2, jitter=False))
    async def bump(ctx):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("down")
        return ctx.domain.n + 5

    assert asyncio.run(e.execute_async(bump)) == 5
    assert sleeps == [0.2] and len(calls) == 2


def test_retries_see_a_fresh_snapshot(sleeps):
    e = TheusEngine({"domain": {"n": 0, "other": 0}})
    seen = []

    @process(inputs=["domain.n"], outputs=["domain.n"], retry=RetryPolicy(jitter=False))
    def bump(ctx):
        seen.append(ctx.version)
        if len(seen) == 1:
            e.update({"domain.other": 1})
            raise TimeoutError("once")
        return ctx.domain.n + 1

    e.execute(bump)
    assert seen == [0, 1]


def test_delays_grow_cap_and_jitter():
    p = RetryPolicy(initial_delay=0.5, backoff=2, max_delay=3, jitter=False)
    assert [p.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert RetryPolicy(jitter=False, backoff=10).delay(10_000) == 30.0  # no overflow
    j = RetryPolicy(initial_delay=1, backoff=2, max_delay=100)
    rng = random.Random(7)
    for n in range(1, 6):
        d = j.delay(n, rng)
        assert 2 ** (n - 1) / 2 <= d <= 2 ** (n - 1)


@pytest.mark.parametrize("kwargs, field", [
    ({"max_attempts": 0}, "max_attempts"),
    ({"max_attempts": True}, "max_attempts"),
    ({"max_attempts": 2.0}, "max_attempts"),
    ({"initial_delay": -1}, "initial_delay"),
    ({"initial_delay": float("nan")}, "initial_delay"),
    ({"backoff": 0.5}, "backoff"),
    ({"max_delay": float("inf")}, "max_delay"),
    ({"jitter": 1}, "jitter"),
    ({"retry_on": ()}, "retry_on"),
    ({"retry_on": (int,)}, "retry_on"),
    ({"retry_on": "TimeoutError"}, "retry_on"),
])
def test_bad_fields_are_argument_errors_naming_the_field(kwargs, field):
    with pytest.raises(ArgumentError, match=field):
        RetryPolicy(**kwargs)


def test_process_retry_must_be_a_policy():
    with pytest.raises(ContractViolationError, match="RetryPolicy"):
        @process(outputs=["domain.n"], retry={"max_attempts": 3})
        def p(ctx):
            return 1


def test_from_fields_names_the_place_and_the_field():
    p = RetryPolicy.from_fields({"max_attempts": 5, "retry_on": ["TimeoutError", "FluxError"]}, "step x")
    assert p.max_attempts == 5 and p.retry_on == (TimeoutError, theus.FluxError)
    with pytest.raises(ArgumentError, match="step x: retry: unknown field 'tries'"):
        RetryPolicy.from_fields({"tries": 5}, "step x")
    with pytest.raises(ArgumentError, match="'NoSuchError' is not an exception"):
        RetryPolicy.from_fields({"retry_on": ["NoSuchError"]}, "step x")


def test_a_policy_is_plain_data():
    p = RetryPolicy(max_attempts=5, retry_on=TimeoutError)
    assert pickle.loads(pickle.dumps(p)) == p
    assert p.retry_on == (TimeoutError,)
