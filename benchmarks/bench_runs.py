"""Many sessions in one state: the order agent's throughput on 8 threads beside the same work
serialized with a lock, and a keyed engine.execute beside an unkeyed one."""

from __future__ import annotations

import importlib.util
import pathlib
import statistics
import threading
import time

from common import header, per_op, row

from theus import TheusEngine, process

ROOT = pathlib.Path(__file__).resolve().parent.parent
ORDERS = 200
THREADS = 8


def _agent():
    spec = importlib.util.spec_from_file_location("order_agent", ROOT / "examples" / "order_agent.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bench_agent() -> None:
    header(f"order agent: {ORDERS} orders, a 1 ms model call each, orders per second")
    agent = _agent()

    def concurrent() -> float:
        engine, calls = agent.build(ORDERS, ORDERS, io_delay=0.001)
        t0 = time.perf_counter()
        runs = agent.serve(engine, ORDERS, threads=THREADS)
        dt = time.perf_counter() - t0
        assert all(r.status == "completed" for r in runs) and sum(calls.values()) == ORDERS
        return dt

    def serialized() -> float:
        engine, calls = agent.build(ORDERS, ORDERS, io_delay=0.001)
        wf = engine.load_workflow(agent.WORKFLOW)
        lock = threading.Lock()

        def one(i: int) -> None:
            with lock:  # the same work, one order at a time
                engine.execute_workflow(wf, {"order_id": f"o{i}"})

        t0 = time.perf_counter()
        threads = [threading.Thread(target=lambda k=k: [one(i) for i in range(k, ORDERS, THREADS)]) for k in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    conc = statistics.median(concurrent() for _ in range(5))
    ser = statistics.median(serialized() for _ in range(5))
    print(f"  {THREADS} threads, keyed processes         {ORDERS / conc:10.0f} orders/s")
    print(f"  the same work serialized with a lock     {ORDERS / ser:10.0f} orders/s   speed-up {ser / conc:5.2f}x")


def bench_keyed_execute() -> None:
    header("keyed engine.execute (domain.orders.{order_id}) vs an unkeyed one")

    @process(inputs=["domain.orders.{order_id}.n"], outputs=["domain.orders.{order_id}.n"])
    def keyed(ctx, order_id):
        return ctx.domain.orders[order_id].n + 1

    @process(inputs=["domain.orders.o1.n"], outputs=["domain.orders.o1.n"])
    def plain(ctx):
        return ctx.domain.orders.o1.n + 1

    engine = TheusEngine({"domain": {"orders": {"o1": {"n": 0}}}})
    engine.register(keyed)
    engine.register(plain)

    def run_keyed(n: int) -> None:
        execute = engine.execute
        for _ in range(n):
            execute(keyed, order_id="o1")

    def run_plain(n: int) -> None:
        execute = engine.execute
        for _ in range(n):
            execute(plain)

    row("execute(keyed, order_id='o1')", per_op(run_keyed, 20_000), "execute(unkeyed)", per_op(run_plain, 20_000))


if __name__ == "__main__":
    bench_keyed_execute()
    bench_agent()
