"""An order agent: many orders in one state, served concurrently by keyed processes.

Each order lives at ``domain.orders.<order_id>``. The processes are registered once and bound
to an order per call through ``{order_id}`` placeholders, so requests for different orders
never conflict; only the shared stock counter is contended, and compare-and-swap keeps it
exact. The model call is a keyed process of its own, so a conflict elsewhere never repeats it.

Run it: ``python examples/order_agent.py`` (prints what it did).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from theus import RetryPolicy, TheusEngine, process

WORKFLOW = """
name: order_agent
args: [order_id]
steps:
  - classify
  - flux: if
    condition: args.order_id != "" and domain.stock > 0
    then: [reserve]
    else: [reject]
"""


def build(orders: int, stock: int, *, io_delay: float = 0.001) -> tuple[TheusEngine, dict[str, int]]:
    """An engine holding `orders` new orders and `stock` units, with the agent's processes."""
    calls: dict[str, int] = {}
    lock = threading.Lock()
    engine = TheusEngine({"domain": {
        "stock": stock,
        "orders": {f"o{i}": {"qty": 1, "status": "new"} for i in range(orders)},
    }})

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.label"],
             retry=RetryPolicy(max_attempts=3, initial_delay=0.001))
    def classify(ctx, order_id):
        with lock:
            calls[order_id] = calls.get(order_id, 0) + 1
        time.sleep(io_delay)  # stands for the model call (I/O: the GIL is released)
        return "priority" if ctx.domain.orders[order_id].qty > 5 else "standard"

    @process(inputs=["domain.orders.{order_id}", "domain.stock"],
             outputs=["domain.orders.{order_id}.status", "domain.stock"])
    def reserve(ctx, order_id):
        if ctx.domain.stock < ctx.domain.orders[order_id].qty:
            return "rejected", ctx.domain.stock
        return "reserved", ctx.domain.stock - ctx.domain.orders[order_id].qty

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.status"])
    def reject(ctx, order_id):
        return "rejected"

    for p in (classify, reserve, reject):
        engine.register(p)
    return engine, calls


def serve(engine: TheusEngine, orders: int, threads: int = 8) -> list:
    """Run the workflow once per order on a pool of threads; returns the RunResults."""
    wf = engine.load_workflow(WORKFLOW)
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda i: engine.execute_workflow(wf, {"order_id": f"o{i}"}), range(orders)))


def main() -> None:
    engine, calls = build(orders=50, stock=40)
    runs = serve(engine, 50)
    statuses = [engine.state.domain.orders[f"o{i}"].status for i in range(50)]
    print(f"served {len(runs)} orders on 8 threads: {statuses.count('reserved')} reserved, "
          f"{statuses.count('rejected')} rejected, stock left {engine.state.domain.stock}")
    print(f"model calls: {sum(calls.values())} for {len(calls)} orders; "
          f"runs completed: {sum(r.status == 'completed' for r in runs)}")


if __name__ == "__main__":
    main()
