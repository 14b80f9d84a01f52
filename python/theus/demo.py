"""`python -m theus.demo`: a demo workflow on theus's embedded default state, printing what it
does."""

from __future__ import annotations

import threading

from . import OutboxMsg, TheusEngine, TransactionError, process

DEFAULT_CONTEXT = {
    "domain": {"orders": [], "total": 0, "counter": 0},
    "global": {"vip": True, "discount": 10},
}

DEFAULT_WORKFLOW = """
name: order_flow
description: take three orders, discount VIP totals over 100, announce the result
steps:
  - flux: while
    condition: len(domain.orders) < 3
    max_iterations: 10
    do:
      - process: add_order
        with: {amount: 45}
  - flux: if
    condition: domain.total > 100 and global.vip
    then: [apply_discount]
    else: [notify]
  - notify
"""


@process(inputs=["domain.orders", "domain.total"], outputs=["domain.orders", "domain.total"])
def add_order(ctx, amount):
    """Append an order and add its amount to the total."""
    orders = ctx.domain.orders.to_list() + [{"id": len(ctx.domain.orders) + 1, "amount": amount}]
    return orders, ctx.domain.total + amount


@process(inputs=["domain.total", "global.discount"], outputs=["domain.total"])
def apply_discount(ctx):
    """Take the VIP discount off the total."""
    return ctx.domain.total - ctx.global_.discount


@process(inputs=["domain.total"], outputs=[])
def notify(ctx):
    """Queue a message; it is delivered only after this commit."""
    ctx.outbox.add(OutboxMsg("total", {"total": ctx.domain.total}))


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment(ctx):
    return ctx.domain.counter + 1


def main() -> None:
    engine = TheusEngine(DEFAULT_CONTEXT, retries=100)
    for fn in (add_order, apply_discount, notify, increment):
        engine.register(fn)
    print(f"state v{engine.state.version}: {engine.state.domain.to_dict()}")

    executed = engine.execute_workflow(DEFAULT_WORKFLOW)
    print(f"workflow 'order_flow' ran: {', '.join(executed)}")
    for e in engine.last_run.trace:
        print(f"  line {e.line:2}  {e.kind:<8} {e.step:<40} -> {e.outcome:<5} v{e.version_before}->v{e.version_after}")
    snap = engine.state
    print(f"state v{snap.version}: total={snap.domain.total}, orders={snap.domain.orders.to_list()}")

    engine.process_outbox(lambda m: print(f"delivered after commit: {m.topic} {m.payload}"))

    threads = [threading.Thread(target=lambda: [engine.execute(increment) for _ in range(250)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"4 threads x 250 increments with compare-and-swap retries: counter={engine.state.domain.counter}")

    try:
        engine.compare_and_swap(0, {"domain.total": 0})
    except TransactionError as e:
        print(f"a stale write is rejected: read v{e.expected_version}, now v{e.actual_version}, conflicts {list(e.conflicts)}")
    print(f"history keeps the last {len(engine.history())} commits; the newest by {engine.history()[-1].process}")


if __name__ == "__main__":
    main()
