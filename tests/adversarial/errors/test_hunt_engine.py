"""Hostile arguments at the engine's public entry points: each raises a TheusError subclass
naming the argument."""
import pytest

import theus
from theus import ArgumentError, ContractViolationError, PathError, TheusEngine, TransactionError, process


def _engine():
    return TheusEngine({"domain": {"x": 1}}, history=2)


CASES = [
    ("at(-1)", lambda e: e.at(-1), ArgumentError, "version"),
    ("at(future)", lambda e: e.at(99), TransactionError, "future"),
    ("at(True)", lambda e: e.at(True), ArgumentError, "got bool"),
    ("at(1.0)", lambda e: e.at(1.0), ArgumentError, "got float"),
    ("at(huge)", lambda e: e.at(2**70), ArgumentError, "too large"),
    ("at('1')", lambda e: e.at("1"), ArgumentError, "got str"),
    ("at(None)", lambda e: e.at(None), ArgumentError, "got NoneType"),
    ("diff(-1)", lambda e: e.diff(-1, 0), ArgumentError, "v1"),
    ("diff(True)", lambda e: e.diff(True, 0), ArgumentError, "v1"),
    ("diff(0, 1.5)", lambda e: e.diff(0, 1.5), ArgumentError, "v2"),
    ("diff(huge)", lambda e: e.diff(2**70, 0), ArgumentError, "too large"),
    ("budget=-1", lambda e: e.execute_workflow("steps: []", budget=-1), ArgumentError, "budget"),
    ("budget=True", lambda e: e.execute_workflow("steps: []", budget=True), ArgumentError, "budget"),
    ("execute_workflow(3)", lambda e: e.execute_workflow(3), ArgumentError, "workflow"),
    ("load_workflow(3)", lambda e: e.load_workflow(3), ArgumentError, "workflow"),
    ("register(3)", lambda e: e.register(3), ContractViolationError, "not a process"),
    ("update([1])", lambda e: e.update([1]), ArgumentError, "updates"),
    ("cas(True)", lambda e: e.compare_and_swap(True, {"domain.x": 2}), ArgumentError, "expected_version"),
    ("cas('0')", lambda e: e.compare_and_swap("0", {"domain.x": 2}), ArgumentError, "expected_version"),
    ("cas(0.0)", lambda e: e.compare_and_swap(0.0, {"domain.x": 2}), ArgumentError, "expected_version"),
    ("update empty key", lambda e: e.update({"": 1}), PathError, "empty path"),
    ("update empty segment", lambda e: e.update({"domain..x": 1}), PathError, "empty path segment"),
    ("update trailing dot", lambda e: e.update({"domain.": 1}), PathError, "empty path segment"),
    ("update int key", lambda e: e.update({3: 1}), PathError, "expected a dotted str"),
    ("process_outbox(3)", lambda e: e.process_outbox(3), ArgumentError, "handler"),
    ("start_relay(None)", lambda e: e.start_relay(None), ArgumentError, "handler"),
    ("start_relay interval str", lambda e: e.start_relay(print, interval="1"), ArgumentError, "interval"),
    ("start_relay interval 0", lambda e: e.start_relay(print, interval=0), ArgumentError, "interval"),
    ("start_relay interval nan", lambda e: e.start_relay(print, interval=float("nan")), ArgumentError, "interval"),
    ("start_relay interval bool", lambda e: e.start_relay(print, interval=True), ArgumentError, "interval"),
    ("execute unknown name", lambda e: e.execute("nope"), ContractViolationError, "no process named"),
    ("execute(3)", lambda e: e.execute(3), ContractViolationError, "not a process"),
    ("TheusEngine(retries=-1)", lambda e: TheusEngine({}, retries=-1), ArgumentError, "retries"),
    ("TheusEngine(retries=True)", lambda e: TheusEngine({}, retries=True), ArgumentError, "retries"),
    ("TheusEngine(history='2')", lambda e: TheusEngine({}, history="2"), ArgumentError, "history"),
    ("TheusEngine(strict_cas=1)", lambda e: TheusEngine({}, strict_cas=1), ArgumentError, "strict_cas"),
    ("TheusEngine(3)", lambda e: TheusEngine(3), ArgumentError, "context"),
    ("TheusEngine int keys", lambda e: TheusEngine({1: 2}), ArgumentError, "keys"),
    ("State(3)", lambda e: theus.State(3), ArgumentError, "State"),
    ("@process outputs [3]", lambda e: process(outputs=[3])(lambda ctx: 1), ContractViolationError, "outputs"),
    ("@process semantic", lambda e: process(semantic="x")(lambda ctx: 1), ContractViolationError, "semantic"),
    ("@process on int", lambda e: process()(3), ContractViolationError, "decorates a function"),
    ("@process unknown option", lambda e: process(ouputs=["domain.x"]), ArgumentError, "did you mean"),
    ("@process retries -1", lambda e: process(retries=-1)(lambda ctx: 1), ContractViolationError, "retries"),
]


@pytest.mark.parametrize("call, exc, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_arguments(call, exc, fragment):
    e = _engine()
    try:
        with pytest.raises(exc, match=None) as info:
            call(e)
        assert isinstance(info.value, theus.TheusError)
        assert fragment in str(info.value)
        assert "strconv" not in str(info.value) and "runtime error" not in str(info.value)
        assert e.state.to_dict() == {"domain": {"x": 1}}
    finally:
        e.stop_relay()
        e.close()


CLOSED = [
    ("process_outbox", lambda e: e.process_outbox(print)),
    ("history", lambda e: e.history()),
    ("at", lambda e: e.at(0)),
    ("diff", lambda e: e.diff(0, 0)),
    ("state", lambda e: e.state),
    ("update", lambda e: e.update({"domain.x": 2})),
    ("compare_and_swap", lambda e: e.compare_and_swap(0, {"domain.x": 2})),
    ("register", lambda e: e.register(process(outputs=["domain.x"])(lambda ctx: 1))),
    ("start_relay", lambda e: e.start_relay(print)),
    ("load_workflow", lambda e: e.load_workflow("steps: []")),
    ("execute_workflow", lambda e: e.execute_workflow("steps: []")),
]


@pytest.mark.parametrize("call", [c[1] for c in CLOSED], ids=[c[0] for c in CLOSED])
def test_every_method_after_close_is_argument_error(call):
    e = _engine()
    e.close()
    with pytest.raises(ArgumentError, match="closed"):
        call(e)


def test_pure_process_outbox_hint_points_to_effect():
    e = _engine()

    @process(outputs=["domain.x"], semantic="pure")
    def pu(ctx):
        ctx.outbox.add("t", 1)
        return 1

    e.register(pu)
    with pytest.raises(ContractViolationError, match='semantic="effect"'):
        e.execute(pu)
    assert e.state.to_dict() == {"domain": {"x": 1}}


def test_close_inside_a_process_is_argument_error():
    e = _engine()

    @process(outputs=["domain.x"])
    def closer(ctx):
        e.close()
        return 2

    e.register(closer)
    with pytest.raises(ArgumentError, match="closed"):
        e.execute(closer)
