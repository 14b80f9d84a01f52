"""The heavy zone: committing and reading a 500 MB array through the public API costs the same
as a 1 KB one (no copy), against copy.deepcopy of the 500 MB array, what a design copying on
commit would pay at least."""

from __future__ import annotations

import copy

import numpy as np
from common import header, per_op, row

from theus import TheusEngine, process


@process(outputs=["heavy.x"])
def write(ctx, value):
    return value


SEEN: list = [None]


@process(inputs=["heavy.x"])
def read(ctx):
    SEEN[0] = ctx.heavy.x.shape


def commit_and_read(engine: TheusEngine, value):
    def run(n: int) -> None:
        for _ in range(n):
            engine.execute(write, value=value)
            engine.execute(read)

    return run


def main() -> None:
    header("heavy zone: engine.execute of a process writing heavy.x, then one reading it")
    big = np.ones(500 * 2**20 // 8)  # 500 MB, pages touched
    small = np.ones(1024 // 8)  # 1 KB
    e_big = TheusEngine(context={"heavy": {"x": None}})
    e_small = TheusEngine(context={"heavy": {"x": None}})
    for e in (e_big, e_small):
        e.register(write)
        e.register(read)
    t_big = per_op(commit_and_read(e_big, big), 1000)
    t_small = per_op(commit_and_read(e_small, small), 1000)
    t_deep = per_op(lambda n: [copy.deepcopy(big) for _ in range(n)], 1, repeats=3)
    row("commit + read, 500 MB array", t_big, "commit + read, 1 KB array", t_small, "(target <= 2x)")
    row("commit + read, 500 MB array", t_big, "copy.deepcopy of the 500 MB array", t_deep,
        f"(a copying design pays the baseline; it is {t_deep / t_big:,.0f}x slower)")


if __name__ == "__main__":
    main()
