"""Typed state: the cost of schema validation per commit. The same commits on an engine with
schema={"domain": Order} beside an engine without a schema, same state, same run."""

from __future__ import annotations

from common import header, per_op, row
from pydantic import BaseModel, Field

from theus import TheusEngine, process


class Line(BaseModel):
    sku: str
    qty: int = Field(ge=0)


class Order(BaseModel):
    counter: int = 0
    status: str = "new"
    lines: dict[str, Line] = {}


CONTEXT = {"domain": {"counter": 0, "status": "new", "lines": {"a": {"sku": "A", "qty": 1}}}}


@process(inputs=["domain.counter"], outputs=["domain.counter"])
def increment(ctx):
    return ctx.domain.counter + 1


@process(inputs=["domain.lines.{line}"], outputs=["domain.lines.{line}"])
def relabel(ctx, line):
    return {"sku": ctx.domain.lines[line].sku, "qty": ctx.domain.lines[line].qty + 1}


def engines() -> tuple[TheusEngine, TheusEngine]:
    plain = TheusEngine(CONTEXT)
    typed = TheusEngine(CONTEXT, schema={"domain": Order})
    for e in (plain, typed):
        e.register(increment)
        e.register(relabel)
    return plain, typed


def main() -> None:
    header("commit with schema= vs without, same commit")
    plain, typed = engines()

    def execute_on(engine):
        def run(n: int) -> None:
            execute = engine.execute
            for _ in range(n):
                execute(increment)
        return run

    def keyed_on(engine):
        def run(n: int) -> None:
            execute = engine.execute
            for _ in range(n):
                execute(relabel, line="a")
        return run

    def update_on(engine):
        def run(n: int) -> None:
            update = engine.update
            for i in range(n):
                update({"domain.status": "paid" if i & 1 else "new"})
        return run

    def zone_on(engine):
        value = {"counter": 1, "status": "new", "lines": {"a": {"sku": "A", "qty": 1}}}

        def run(n: int) -> None:
            update = engine.update
            for _ in range(n):
                update({"domain": value})
        return run

    for name, make, n in (
        ("execute, int field", execute_on, 20_000),
        ("execute, keyed dict[str, Line] entry", keyed_on, 20_000),
        ("update, str field", update_on, 20_000),
        ("update, whole zone (model validated)", zone_on, 10_000),
    ):
        t_typed = per_op(make(typed), n)
        t_plain = per_op(make(plain), n)
        row(f"{name}, schema", t_typed, "same, no schema", t_plain)


if __name__ == "__main__":
    main()
