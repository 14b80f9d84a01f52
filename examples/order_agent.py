"""An order agent: many orders in one state, served concurrently by keyed processes.

Each order lives at ``domain.orders.<order_id>``. The processes are registered once and bound
to an order per call through ``{order_id}`` placeholders, so work on different orders never
conflicts; only the shared stock counter is contended, and compare-and-swap keeps it exact.
The model call is a keyed process of its own with a RetryPolicy, so a conflict elsewhere
never repeats it, and a flaky model is retried without committing anything twice.

- ``serve``: one run per order (``args: {order_id: ...}``) on a pool of threads;
- ``WORKFLOW``: classify, then reserve stock or reject; a model failure is handled by a
  ``flux: try`` (the order is flagged for a person); orders above the limit wait for a
  person's approval (``flux: wait``, then ``engine.resume``);
- ``BATCH``: triage and decide every pending order, fanned out with ``flux: map``.

Run it: ``python examples/order_agent.py`` (prints what it did).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from theus import RetryPolicy, TheusEngine, process

TRIAGE = """
  - flux: try
    do: [classify]
    errors: [TimeoutError]
    except: [flag]
"""

DECIDE = """
  - flux: if
    condition: domain.stock > 0
    then: [reserve]
    else: [reject]
"""

WORKFLOW = "name: order_agent\nargs: [order_id]\nsteps:" + TRIAGE + """
  - flux: if
    condition: domain.orders[args.order_id].qty > domain.approval_limit
    then:
      - flux: wait
        for: approval
      - flux: if
        condition: args.approval == "yes"
        then: [reserve]
        else: [reject]
    else:""" + "".join("\n    " + line for line in DECIDE.strip("\n").splitlines()) + "\n"

BATCH = """
name: order_batch
steps:
  - flux: map
    over: domain.pending
    as: order_id
    concurrency: 8
    do:
""" + "".join("    " + line + "\n" for line in (TRIAGE + DECIDE).strip("\n").splitlines())


def build(orders: int, stock: int, *, io_delay: float = 0.001, qty: int = 1, limit: int = 5,
          flaky: frozenset[str] = frozenset()) -> tuple[TheusEngine, dict[str, int]]:
    """An engine holding `orders` new orders of `qty` units each and `stock` units, with the
    agent's processes; the model times out once for the order ids in `flaky`."""
    calls: dict[str, int] = {}
    lock = threading.Lock()
    engine = TheusEngine({"domain": {
        "stock": stock,
        "approval_limit": limit,
        "pending": [f"o{i}" for i in range(orders)],
        "orders": {f"o{i}": {"qty": qty, "status": "new"} for i in range(orders)},
    }})

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.label"],
             retry=RetryPolicy(max_attempts=2, initial_delay=0.001, retry_on=ConnectionError))
    def classify(ctx, order_id):
        with lock:
            calls[order_id] = n = calls.get(order_id, 0) + 1
        time.sleep(io_delay)  # stands for the model call (I/O: the GIL is released)
        if order_id in flaky and n == 1:
            raise ConnectionError("model unavailable")  # retried by the policy
        if order_id in flaky and n == 2:
            raise TimeoutError("model too slow")  # handled by the workflow's try
        return "priority" if ctx.domain.orders[order_id].qty > 5 else "standard"

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.label"])
    def flag(ctx, order_id, error):
        return f"needs a person: {error['message']}"

    @process(inputs=["domain.orders.{order_id}", "domain.stock"],
             outputs=["domain.orders.{order_id}.status", "domain.stock"])
    def reserve(ctx, order_id):
        if ctx.domain.stock < ctx.domain.orders[order_id].qty:
            return "rejected", ctx.domain.stock
        return "reserved", ctx.domain.stock - ctx.domain.orders[order_id].qty

    @process(inputs=["domain.orders.{order_id}"], outputs=["domain.orders.{order_id}.status"])
    def reject(ctx, order_id):
        return "rejected"

    for p in (classify, flag, reserve, reject):
        engine.register(p)
    return engine, calls


def serve(engine: TheusEngine, orders: int, threads: int = 8) -> list:
    """Run the workflow once per order on a pool of threads; returns the RunResults."""
    wf = engine.load_workflow(WORKFLOW)
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda i: engine.execute_workflow(wf, {"order_id": f"o{i}"}), range(orders)))


def main() -> None:
    engine, calls = build(orders=50, stock=40, flaky=frozenset({"o7"}))
    runs = serve(engine, 50)
    statuses = [engine.state.domain.orders[f"o{i}"].status for i in range(50)]
    print(f"served {len(runs)} orders on 8 threads: {statuses.count('reserved')} reserved, "
          f"{statuses.count('rejected')} rejected, stock left {engine.state.domain.stock}")
    print(f"model calls: {sum(calls.values())} for {len(calls)} orders "
          f"(o7 retried, then flagged: {engine.state.domain.orders.o7.label!r})")

    big, _ = build(orders=3, stock=100, qty=10)
    waiting = serve(big, 3)
    print(f"orders above the approval limit: {[r.status for r in waiting]} for {waiting[0].waiting_for!r}")
    done = [big.resume(r, approval="yes" if i != 1 else "no") for i, r in enumerate(waiting)]
    print(f"after approval: {[big.state.domain.orders[f'o{i}'].status for i in range(3)]}, "
          f"runs {[r.status for r in done]}")

    batch, calls = build(orders=24, stock=20)
    run = batch.execute_workflow(BATCH)
    statuses = [batch.state.domain.orders[f"o{i}"].status for i in range(24)]
    print(f"batch of 24 with flux: map (8 at a time): {statuses.count('reserved')} reserved, "
          f"{statuses.count('rejected')} rejected, {len(run.steps)} steps, one model call each: "
          f"{set(calls.values()) == {1}}")


if __name__ == "__main__":
    main()
