"""Fixtures for the Flux tests: an engine with a counter, recording processes and a call log."""

from __future__ import annotations

import pytest

from theus import TheusEngine, process


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def inc(ctx):
    return ctx.domain.counter + 1


@process(inputs=["domain.flag"], outputs=["domain.flag"])
def set_flag(ctx):
    return True


def recorder(name: str, log: list):
    """A process called ``name`` that appends ``(name, kwargs)`` to ``log`` and writes nothing."""

    def fn(ctx, **kwargs):
        log.append((name, kwargs))

    fn.__name__ = fn.__qualname__ = name
    return process(inputs=[], outputs=[])(fn)


@pytest.fixture
def calls() -> list:
    """Every recorder call of the test, in order: ``(name, kwargs)``."""
    return []


@pytest.fixture
def engine(calls) -> TheusEngine:
    e = TheusEngine({
        "domain": {
            "counter": 0,
            "flag": False,
            "items": [1, 2, 3],
            "empty": [],
            "key": "x",
            "s": "True",
            "n": 7,
            "a": {"b": {"c": 2.5}},
        },
        "global": {"vip": True, "enabled": True, "done": False, "disabled": False},
    })
    e.register(inc)
    e.register(set_flag)
    for name in ("a", "b", "c", "d", "rec"):
        e.register(recorder(name, calls))
    return e
