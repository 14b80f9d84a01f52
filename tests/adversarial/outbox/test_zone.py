"""The outbox zone belongs to the engine: no process, admin write or initial context can write,
drop, replace or forge queued messages; stale and pure contexts cannot add."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from theus import (ArgumentError, ContractViolationError, OutboxMsg, StateUpdate, TheusEngine, process)
from theus.contracts import ProcessSpec


@pytest.fixture
def engine():
    e = TheusEngine({"domain": {"x": 0}})

    @process(outputs=["domain.x"])
    def send(ctx):
        ctx.outbox.add("real", 1)
        return 1
    e.execute(send)
    assert e.outbox.pending == 1
    yield e
    e.close()


def _delivered(engine):
    got = []
    engine.process_outbox(got.append)
    return [(m.topic, m.payload) for m in got]


@pytest.mark.parametrize("kw", [
    {"outputs": ["outbox.m000000000001_000000"]},
    {"outputs": ["outbox.queue"]},
    {"outputs": ["outbox.queue.00000000000000000009_1"]},
    {"outputs": ["outbox.dead"]},
    {"outputs": ["domain.x", "outbox.delivery"]},
    {"inputs": ["outbox"]},
    {"inputs": ["outbox.queue"]},
])
def test_contracts_under_the_outbox_zone_are_refused(kw):
    with pytest.raises(ContractViolationError, match="belongs to the engine"):
        @process(**kw)
        def forge(ctx):
            return None


def test_a_spec_built_by_hand_is_checked_too(engine):
    with pytest.raises(ContractViolationError, match="belongs to the engine"):
        ProcessSpec("forge", lambda ctx: None, (), ("outbox.queue",), "effect", (), None, False)


def test_a_pure_process_cannot_declare_the_outbox_output():
    with pytest.raises(ContractViolationError, match='semantic="effect"'):
        @process(outputs=["outbox"], semantic="pure")
        def pure(ctx):
            return []


@pytest.mark.parametrize("value", [{}, [], (), "x", 1, [1], [OutboxMsg("ok"), {"topic": "forged"}],
                                   {"outbox.queue.00000000000000000009_1": "forged"}])
def test_the_outbox_output_takes_only_a_list_of_messages(engine, value):
    @process(outputs=["outbox"])
    def drop(ctx):
        return value
    if value in ([], ()):
        engine.execute(drop)  # nothing to send: nothing commits
    else:
        with pytest.raises(ContractViolationError, match="outbox"):
            engine.execute(drop)
    assert engine.state.version == 1
    assert _delivered(engine) == [("real", 1)]  # the queued message was neither dropped nor replaced


def test_a_state_update_under_the_outbox_is_refused(engine):
    @process(outputs=["outbox"])
    def forge(ctx):
        return StateUpdate({"outbox.queue.00000000000000000009_1": ("forged", 1, None)})

    @process(outputs=["domain"])
    def outside(ctx):
        return StateUpdate({"outbox.m1": {"topic": "forged", "payload": 1}})
    with pytest.raises(ContractViolationError, match="belongs to the engine"):
        engine.execute(forge)
    with pytest.raises(ContractViolationError, match="outside"):
        engine.execute(outside)
    assert _delivered(engine) == [("real", 1)]


@pytest.mark.parametrize("updates", [{"outbox": {}}, {"outbox.queue": {}}, {"outbox.m1": {"topic": "x"}},
                                     {"domain.y": 1, "outbox.dead.x": 1}])
def test_admin_writes_under_the_outbox_are_refused(engine, updates):
    with pytest.raises(ContractViolationError, match="belongs to the engine"):
        engine.update(updates)
    with pytest.raises(ContractViolationError, match="belongs to the engine"):
        engine.compare_and_swap(engine.state.version, updates)
    assert engine.state.version == 1
    assert _delivered(engine) == [("real", 1)]


@pytest.mark.parametrize("box", [{"m1": {"topic": "t", "payload": 1}}, [1], "x", {"queue": {}}, None, 0])
def test_user_data_under_the_outbox_is_refused_at_construction(box):
    with pytest.raises(ContractViolationError, match="outbox"):
        TheusEngine({"domain": {}, "outbox": box})


def test_an_empty_outbox_zone_in_the_context_is_fine():
    e = TheusEngine({"domain": {}, "outbox": {}})
    assert e.outbox.pending == 0
    e.close()


def test_an_outbox_output_does_not_conflict_with_deliveries(engine):
    """The output "outbox" appends: deliveries (which change the zone) never make it retry."""
    attempts = []

    @process(inputs=["domain.x"], outputs=["domain.x", "outbox"])
    def confirm(ctx):
        attempts.append(1)
        if len(attempts) == 1:
            engine.process_outbox(lambda m: None)  # commits claims and removals meanwhile
        return ctx.domain.x + 1, [OutboxMsg("confirmed", ctx.domain.x)]
    engine.execute(confirm)
    assert len(attempts) == 1
    assert _delivered(engine) == [("confirmed", 1)]


# --- stale and pure contexts ------------------------------------------------------------------------

def test_adding_on_a_kept_ctx_raises(engine):
    kept = []

    @process(outputs=["domain.x"])
    def keep(ctx):
        kept.append(ctx)
        ctx.outbox.add("in time", 1)
        return 2
    engine.execute(keep)
    with pytest.raises(ContractViolationError, match="attempt this outbox belongs to is over"):
        kept[0].outbox.add("late", 1)
    assert [t for t, _ in _delivered(engine)] == ["real", "in time"]


def test_adding_after_a_raising_attempt_raises(engine):
    kept = []

    @process(outputs=["domain.x"])
    def boom(ctx):
        kept.append(ctx.outbox)
        raise ValueError("boom")
    with pytest.raises(ValueError):
        engine.execute(boom)
    with pytest.raises(ContractViolationError, match="is over"):
        kept[0].add("late", 1)


def test_adding_from_a_thread_after_the_process_returned_raises(engine):
    ready, errors = threading.Event(), []
    done = threading.Event()

    @process(outputs=["domain.x"])
    def spawn(ctx):
        def later():
            ready.wait(10)
            try:
                ctx.outbox.add("late", 1)
            except ContractViolationError as e:
                errors.append(e)
            done.set()
        threading.Thread(target=later).start()
        return 3
    engine.execute(spawn)
    ready.set()
    assert done.wait(10)
    assert len(errors) == 1
    assert _delivered(engine) == [("real", 1)]


def test_an_add_racing_the_end_of_its_attempt_either_commits_or_raises(engine):
    # A thread keeps adding to ctx.outbox while the process returns: every add that did not
    # raise must be committed; none may vanish between the engine's take and the seal.
    sent, refused = [], []

    @process(outputs=["domain.x"])
    def racing(ctx):
        box = ctx.outbox
        started = threading.Event()

        def adder():
            i = 0
            while True:
                try:
                    box.add("race", i)
                except ContractViolationError:
                    refused.append(i)
                    return
                sent.append(i)
                i += 1
                started.set()

        threading.Thread(target=adder).start()
        started.wait(10)
        return 5

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        for _ in range(200):
            _race_once(engine, racing, sent, refused)
    finally:
        sys.setswitchinterval(interval)


def _race_once(engine, racing, sent, refused):
    before = engine.outbox.pending
    sent.clear()
    refused.clear()
    engine.execute(racing)
    waited = threading.Event()
    for _ in range(10_000):  # the adder stops at its first refused add
        if refused:
            break
        waited.wait(0.001)
    assert refused, "the adder never saw the seal"
    assert engine.outbox.pending - before == len(sent)


def test_adding_after_an_async_process_returned_raises(engine):
    kept = []

    @process(outputs=["domain.x"])
    async def send(ctx):
        await asyncio.sleep(0)
        ctx.outbox.add("async", 1)
        kept.append(ctx.outbox)
        return 4
    asyncio.run(engine.execute_async(send))
    with pytest.raises(ContractViolationError, match="is over"):
        kept[0].add("late", 1)
    assert [t for t, _ in _delivered(engine)] == ["real", "async"]


@pytest.mark.parametrize("add", [lambda o: o.add("t", 1), lambda o: o.add(OutboxMsg("t")),
                                 lambda o: o.add("t", 1, key="k")])
def test_pure_process_add_points_to_semantic_effect(engine, add):
    @process(outputs=["domain.x"], semantic="pure")
    def pure(ctx):
        add(ctx.outbox)
        return 5
    with pytest.raises(ContractViolationError, match='semantic="effect"'):
        engine.execute(pure)
    assert engine.state.version == 1


@pytest.mark.parametrize("bad", [42, None, {"topic": "t"}, b"t"])
def test_add_of_a_non_message_names_what_it_got(engine, bad):
    @process(outputs=["domain.x"])
    def send(ctx):
        ctx.outbox.add(bad)
    with pytest.raises(ContractViolationError, match=type(bad).__name__):
        engine.execute(send)
    assert engine.state.version == 1


def test_add_with_a_bad_topic_names_it(engine):
    @process(outputs=["domain.x"])
    def send(ctx):
        ctx.outbox.add("", 1)
    with pytest.raises(ArgumentError, match="topic"):
        engine.execute(send)
    assert engine.state.version == 1


def test_add_of_a_message_with_a_payload_beside_it_is_refused(engine):
    @process(outputs=["domain.x"])
    def send(ctx):
        ctx.outbox.add(OutboxMsg("t", 1), 2)
    with pytest.raises(ContractViolationError, match="inside the OutboxMsg"):
        engine.execute(send)
