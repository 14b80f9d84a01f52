"""Time the shared operations of ONE framework, in the interpreter of that framework's own venv.

Run as `python measure.py PEER OUT.json` (make bench-peers does it, one subprocess per peer).
PEER is one of PEERS below. Only the standard library and the peer's own packages are imported,
so the file runs unchanged in every venv. OUT.json receives
`{"peer": ..., "version": ..., "python": ..., "ops": {op: {"s": seconds, "how": ...} |
{"na": why}}}`; the operation names are table.OPS. Figures are medians of per-operation times,
each taken through the framework's public API, as its users would call it.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

ARRAY_BYTES = 500 * 2**20
BIG = 100_000


def per_op(fn: Callable[[int], None], n: int, repeats: int = 9) -> float:
    """Median seconds per operation of fn(n), which runs the operation n times (after a warm-up)."""
    fn(max(1, n // 10))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(n)
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples)


def keys(n: int) -> dict[str, int]:
    return {f"k{i}": i for i in range(n)}


def big_array() -> Any:
    import numpy as np

    return np.ones(ARRAY_BYTES // 8)  # every page touched


def ok(seconds: float, how: str) -> dict[str, Any]:
    return {"s": seconds, "how": how}


def na(why: str) -> dict[str, Any]:
    return {"na": why}


# -- theus, this repository (the project's .venv) -------------------------------------------

def theus_ours() -> dict[str, Any]:
    from theus import TheusEngine, process

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def increment(ctx):
        return ctx.domain.counter + 1

    ops: dict[str, Any] = {}
    engine = TheusEngine({"domain": keys(10)})
    engine.update({"domain.k5": -1})  # read state that went through a commit

    def read(n: int) -> None:
        for _ in range(n):
            engine.state.domain["k5"]

    ops["read"] = ok(per_op(read, 20_000), 'engine.state.domain["k5"]')
    held = engine.state.domain

    def read_held(n: int) -> None:
        for _ in range(n):
            held["k5"]

    ops["read_held"] = ok(per_op(read_held, 100_000), 'view["k5"], view = engine.state.domain')
    for op, size in (("update_10", 10), ("update_100k", BIG)):
        e = TheusEngine({"domain": keys(size)})

        def update(n: int, e=e) -> None:
            up = e.update
            for i in range(n):
                up({"domain.k5": i})

        ops[op] = ok(per_op(update, 10_000), 'engine.update({"domain.k5": i})')

    e = TheusEngine({"domain": {"counter": 0}})
    e.register(increment)

    def step(n: int) -> None:
        for _ in range(n):
            e.execute(increment)

    ops["step"] = ok(per_op(step, 10_000), "engine.execute(increment), 1 input / 1 output")
    wf = e.load_workflow("steps:\n" + "  - increment\n" * 100)

    def workflow(n: int) -> None:
        for _ in range(n):
            wf.run(e)

    ops["workflow_100"] = ok(per_op(workflow, 20), "wf.run(engine), a Flux list of 100 increment steps")

    @process(outputs=["heavy.x"])
    def write(ctx, value):
        return value

    seen = [None]

    @process(inputs=["heavy.x"])
    def read_big(ctx):
        seen[0] = ctx.heavy.x[0]

    h = TheusEngine({"heavy": {"x": None}})
    h.register(write)
    h.register(read_big)
    big = big_array()

    def through(n: int) -> None:
        for _ in range(n):
            h.execute(write, value=big)
            h.execute(read_big)

    ops["array_500mb"] = ok(per_op(through, 200), "execute(write heavy.x), then execute(read heavy.x[0])")
    return ops


# -- theus 3.0.25, the Rust implementation (its own venv, CPython >= 3.12) -----------------

def theus_rs() -> dict[str, Any]:
    from theus import TheusEngine, process

    @process(inputs=["domain.counter"], outputs=["domain.counter"])
    def increment(ctx):
        return ctx.domain.counter + 1

    ops: dict[str, Any] = {}
    engine = TheusEngine(context={"domain": keys(10)})
    with engine.transaction() as tx:
        tx.update(data={"domain": {"k5": -1}})

    def read(n: int) -> None:
        for _ in range(n):
            engine.state.domain["k5"]

    ops["read"] = ok(per_op(read, 5_000), 'engine.state.domain["k5"]')
    held = engine.state.domain

    def read_held(n: int) -> None:
        for _ in range(n):
            held["k5"]

    ops["read_held"] = ok(per_op(read_held, 100_000), 'view["k5"], view = engine.state.domain')
    for op, size, n, reps in (("update_10", 10, 2_000, 9), ("update_100k", BIG, 5, 5)):
        e = TheusEngine(context={"domain": keys(size)})

        def update(n: int, e=e) -> None:
            for i in range(n):
                with e.transaction() as tx:
                    tx.update(data={"domain": {"k5": i}})

        ops[op] = ok(per_op(update, n, reps), 'with engine.transaction() as tx: tx.update(data={"domain": {"k5": i}})')

    e = TheusEngine(context={"domain": {"counter": 0}})
    e.register(increment)

    def step(n: int) -> None:
        async def go() -> None:
            for _ in range(n):
                await e.execute(increment)

        asyncio.run(go())

    ops["step"] = ok(per_op(step, 500), "await engine.execute(increment), 1 input / 1 output (one event loop)")
    path = os.path.join(tempfile.mkdtemp(), "wf.yaml")
    with open(path, "w") as f:
        f.write("steps:\n" + "  - process: increment\n" * 100)

    def workflow(n: int) -> None:
        for _ in range(n):
            asyncio.run(e.execute_workflow(path))

    ops["workflow_100"] = ok(per_op(workflow, 5, 5), "asyncio.run(engine.execute_workflow(yaml)), 100 process steps")

    @process(outputs=["heavy.x"])
    def write(ctx, value):
        return value

    seen = [None]

    @process(inputs=["heavy.x"])
    def read_big(ctx):
        seen[0] = ctx.heavy.x[0]

    h = TheusEngine(context={"heavy": {"x": None}})
    h.register(write)
    h.register(read_big)
    big = big_array()

    def through(n: int) -> None:
        async def go() -> None:
            for _ in range(n):
                await h.execute(write, value=big)
                await h.execute(read_big)

        asyncio.run(go())

    ops["array_500mb"] = ok(per_op(through, 50, 5), "await execute(write heavy.x), then await execute(read heavy.x[0])")
    return ops


# -- Apache Burr ---------------------------------------------------------------------------

def burr() -> dict[str, Any]:
    from burr.core import ApplicationBuilder, State, action, default

    @action(reads=["counter"], writes=["counter"])
    def increment(state: State) -> State:
        return state.update(counter=state["counter"] + 1)

    ops: dict[str, Any] = {}
    app = (ApplicationBuilder().with_actions(inc=increment).with_transitions(("inc", "inc", default))
           .with_state(counter=0, **keys(10)).with_entrypoint("inc").build())
    app.step()

    def read(n: int) -> None:
        for _ in range(n):
            app.state["k5"]

    ops["read"] = ok(per_op(read, 20_000), 'app.state["k5"]')
    held = app.state

    def read_held(n: int) -> None:
        for _ in range(n):
            held["k5"]

    ops["read_held"] = ok(per_op(read_held, 100_000), 'state["k5"], state = app.state')
    for op, size, n in (("update_10", 10, 10_000), ("update_100k", BIG, 20)):
        s = State(keys(size))

        def update(n: int, s=s) -> None:
            for i in range(n):
                s.update(k5=i)

        ops[op] = ok(per_op(update, n), "state.update(k5=i) (what an action returns; Burr copies the dict)")

    def step(n: int) -> None:
        for _ in range(n):
            app.step()

    ops["step"] = ok(per_op(step, 2_000), "app.step() of an @action reading and writing counter")
    chain = {f"s{i}": increment for i in range(100)}

    def workflow(n: int) -> None:
        for _ in range(n):
            a = (ApplicationBuilder().with_actions(**chain)
                 .with_transitions(*[(f"s{i}", f"s{i + 1}", default) for i in range(99)])
                 .with_state(counter=0).with_entrypoint("s0").build())
            a.run(halt_after=["s99"])

    ops["workflow_100"] = ok(per_op(workflow, 20),
                             "ApplicationBuilder()...build().run(halt_after=[last]), 100 chained actions "
                             "(a finished application does not rerun, so the build is in the figure)")
    big = big_array()

    @action(reads=[], writes=["x"])
    def write(state: State) -> State:
        return state.update(x=big)

    seen = [None]

    @action(reads=["x"], writes=[])
    def read_big(state: State) -> State:
        seen[0] = state["x"][0]
        return state

    h = (ApplicationBuilder().with_actions(write=write, read=read_big)
         .with_transitions(("write", "read", default), ("read", "write", default))
         .with_state(x=None).with_entrypoint("write").build())

    def through(n: int) -> None:
        for _ in range(n):
            h.step()
            h.step()

    ops["array_500mb"] = ok(per_op(through, 1, 5), "app.step() of an action writing x, then of one reading x[0] "
                                                  "(Burr deep-copies the fields an action reads)")
    return ops


# -- LangGraph -----------------------------------------------------------------------------

def langgraph() -> dict[str, Any]:
    from typing import TypedDict

    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph

    class Counter(TypedDict):
        counter: int

    def increment(state):
        return {"counter": state["counter"] + 1}

    def stateful(size: int):
        schema = TypedDict("Keys", {f"k{i}": int for i in range(size)})  # type: ignore[misc]
        g = StateGraph(schema)
        g.add_node("touch", lambda s: {"k5": s["k5"] + 1})
        g.add_edge(START, "touch")
        g.add_edge("touch", END)
        graph = g.compile(checkpointer=InMemorySaver())
        cfg = {"configurable": {"thread_id": "bench"}}
        graph.invoke(keys(size), cfg)
        return graph, cfg

    ops: dict[str, Any] = {}
    graph, cfg = stateful(10)

    def read(n: int) -> None:
        for _ in range(n):
            graph.get_state(cfg).values["k5"]

    ops["read"] = ok(per_op(read, 500), 'graph.get_state(config).values["k5"] (checkpointer: InMemorySaver)')
    held = graph.get_state(cfg).values

    def read_held(n: int) -> None:
        for _ in range(n):
            held["k5"]

    ops["read_held"] = ok(per_op(read_held, 100_000), 'values["k5"], values = graph.get_state(config).values (a dict)')

    def update_of(graph, cfg):
        def update(n: int) -> None:
            for i in range(n):
                graph.update_state(cfg, {"k5": i})

        return update

    ops["update_10"] = ok(per_op(update_of(graph, cfg), 500), 'graph.update_state(config, {"k5": i}), one channel per key')
    t0 = time.perf_counter()
    graph, cfg = stateful(BIG)
    setup = time.perf_counter() - t0
    ops["update_100k"] = ok(per_op(update_of(graph, cfg), 1, 3),
                            f'graph.update_state(config, {{"k5": i}}), 100k channels (compiling and the first '
                            f"invoke took {setup:.0f} s)")
    del graph

    g = StateGraph(Counter)
    g.add_node("inc", increment)
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    one = g.compile()

    def step(n: int) -> None:
        for _ in range(n):
            one.invoke({"counter": 0})

    ops["step"] = ok(per_op(step, 500), 'graph.invoke({"counter": 0}) of a one-node graph (no public single-step call)')
    g = StateGraph(Counter)
    for i in range(100):
        g.add_node(f"s{i}", increment)
    g.add_edge(START, "s0")
    for i in range(99):
        g.add_edge(f"s{i}", f"s{i + 1}")
    g.add_edge("s99", END)
    chain = g.compile()

    def workflow(n: int) -> None:
        for _ in range(n):
            chain.invoke({"counter": 0}, {"recursion_limit": 1000})

    ops["workflow_100"] = ok(per_op(workflow, 10, 5), "graph.invoke(...) of a chain of 100 nodes")
    big = big_array()
    seen = [None]

    class Arr(TypedDict):
        x: Any

    def read_big(state):
        seen[0] = state["x"][0]
        return {}

    g = StateGraph(Arr)
    g.add_node("write", lambda s: {"x": big})
    g.add_node("read", read_big)
    g.add_edge(START, "write")
    g.add_edge("write", "read")
    g.add_edge("read", END)
    arr = g.compile()

    def through(n: int) -> None:
        for _ in range(n):
            arr.invoke({"x": None})

    ops["array_500mb"] = ok(per_op(through, 200),
                            "graph.invoke of write -> read nodes, no checkpointer (one with a checkpointer "
                            "serialises the array)")
    return ops


# -- pyrsistent and immutables: persistent maps, no steps ----------------------------------

NO_STEP = "a map: no steps"


def persistent_map(make: Callable[[dict], Any], name: str) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    m = make(keys(10)).set("k5", -1)

    def read(n: int) -> None:
        for _ in range(n):
            m["k5"]

    ops["read"] = ok(per_op(read, 100_000), f'{name}["k5"]')
    ops["read_held"] = ops["read"]
    for op, size in (("update_10", 10), ("update_100k", BIG)):
        mm = make(keys(size))

        def update(n: int, mm=mm) -> None:
            s = mm.set
            for i in range(n):
                s("k5", i)

        ops[op] = ok(per_op(update, 50_000), f'{name}.set("k5", i)')
    for op in ("step", "workflow_100", "array_500mb"):
        ops[op] = na(NO_STEP)
    return ops


def pyrsistent() -> dict[str, Any]:
    import pyrsistent as p

    return persistent_map(p.pmap, "pmap")


def immutables() -> dict[str, Any]:
    import immutables as im

    return persistent_map(im.Map, "immutables.Map")


PEERS: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "theus": (theus_ours, "theus"),
    "theus-rs": (theus_rs, "theus"),
    "burr": (burr, "apache-burr"),
    "langgraph": (langgraph, "langgraph"),
    "pyrsistent": (pyrsistent, "pyrsistent"),
    "immutables": (immutables, "immutables"),
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in PEERS:
        print(f"usage: measure.py {{{','.join(PEERS)}}} OUT.json", file=sys.stderr)
        return 2
    fn, dist = PEERS[argv[1]]
    from importlib import metadata

    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        version = "(from source)"
    ops = fn()
    result = {"peer": argv[1], "version": version, "python": sys.version.split()[0], "ops": ops}
    with open(argv[2], "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
