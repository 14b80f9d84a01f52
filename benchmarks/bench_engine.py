"""The engine's transaction path: one engine.execute against calling the bare function, and
four threads on disjoint counters against one thread doing the same work."""

from __future__ import annotations

import statistics
import threading
import time
import types

from common import fmt, header, per_op, row

from theus import TheusEngine, process

PREVIOUS_RUST_EXECUTE_S = 9.3e-6  # published transactional-update figure of the Rust implementation
TARGET_EXECUTE_S = 3e-6
THREADS = 4


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment(ctx):
    return ctx.domain.counter + 1


def _counter_process(i: int):
    path = f"domain.c{i}"
    leaf = f"c{i}"

    def inc(ctx):
        return getattr(ctx.domain, leaf) + 1

    inc.__name__ = f"inc{i}"
    return process(inputs=[path], outputs=[path])(inc)


def bench_execute() -> None:
    header("engine.execute, 1 input / 1 output")
    engine = TheusEngine({"domain": {"counter": 0}})
    engine.register(increment)
    ctx_like = types.SimpleNamespace(domain=types.SimpleNamespace(counter=0))

    def run_engine(n: int) -> None:
        execute = engine.execute
        for _ in range(n):
            execute(increment)

    def run_by_name(n: int) -> None:
        execute = engine.execute
        for _ in range(n):
            execute("increment")

    def run_bare(n: int) -> None:
        for _ in range(n):
            ctx_like.domain.counter = increment(ctx_like)

    t_engine = per_op(run_engine, 20_000)
    t_name = per_op(run_by_name, 20_000)
    t_bare = per_op(run_bare, 200_000)
    row("engine.execute(increment)", t_engine, "increment(SimpleNamespace ctx)", t_bare)
    row('engine.execute("increment")', t_name, "increment(SimpleNamespace ctx)", t_bare)
    row("engine.execute(increment)", t_engine, "previous Rust impl (published)", PREVIOUS_RUST_EXECUTE_S,
        f"(target {fmt(TARGET_EXECUTE_S).strip()}: {fmt(t_engine).strip()})")


def _round(threads: int, per_thread: int) -> float:
    """Ops/s of one round on a fresh engine: with several threads, thread i runs `per_thread`
    executes of counter process i; with one thread, it runs all the processes in turn."""
    procs = [_counter_process(i) for i in range(THREADS)]
    engine = TheusEngine({"domain": {f"c{i}": 0 for i in range(THREADS)}})
    for p in procs:
        engine.register(p)
    if threads == 1:
        execute = engine.execute
        t0 = time.perf_counter()
        for _ in range(per_thread):
            for p in procs:
                execute(p)
        elapsed = time.perf_counter() - t0
    else:
        start = threading.Barrier(threads + 1)

        def work(p) -> None:
            execute = engine.execute
            start.wait()
            for _ in range(per_thread):
                execute(p)

        workers = [threading.Thread(target=work, args=(p,)) for p in procs]
        for w in workers:
            w.start()
        start.wait()
        t0 = time.perf_counter()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
    with engine.state as snap:
        got = [snap[f"domain.c{i}"] for i in range(THREADS)]
    engine.close()
    if got != [per_thread] * THREADS:
        raise RuntimeError(f"lost updates: counters {got}, expected {per_thread} each")
    return THREADS * per_thread / elapsed


def bench_threads() -> None:
    header(f"{THREADS} threads on disjoint counters (domain.c0..c{THREADS - 1}) vs 1 thread, same total work")
    per_thread = 20_000
    many: list[float] = []
    one: list[float] = []
    for _ in range(6):  # alternate so that drift in machine load hits both alike; first is warm-up
        many.append(_round(THREADS, per_thread))
        one.append(_round(1, per_thread))
    ops_threads = statistics.median(many[1:])
    ops_one = statistics.median(one[1:])
    row(f"{THREADS} threads, time per execute", 1 / ops_threads, "1 thread, time per execute", 1 / ops_one)
    print(f"  {THREADS} threads: {ops_threads:,.0f} ops/s   1 thread: {ops_one:,.0f} ops/s   "
          f"throughput ratio {ops_threads / ops_one:.2f}x ({THREADS * per_thread:,} executes per round)")


def bench_context() -> None:
    header("a process with 5 declared inputs that writes nothing: engine.execute (snapshot, resolve, ctx, call)")
    engine = TheusEngine({"domain": {f"k{i}": i for i in range(5)}, "global": {"limit": 1}})

    @process(inputs=[f"domain.k{i}" for i in range(4)] + ["global.limit"], outputs=[], semantic="pure")
    def five(ctx):
        return None

    engine.register(five)
    engine.update({"domain.k0": 0})  # views of a committed version, as users read them
    values = {f"domain.k{i}": i for i in range(4)}
    values["global.limit"] = 1

    def run_execute(n: int) -> None:
        for _ in range(n):
            engine.execute(five)

    def run_dict(n: int) -> None:
        for _ in range(n):
            five({"domain": {k.split(".")[1]: v for k, v in values.items() if k.startswith("domain.")}, "global": {"limit": 1}})

    row("execute, 5 inputs, no writes", per_op(run_execute, 50_000), "nested dict built + call", per_op(run_dict, 50_000),
        "(target under 3 µs)")


def main() -> None:
    bench_execute()
    bench_context()
    bench_threads()


if __name__ == "__main__":
    main()
