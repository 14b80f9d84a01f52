"""OpenTelemetry spans per workflow run, step and commit, checked with the SDK's in-memory exporter."""

from __future__ import annotations

import pytest

from theus import RetryPolicy, TheusEngine, process

sdk = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


@pytest.fixture(scope="module")
def exporter():
    exp = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    trace.set_tracer_provider(provider)
    return exp


def test_a_run_gives_a_span_tree(exporter, monkeypatch):
    import time
    monkeypatch.setattr(time, "sleep", lambda s: None)
    exporter.clear()
    e = TheusEngine({"domain": {"n": 0}})
    calls = []

    @process(inputs=["domain.n"], outputs=["domain.n"], retry=RetryPolicy(max_attempts=2))
    def inc(ctx):
        calls.append(1)
        if len(calls) == 1:
            raise TimeoutError("once")
        return ctx.domain.n + 1

    e.register(inc)
    e.execute_workflow("name: traced\nsteps:\n  - inc\n  - flux: if\n    condition: domain.n > 0\n    then: [inc]\n")
    spans = exporter.get_finished_spans()
    run = next(s for s in spans if s.name == "theus.run traced")
    steps = [s for s in spans if s.name == "theus.step inc"]
    assert len(steps) == 2
    assert all(s.parent.span_id == run.context.span_id for s in steps)
    first = min(steps, key=lambda s: s.start_time)
    assert first.attributes["theus.retries"] == 1 and first.attributes["theus.outcome"] == "ok"
    commits = [ev for s in steps for ev in s.events if ev.name == "theus.commit"]
    assert [c.attributes["version"] for c in commits] == [1, 2]
    assert commits[0].attributes["paths"] == "domain.n"
    assert any(ev.name == "theus.retry" for ev in first.events)
    assert any(ev.name == "theus.condition" for ev in run.events)
    assert run.attributes["theus.status"] == "completed"


def test_a_failed_run_marks_its_spans(exporter):
    exporter.clear()
    e = TheusEngine({"domain": {}})

    @process(outputs=["domain.x"])
    def bad(ctx):
        raise ValueError("no")

    e.register(bad)
    with pytest.raises(ValueError):
        e.execute_workflow("name: failing\nsteps: [bad]\n")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["theus.step bad"].status.status_code == trace.StatusCode.ERROR
    assert spans["theus.run failing"].status.status_code == trace.StatusCode.ERROR
